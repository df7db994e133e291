"""The checker behind spec.py: exp.yaml's YAML tree turned into records.py's
Pipeline, stage by stage, with foreach/matrix expanded and `${...}` resolved
(template.py).

Checking is strict and every error says where: the file, line and column of
the offending key or value, what is wrong and what is allowed (with a
"did you mean" for a misspelt key).
"""
from __future__ import annotations

import itertools
import posixpath
import re

from git_exp.errors import ExpError
from git_exp.pipeline.paths import normalize
from git_exp.names import PARAMS_FILE as DEFAULT_PARAMS
from git_exp.pipeline.records import OUT_OPTIONS, PLOT_PROPS, STAGE_KEYS, TOP_KEYS, Output, Pipeline, Stage
from git_exp.pipeline.template import Resolver
from git_exp.pipeline.template_vars import Context, kind_of, parse_data_file, scalar_text
from git_exp.pipeline.yamlsrc import Mark, YDict, load as load_yaml, mark_of

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Any

    from git_exp.pipeline.records import Reader

    # Stages a stage entry makes: (name, body, local variables: foreach/matrix's item and key).
    Generated = list[tuple[str, YDict, dict]]

_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")
# Output kinds by the stage key that declares them; only plain outs are cached by default,
# so metrics and plots stay in Git where `git diff` and `exp show` can read them.
_KINDS = {"outs": "out", "metrics": "metric", "plots": "plot"}


