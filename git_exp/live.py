"""git_exp.live: metrics, params and images from a training script, as it runs.

    from git_exp.live import Live

    with Live() as live:                      # writes under ./live/
        live.log_param("optimizer", "sgd")
        for epoch in range(epochs):
            ...
            live.log_metric("loss", loss)
            live.log_metric("test/acc", acc)  # a slash makes a group: {"test": {"acc": ...}}
            live.next_step()

Layout of the folder (default `live`, relative to the current directory):

    metrics.json               the latest value of every metric, and "step"
    params.json                what log_param recorded
    plots/metrics/NAME.tsv     one row per step a metric was logged: step<TAB>NAME
                               (test/acc -> plots/metrics/test/acc.tsv, column acc)
    plots/images/NAME.png      what log_image recorded

Every file is written whole to a temporary name in the same folder and
renamed into place, at each step: a reader - `git exp show` listing the
run in progress, `git exp plots`, a notebook - or a SIGKILL at any moment
sees either the previous step or the new one, never half a file. The
history files are rewritten whole, and on ext4 replacing a file by rename
writes its data out, so a step costs up to a few milliseconds per metric
logged in it on a slow disk (bench/bench_live.py): log a step per epoch or
every few hundred batches, not every batch of a long run.

It works with or without git-exp: a plain `python train.py` writes the same
files. In exp.yaml, declare them so every experiment records them and
`git exp show` and `git exp plots` read them:

    metrics:
    - live/metrics.json: {cache: false}
    plots:
    - live/plots/metrics: {cache: false, x: step}

Only the standard library is used, and only `os` at import time: a training
script pays nothing for importing it.
"""
from __future__ import annotations

import os

__all__ = ["Live"]

DEFAULT_DIR = "live"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SEPARATOR_CHARS = "\t\r\n"


class Live:
    """A logger writing DIR's files at each step; see the module's docstring.

    RESUME continues the history already in DIR (its step, rows and
    params) instead of starting afresh; without it, the files an earlier
    run left there (metrics.json, params.json, plots/metrics/, plots/images/)
    are removed first, so curves of two runs never mix.
    """

    def __init__(self, dir: str = DEFAULT_DIR, resume: bool = False):
        self.dir = os.fspath(dir)
        self.step = 0
        self._latest: dict[str, object] = {}          # metric name -> latest value
        self._history: dict[str, bytearray] = {}      # metric name -> the TSV file's bytes
        self._pending: dict[str, int | float] = {}    # logged since the last step was written
        self._params: dict[str, object] = {}
        self._dirty = False
        os.makedirs(self.dir, exist_ok=True)
        if resume:
            self._resume()
        else:
            self._clear()

    # -- context manager -----------------------------------------------------------

    def __enter__(self) -> "Live":
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()

    # -- logging ----------------------------------------------------------------------

    def log_param(self, name: str, value: object) -> None:
        """Record a param (any JSON value) in params.json, written at once."""
        _check_name(name)
        self._params[name] = _json_value(value, name)
        self._write_json("params.json", _nest(self._params))

    def log_params(self, values: dict) -> None:
        """log_param for each item of VALUES, written once."""
        for name, value in values.items():
            _check_name(name)
            self._params[name] = _json_value(value, name)
        self._write_json("params.json", _nest(self._params))

    def log_metric(self, name: str, value: object, plot: bool = True) -> None:
        """Set metric NAME for the current step; written by next_step() (or end()).

        PLOT=False keeps it out of the history (metrics.json only).
        """
        _check_name(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if hasattr(value, "item"):   # a NumPy or PyTorch scalar, without importing either
                value = value.item()
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"metric {name!r} must be a number, not {type(value).__name__}")
        self._latest[name] = value
        if plot:
            self._pending[name] = value
        self._dirty = True

    def log_image(self, name: str, image: object) -> str:
        """Write a PNG to plots/images/NAME (".png" added when NAME has no suffix).

        IMAGE is the PNG's bytes, the path of a PNG file, a PIL image or a
        Matplotlib figure. Returns the path written.
        """
        _check_name(name)
        if not name.lower().endswith(".png"):
            if "." in name.rsplit("/", 1)[-1]:
                raise ValueError(f"image {name!r}: only PNG images are written; name it NAME.png")
            name += ".png"
        data = _png_bytes(image, name)
        path = os.path.join(self.dir, "plots", "images", *name.split("/"))
        _write_atomic(path, data)
        return path

    def next_step(self) -> None:
        """Write this step (history rows, metrics.json) and move on to the next one."""
        self._write_step()
        self.step += 1

    def end(self) -> None:
        """Write what was logged since the last step; called on leaving `with`."""
        if self._dirty:
            self._write_step()

    @property
    def summary(self) -> dict:
        """What metrics.json holds: the latest values (nested by '/') and the step."""
        out = _nest(self._latest)
        out["step"] = self.step
        return out

    # -- files -------------------------------------------------------------------------

    def _write_step(self) -> None:
        for name, value in self._pending.items():
            content = self._history.get(name)
            if content is None:
                content = self._history[name] = bytearray(f"step\t{_column(name)}\n".encode("utf-8"))
            content += f"{self.step}\t{_number_text(value)}\n".encode("ascii")
            _write_atomic(self._history_path(name), content)
        self._pending.clear()
        self._write_json("metrics.json", self.summary)
        self._dirty = False

    def _history_path(self, name: str) -> str:
        return os.path.join(self.dir, "plots", "metrics", *name.split("/")) + ".tsv"

    def _write_json(self, relname: str, value: object) -> None:
        import json   # here, not at import: json pulls in re, which costs milliseconds
        text = json.dumps(value, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
        _write_atomic(os.path.join(self.dir, relname), text.encode("utf-8"))

    def _clear(self) -> None:
        for relname in ("metrics.json", "params.json"):
            _remove_file(os.path.join(self.dir, relname))
        for sub, suffix in (("metrics", ".tsv"), ("images", ".png")):
            for folder, _dirs, files in os.walk(os.path.join(self.dir, "plots", sub)):
                for name in files:
                    if name.endswith(suffix) or _is_temp(name):
                        _remove_file(os.path.join(folder, name))
        for folder, _dirs, files in os.walk(self.dir):
            for name in files:
                if _is_temp(name):
                    _remove_file(os.path.join(folder, name))

    def _resume(self) -> None:
        import json
        try:
            with open(os.path.join(self.dir, "metrics.json"), encoding="utf-8") as fh:
                summary = json.load(fh)
        except (OSError, ValueError):
            summary = None
        if isinstance(summary, dict):
            step = summary.pop("step", None)
            if isinstance(step, int) and not isinstance(step, bool) and step >= 0:
                self.step = step + 1
            self._latest = {k: v for k, v in _flatten(summary).items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)}
        try:
            with open(os.path.join(self.dir, "params.json"), encoding="utf-8") as fh:
                params = json.load(fh)
            if isinstance(params, dict):
                self._params = _flatten(params)
        except (OSError, ValueError):
            pass
        top = os.path.join(self.dir, "plots", "metrics")
        for folder, _dirs, files in os.walk(top):
            for file in files:
                if not file.endswith(".tsv") or _is_temp(file):
                    continue
                path = os.path.join(folder, file)
                name = os.path.relpath(path, top)[:-4].replace(os.sep, "/")
                with open(path, "rb") as fh:
                    content = fh.read()
                if b"\n" in content:   # whole lines only
                    self._history[name] = bytearray(content[:content.rindex(b"\n") + 1])


# -- helpers ------------------------------------------------------------------------------

def _check_name(name: object) -> None:
    """NAME becomes a path under DIR: plain parts only, never leaving it."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a name must be a non-empty string, not {name!r}")
    for part in name.split("/"):
        if part in ("", ".", "..") or "\\" in part or "\0" in part or part.startswith(".") \
                or any(c in part for c in _SEPARATOR_CHARS):
            raise ValueError(f"invalid name {name!r}: use letters, digits, '-', '_' and '/' "
                             "between parts")


def _column(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _number_text(value: int | float) -> str:
    if isinstance(value, float):
        return repr(value)    # shortest text that reads back as the same float; nan, inf as such
    return str(int(value))


def _json_value(value: object, name: str) -> object:
    """VALUE as strict JSON holds it: non-finite floats become null, tuples lists."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v, name) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v, name) for k, v in value.items()}
    if hasattr(value, "item"):
        return _json_value(value.item(), name)
    raise TypeError(f"param {name!r}: {type(value).__name__} is not a JSON value")


def _nest(flat: dict) -> dict:
    """{"test/acc": 1} -> {"test": {"acc": 1}}, values made strict JSON."""
    out: dict = {}
    for name, value in flat.items():
        *groups, last = name.split("/")
        node = out
        for group in groups:
            child = node.get(group)
            if not isinstance(child, dict):
                child = node[group] = {}
            node = child
        node[last] = _json_value(value, name)
    return out


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "/"))
        else:
            out[name] = value
    return out


def _png_bytes(image: object, name: str) -> bytes:
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    elif isinstance(image, (str, os.PathLike)):
        with open(image, "rb") as fh:
            data = fh.read()
    else:
        import io
        buffer = io.BytesIO()
        if hasattr(image, "savefig"):      # a Matplotlib figure
            image.savefig(buffer, format="png")
        elif hasattr(image, "save"):       # a PIL image
            image.save(buffer, format="PNG")
        else:
            raise TypeError(f"image {name!r}: give PNG bytes, a file path, a PIL image or a "
                            f"Matplotlib figure, not {type(image).__name__}")
        data = buffer.getvalue()
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"image {name!r} is not a PNG")
    return data


def _is_temp(filename: str) -> bool:
    return filename.startswith(".") and filename.endswith(".live-tmp")


def _write_atomic(path: str, data: bytes | bytearray) -> None:
    """PATH holds DATA whole, or what it held before: a temp file beside it, then rename."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.live-tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except FileNotFoundError:   # its folder is new: made once, not checked at every step
        os.makedirs(folder, exist_ok=True)
        fd = os.open(tmp, flags, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _remove_file(path: str) -> None:
    try:
        if not os.path.islink(path) and os.path.isfile(path):
            os.unlink(path)
    except FileNotFoundError:
        pass