def _suggest(word: object, allowed: tuple[str, ...]) -> str:
    import difflib   # only for the error's suggestion: not on every run's path
    # Two letters swapped ('dpes') first: difflib scores 'desc' as close as 'deps'.
    close = [a for a in allowed if sorted(a) == sorted(str(word))][:1] \
        or difflib.get_close_matches(str(word), list(allowed), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class PipelineParser:
    """One parse of one pipeline file RELPATH under ROOT; READ gives the files it names."""

    def __init__(self, root: str, relpath: str, read: Reader, check_links: bool) -> None:
        self.root = root
        self.relpath = relpath
        self.read = read
        self.check_links = check_links
        self.base = posixpath.dirname(relpath) or "."
        self.default_params = posixpath.normpath(posixpath.join(self.base, DEFAULT_PARAMS))
        self.context = Context()
        self.stages: dict[str, Stage] = {}
        self.checked: list | None = None    # paths given to the symlink check, if wanted

    # ------------------------------------------------------------- top level

    def parse(self, text: str) -> Pipeline:
        doc = load_yaml(text, self.relpath)
        if doc is None:
            raise ExpError(f"{self.relpath}:1:1: the pipeline file is empty",
                           hint="declare a stage, e.g. 'stages: {train: {cmd: python train.py}}', "
                                "or run 'git exp init'")
        if not isinstance(doc, YDict):
            raise ExpError(f"{getattr(doc, 'mark', Mark(self.relpath, 1, 1))}: "
                           f"{self.relpath} must be a mapping with keys such as 'stages', "
                           f"got {kind_of(doc)}",
                           hint="start the file with 'stages:'")
        for key in doc:
            if key not in TOP_KEYS:
                raise ExpError(f"{doc.key_mark(key)}: unknown top-level key '{key}'{_suggest(key, TOP_KEYS)}",
                               hint=f"allowed keys: {', '.join(TOP_KEYS)}")
        # params.yaml is read only when something could use it: `exp show`
        # parses exp.yaml of many commits and most have no templating at all.
        if "${" in text:
            self._load_default_params()
        if "vars" in doc:
            self.context.load_vars(doc["vars"], self.base, self.read, doc.value_mark("vars"))

        params_files = [self._path(p, self.base, "params file", mark)
                        for p, mark in self._list(doc, "params", "the top level", "file names")]
        metrics = [self._output(entry, mark, "metric", self.base, "the top level")
                   for entry, mark in self._list(doc, "metrics", "the top level", "paths")]
        plots = [self._output(entry, mark, "plot", self.base, "the top level")
                 for entry, mark in self._list(doc, "plots", "the top level", "paths")]

        stages = doc.get("stages")
        if stages is not None and not isinstance(stages, YDict):
            raise ExpError(f"{doc.value_mark('stages')}: 'stages' must be a mapping of stage names "
                           f"to stages, got {kind_of(stages)}",
                           hint="write 'stages:' then each stage name indented below it")
        if stages is not None:
            for name, body in stages.items():
                self._stage_entry(name, body, stages)

        for stage in self.stages.values():
            params_files.extend(stage.params)
            metrics.extend(stage.metrics)
            plots.extend(stage.plots)
        return Pipeline(path=self.relpath, stages=dict(self.stages),
                        params_files=list(dict.fromkeys(params_files)),
                        metrics=_one_per_path(metrics), plots=_one_per_path(plots))

    def _load_default_params(self) -> None:
        text = self.read(self.default_params)
        if text is None:
            return
        data = parse_data_file(text, self.default_params)
        self.context.merge(data, self.default_params, Mark(self.default_params, 1, 1))
        self.context.files.add(self.default_params)

    # ---------------------------------------------------------------- stages

    def _stage_entry(self, name: object, body: object, stages: YDict) -> None:
        mark = stages.key_mark(name)
        if not isinstance(name, str):
            raise ExpError(f"{mark}: stage name {name!r} is {kind_of(name)}, not text",
                           hint="quote the name: YAML reads on/off/yes/no and numbers as values")
        if "@" in name:
            raise ExpError(f"{mark}: invalid stage name '{name}': '@' is reserved for stages "
                           "made by foreach and matrix", hint="use letters, digits, '_' and '-'")
        if not _NAME.match(name):
            raise ExpError(f"{mark}: invalid stage name '{name}'",
                           hint="use letters, digits, '_' and '-'")
        if not isinstance(body, YDict):
            hint = ("write the command under the stage as 'cmd: ...'" if isinstance(body, str)
                    else "give the stage keys such as 'cmd', 'deps' and 'outs'")
            raise ExpError(f"{stages.value_mark(name)}: stage '{name}' must be a mapping, "
                           f"got {kind_of(body)}", hint=hint)
        generated: Generated
        if "foreach" in body:
            generated = self._foreach(name, body)
        elif "matrix" in body:
            generated = self._matrix(name, body)
        elif "do" in body:
            raise ExpError(f"{body.key_mark('do')}: stage '{name}' has 'do' but no 'foreach'",
                           hint="add 'foreach: <list or mapping>' next to 'do', "
                                "or move the keys under 'do' up into the stage")
        else:
            generated = [(name, body, {})]
        for full_name, stage_body, local in generated:
            if full_name in self.stages:
                first = self.stages[full_name].location
                raise ExpError(f"{mark}: stage '{full_name}' is defined twice "
                               f"(first at line {first[1]}, column {first[2]})",
                               hint="give every stage, and every foreach/matrix item, its own name")
            self.stages[full_name] = self._stage(full_name, stage_body, local, mark)

    def _foreach(self, name: str, body: YDict) -> Generated:
        for key in body:
            if key not in ("foreach", "do"):
                raise ExpError(f"{body.key_mark(key)}: unknown key '{key}' next to 'foreach' in "
                               f"stage '{name}'", hint="a foreach stage has only 'foreach' and 'do'; "
                                                       "put 'cmd', 'deps', 'outs'... under 'do'")
        if "do" not in body:
            raise ExpError(f"{body.key_mark('foreach')}: stage '{name}' has 'foreach' but no 'do'",
                           hint="add 'do:' with the stage's keys (cmd, deps, outs...) using ${item}")
        do = body["do"]
        if not isinstance(do, YDict):
            raise ExpError(f"{body.value_mark('do')}: 'do' in stage '{name}' must be a mapping of "
                           f"stage keys, got {kind_of(do)}", hint="for example: do: {cmd: python train.py ${item}}")
        where = body.value_mark("foreach")
        items = Resolver(self.context, track=False).resolve(body["foreach"], where)
        if isinstance(items, dict):
            return [(f"{name}@{scalar_text(key)}", do, {"item": value, "key": key})
                    for key, value in items.items()]
        if isinstance(items, list):
            if any(isinstance(item, (dict, list)) for item in items):
                return [(f"{name}@{index}", do, {"item": item}) for index, item in enumerate(items)]
            seen: dict[str, int] = {}
            for index, item in enumerate(items):
                label = scalar_text(item)
                if label in seen:
                    raise ExpError(f"{mark_of(items, index, where)}: 'foreach' in stage '{name}' "
                                   f"lists '{label}' twice, which would make two stages '{name}@{label}'",
                                   hint="list each value once")
                seen[label] = index
            return [(f"{name}@{scalar_text(item)}", do, {"item": item}) for item in items]
        raise ExpError(f"{where}: 'foreach' in stage '{name}' must be a list or a mapping, "
                       f"got {kind_of(items)}",
                       hint="write a list, a mapping, or ${name} of a list or mapping in params.yaml or vars")

    def _matrix(self, name: str, body: YDict) -> Generated:
        where = body.value_mark("matrix")
        resolver = Resolver(self.context, track=False)
        matrix = resolver.resolve(body["matrix"], where)
        if not isinstance(matrix, dict) or not matrix:
            got = kind_of(matrix) if not isinstance(matrix, dict) else "an empty mapping"
            raise ExpError(f"{where}: 'matrix' in stage '{name}' must be a mapping of names to lists "
                           f"of values, got {got}",
                           hint="for example: matrix: {lr: [0.1, 0.01], model: [small, large]}")
        axes = []
        for axis, values in matrix.items():
            if not isinstance(values, list):
                # A matrix from ${...} is a plain mapping: no marks of its own.
                at = matrix.value_mark(axis) if isinstance(matrix, YDict) else where
                raise ExpError(f"{at}: '{axis}' in the matrix of stage '{name}' "
                               f"must be a list of values, got {kind_of(values)}",
                               hint=f"for example: {axis}: [a, b]")
            axes.append((axis, values))
        stage_body = YDict(body.mark)
        for key, value in body.items():
            if key != "matrix":
                stage_body[key] = value
                stage_body.key_marks[key] = body.key_mark(key)
                stage_body.value_marks[key] = body.value_mark(key)
        generated: Generated = []
        for combination in itertools.product(*(enumerate(values) for _, values in axes)):
            item, labels = {}, []
            for (axis, _), (index, value) in zip(axes, combination):
                item[axis] = value
                # DVC's naming: the value itself, or axis+index for a list/mapping value.
                labels.append(f"{axis}{index}" if isinstance(value, (dict, list)) else scalar_text(value))
            key = "-".join(labels)
            generated.append((f"{name}@{key}", stage_body, {"item": item, "key": key}))
        return generated

    def _stage(self, name: str, body: YDict, local: dict, mark: Mark) -> Stage:
        for key in body:
            if key not in STAGE_KEYS:
                extra = (" ('foreach'/'matrix' go at the stage's top level, not under 'do')"
                         if key in ("foreach", "matrix", "do") else _suggest(key, STAGE_KEYS))
                raise ExpError(f"{body.key_mark(key)}: unknown key '{key}' in stage '{name}'{extra}",
                               hint=f"allowed keys: {', '.join(STAGE_KEYS)}")
        resolver = Resolver(self.context, local)
        wdir = self.base
        if body.get("wdir") is not None:
            where = body.value_mark("wdir")
            value = resolver.resolve(body["wdir"], where)
            if not isinstance(value, str):
                raise ExpError(f"{where}: 'wdir' in stage '{name}' must be a folder path, "
                               f"got {kind_of(value)}", hint="write 'wdir: FOLDER', relative to exp.yaml")
            wdir = self._path(value, self.base, "wdir", where, f"stage '{name}'")
        if body.get("vars") is not None:
            context = self.context.child()
            context.load_vars(body["vars"], wdir, self.read, body.value_mark("vars"))
            used, resolver = resolver.used, Resolver(context, local)
            resolver.used.extend(used)
        if body.get("cmd") is None:
            if "cmd" in body:
                raise ExpError(f"{body.value_mark('cmd')}: 'cmd' in stage '{name}' is empty",
                               hint="give the command to run, e.g. 'cmd: python train.py'")
            raise ExpError(f"{mark}: stage '{name}' has no 'cmd'",
                           hint="add 'cmd: <command to run>' to the stage")
        owner = f"stage '{name}'"
        cmd = self._cmd(resolver.resolve(body["cmd"], body.value_mark("cmd"), cmd=True),
                        body.value_mark("cmd"), owner)
        values = {key: resolver.resolve(body[key], body.value_mark(key))
                  for key in ("deps", "params", "outs", "metrics", "plots", "frozen",
                              "always_changed", "desc") if key in body}
        deps = [self._path(p, wdir, "dep", m, owner)
                for p, m in self._list(values, "deps", owner, "paths", body)]
        params = self._params(values, wdir, owner, body)
        outs = [self._output(entry, m, _KINDS[key], wdir, owner)
                for key in ("outs", "metrics", "plots")
                for entry, m in self._list(values, key, owner, "paths", body)]
        for source, key in resolver.used:
            if source == self.default_params:
                _add_param(params, source, key)
        return Stage(name=name, cmd=cmd, wdir=wdir, deps=list(dict.fromkeys(deps)), params=params,
                     outs=outs, frozen=self._bool(values, "frozen", owner, body),
                     always_changed=self._bool(values, "always_changed", owner, body),
                     desc=self._text(values, "desc", owner, body), location=mark.location)

    # ------------------------------------------------------------ value shapes

    def _cmd(self, value: object, where: Mark, owner: str) -> list:
        commands = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not value:
            raise ExpError(f"{where}: 'cmd' in {owner} is an empty list",
                           hint="give at least one command")
        for index, command in enumerate(commands):
            at = mark_of(value, index, where) if isinstance(value, list) else where
            if not isinstance(command, str):
                raise ExpError(f"{at}: 'cmd' in {owner} must be a command or a list of commands, "
                               f"got {kind_of(command)}",
                               hint="quote it if it should be text, e.g. cmd: \"python train.py\"")
            if not command.strip():
                raise ExpError(f"{at}: 'cmd' in {owner} is empty",
                               hint="give the command to run, e.g. 'cmd: python train.py'")
        return list(commands)

    def _list(self, values: dict, key: str, owner: str, of: str,
              marks: YDict | None = None) -> list[tuple[object, Mark]]:
        """(item, mark) pairs of the list VALUES[KEY]; a missing or null value is empty."""
        value = values.get(key)
        if value is None:
            return []
        # VALUES has its own marks when MARKS is not given.
        where = (marks if marks is not None else values).value_mark(key)   # type: ignore[attr-defined]
        if not isinstance(value, list):
            raise ExpError(f"{where}: '{key}' in {owner} must be a list of {of}, got {kind_of(value)}",
                           hint=f"write '{key}: [a, b]' or one '- item' per line")
        return [(item, mark_of(value, index, where)) for index, item in enumerate(value)]

    def _bool(self, values: dict, key: str, owner: str, marks: YDict) -> bool:
        value = values.get(key, False)
        if not isinstance(value, bool):
            raise ExpError(f"{marks.value_mark(key)}: '{key}' in {owner} must be true or false, "
                           f"got {kind_of(value)}", hint=f"write '{key}: true' or '{key}: false'")
        return value

    def _text(self, values: dict, key: str, owner: str, marks: YDict) -> str | None:
        value = values.get(key)
        if value is not None and not isinstance(value, str):
            raise ExpError(f"{marks.value_mark(key)}: '{key}' in {owner} must be text, "
                           f"got {kind_of(value)}", hint=f"quote it: {key}: \"...\"")
        return value

    def _path(self, value: object, wdir: str, what: str, where: Mark, owner: str = "") -> str:
        if not isinstance(value, str):
            of = f" of {owner}" if owner else ""
            raise ExpError(f"{where}: {what}{of} must be a path, got {kind_of(value)}",
                           hint="quote it if it should be text")
        try:
            path = normalize(value, wdir, self.root, what, where, check_links=self.check_links,
                             owner=owner)
        except ExpError:
            if self.checked is not None:
                self.checked.append(None)   # we cannot tell which folders it checked
            raise
        if self.checked is not None and self.check_links:
            self.checked.append(path)
        return path

    def _params(self, values: dict, wdir: str, owner: str, body: YDict) -> dict:
        params: dict = {}
        default = posixpath.normpath(posixpath.join(wdir, DEFAULT_PARAMS))
        for entry, where in self._list(values, "params", owner, "keys and files", body):
            if isinstance(entry, str):
                _add_param(params, default, entry)
                continue
            if not isinstance(entry, dict):
                raise ExpError(f"{where}: each entry of 'params' in {owner} must be a key of "
                               f"{DEFAULT_PARAMS} or 'file: [keys]', got {kind_of(entry)}",
                               hint="quote it if it should be a key name")
            for name, keys in entry.items():
                key_where = entry.key_mark(name) if isinstance(entry, YDict) else where
                path = self._path(name, wdir, "params file", key_where, owner)
                if keys is None or keys == []:
                    params[path] = None  # the whole file
                    continue
                if not isinstance(keys, list):
                    raise ExpError(f"{mark_of(entry, name, where)}: keys of '{name}' in {owner} "
                                   f"must be a list, got {kind_of(keys)}",
                                   hint=f"write '{name}: [key1, key2]', or '{name}:' alone for the whole file")
                for index, key in enumerate(keys):
                    if not isinstance(key, str):
                        raise ExpError(f"{mark_of(keys, index, where)}: a key of '{name}' in {owner} "
                                       f"must be text, got {kind_of(key)}",
                                       hint="write the key's dotted path, such as train.lr")
                    _add_param(params, path, key)
        return params

    def _output(self, entry: object, where: Mark, kind: str, wdir: str, owner: str) -> Output:
        section = {"out": "outs", "metric": "metrics", "plot": "plots"}[kind]
        options: dict = {}
        raw = entry
        options_where = where
        if isinstance(entry, dict):
            if len(entry) != 1:
                raise ExpError(f"{where}: each entry of '{section}' in {owner} is a path or "
                               f"'path: {{options}}', got a mapping with {len(entry)} keys",
                               hint="put each path in its own list item ('- path: {...}')")
            raw = next(iter(entry))
            where = entry.key_mark(raw) if isinstance(entry, YDict) else where
            options_where = mark_of(entry, raw, where)
            options = entry[raw] if entry[raw] is not None else {}
            if not isinstance(options, dict):
                raise ExpError(f"{options_where}: options of '{raw}' in {owner} must be a mapping, "
                               f"got {kind_of(options)}", hint="for example: {cache: false}")
        elif not isinstance(entry, str):
            raise ExpError(f"{where}: each entry of '{section}' in {owner} must be a path, "
                           f"got {kind_of(entry)}", hint="quote it if it should be a path")
        allowed = OUT_OPTIONS + (PLOT_PROPS if kind == "plot" else ())
        for key, value in options.items():
            at = options.key_mark(key) if isinstance(options, YDict) else options_where
            if key not in allowed:
                raise ExpError(f"{at}: unknown option '{key}' for '{raw}' in {owner}{_suggest(key, allowed)}",
                               hint=f"allowed options: {', '.join(allowed)}")
            _check_option(key, value, mark_of(options, key, at), raw, owner)
        path = self._path(raw, wdir, kind, where, owner)
        # _path refuses a RAW that is no text, so the isinstance below never decides anything.
        written_as_dir = isinstance(raw, str) and raw.endswith("/")
        if path == ".":
            raise ExpError(f"{where}: {kind} '{raw}' of {owner} is the whole repository",
                           hint="name the file or folder the stage writes")
        plot = {k: options[k] for k in PLOT_PROPS if k in options} if kind == "plot" else {}
        if isinstance(plot.get("y"), dict):  # {file: field}: files relative to wdir, like the path
            plot["y"] = {self._path(f, wdir, "plot file", options_where, owner): v
                         for f, v in plot["y"].items()}
        return Output(path=path, kind=kind, cache=options.get("cache", kind == "out"),
                      persist=options.get("persist", False), is_dir_hint=written_as_dir,
                      plot=_plain(plot), desc=options.get("desc"), location=where.location)


def _check_option(key: str, value: object, where: Mark, path: object, owner: str) -> None:
    if key in ("cache", "persist"):
        ok, want = isinstance(value, bool), "true or false"
    elif key == "y":
        ok = isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)) or (
            isinstance(value, dict) and all(isinstance(v, (str, list)) for v in value.values()))
        want = "a field name, a list of them, or a mapping of file to fields"
    elif key == "x":
        ok = isinstance(value, str) or (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values()))
        want = "a field name"
    else:
        ok, want = isinstance(value, str), "text"
    if not ok:
        raise ExpError(f"{where}: option '{key}' of '{path}' in {owner} must be {want}, "
                       f"got {kind_of(value)}",
                       hint=f"write '{key}: true' or '{key}: false'" if want == "true or false"
                       else f"give '{key}' {want}")


def _add_param(params: dict, path: str, key: str) -> None:
    """Track KEY of PATH, unless the whole file, the key or a parent key already is."""
    if path in params and params[path] is None:
        return
    keys = params.setdefault(path, [])
    if any(key == k or key.startswith(k + ".") for k in keys):
        return
    keys.append(key)


def _one_per_path(outputs: list) -> list:
    seen: dict[str, Output] = {}
    for output in outputs:
        seen.setdefault(output.path, output)
    return list(seen.values())


def _plain(value: Any) -> Any:   # a YAML value; the result has its shape (a dict for a dict)
    """YDict/YList turned back into dict/list, for records handed to other modules."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
