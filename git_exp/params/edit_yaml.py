"""Splicing values into YAML text, found with PyYAML's composer and its marks.

What an edit does to each kind of value (the rest of the file is untouched):

- A scalar is replaced in place. Its anchor (&name) stays; an explicit tag
  (!!float) goes, the new value is typed by its own text. A string keeps a
  single- or double-quoted style; a plain string that YAML would misread
  (yes, 2020-01-01, 'a: b') gets quoted. The value text the user typed is
  kept when YAML reads it back as the same value (0.10 stays 0.10), else the
  canonical form is written (1e-3 becomes 0.001: PyYAML reads 1e-3 as a string).
- A flow list or mapping ([1, 2], {a: 1}) is replaced as a whole, in flow style.
- A block list or mapping replaced by a non-empty list or mapping stays in
  block style, one item per line at the old indentation (comments inside the
  old block go with it). Replaced by anything else, the new value moves onto
  the key's line (`layers: 5`), keeping a comment on that line.
- A block scalar (| or >) is replaced by a one-line scalar.
- Adding (+key): a line at the end of the parent mapping, indented like its
  siblings; missing parents become nested block mappings. In a flow mapping
  the entry goes before the closing brace.
- Deleting (~key): the key's lines go, including a comment on them; comment
  lines above and below stay. Deleting the last key of a nested mapping
  leaves `parent: {}`, so the parent survives as an empty mapping.

Anchors and aliases: editing the anchored value is allowed and every alias
follows, as YAML means it. A key whose value is an alias (`lr: *base_lr`) may
be set or deleted: the alias reference itself is replaced. Editing *through*
an alias (train.lr where `train: *defaults`) is refused, naming the anchored
key to edit instead. A key that comes from a merge (`<<: *base`) cannot be set
in place (that would change the base); ++key adds an explicit override.
Files holding several documents (`---`) are refused by the reader.
"""
from __future__ import annotations

import re

import yaml

from git_exp.errors import ExpError
from git_exp.params.edit import (bug, line_end, line_start, nested, remove_lines, same, splice)
from git_exp.params.keys import join_key
from git_exp.params.overrides import Override
from git_exp.params.read import key_text, yaml_error, yaml_loader
from git_exp.params.yaml_tree import Alias, Composer, Step, YamlTree, key_name, unaliased

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads it as True)
if TYPE_CHECKING:
    from git_exp.params.yaml_tree import Node

_COMMENT_TAIL = re.compile(r"[ \t]+#.*$")


def edit(text: str, ov: Override, op: str, source: str) -> tuple[str, list[str]]:
    """TEXT with OV applied (OP is set, add or delete), and the keys that follow it."""
    from git_exp.bounded import compose_yaml
    try:
        root = compose_yaml(text, source, Composer)   # nesting and size bounded
    except yaml.YAMLError as e:
        raise yaml_error(e, source, text) from None
    except RecursionError:
        raise ExpError(f"{source}: nested too deeply") from None
    doc = _Doc(text, root, source)
    parts = ov.parts
    steps = doc.locate(parts)
    if op == "add" or (ov.op == "upsert" and len(steps) == len(parts) and steps[-1].merged):
        # ++key over a merged value adds an explicit key beside the merge.
        depth = len(steps) if op == "add" else len(steps) - 1
        return doc.add(steps[:depth], parts, ov)
    if len(steps) != len(parts):
        raise bug(ov.key, source, "the key was not found in the YAML structure")
    doc.check_owned(steps, parts, ov)
    target = steps[-1].value
    if not isinstance(target, Alias):
        # an anchor that goes away (or is replaced) would leave its aliases dangling
        doc.check_anchors(target, parts, ov, include_self=(op == "delete"))
        merging = doc.merged_into.get(id(target))
        if op == "set" and merging and not isinstance(ov.value, dict):
            where = join_key(merging[0])
            raise ExpError(f"cannot replace {ov.key} in {source}: {where} merges it (<<), "
                           "and only a mapping can be merged",
                           hint=f"set keys inside it instead, such as {ov.key}.KEY=VALUE")
    followers = doc.others(unaliased(target), parts) if not isinstance(target, Alias) else []
    if op == "delete":
        # an explicit key beside a merge (<<) gives way to the merged value
        if not doc.pairs_without(steps[-1].mapping, steps[-1].key).get(parts[-1]):
            return doc.delete(steps), followers
        return doc.delete(steps), followers + [ov.key]
    return doc.set(steps[-1], ov), followers



class _Doc(YamlTree):
    """The YAML text with its tree: where each edit's new text goes."""

    def content_end(self, node: Node) -> int:
        """Where NODE's own text ends: past its last character, before blank lines and comments."""
        if isinstance(node, Alias):
            return node.end_mark.index
        if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
            k, v = node.value[-1]
            return max(self.content_end(k), self.content_end(v))
        if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
            return self.content_end(node.value[-1])
        i = node.end_mark.index
        while i > node.start_mark.index and self.text[i - 1] in " \t\r\n":
            i -= 1
        return i

    def colon_after(self, key: Node) -> int:
        i = self.content_end(key)
        while i < len(self.text) and self.text[i] in " \t":
            i += 1
        if self.text[i:i + 1] != ":":
            raise bug(key_text(key_name(key)), self.source, "no ':' after the key")
        return i

    # -- writing -------------------------------------------------------------------

    def set(self, step: Step, ov: Override) -> str:
        v, text = step.value, self.text
        if isinstance(v, Alias):
            return splice(text, [(v.start_mark.index, v.end_mark.index, self.flow(ov.value, ov))])
        anchor = f"&{v.anchor_name} " if v.anchor_name else ""
        block = (isinstance(v, yaml.ScalarNode) and v.style in ("|", ">")) or (
            isinstance(v, (yaml.MappingNode, yaml.SequenceNode)) and not v.flow_style)
        if block and step.key is None:
            raise ExpError(f"cannot set {ov.key} in {self.source}: the list element is a block "
                           f"{'scalar' if isinstance(v, yaml.ScalarNode) else 'mapping or list'}",
                           hint=f"set the keys inside it ({ov.key}.KEY=VALUE), or the whole list")
        if not block:
            start, end = v.start_mark.index, v.end_mark.index
            new = anchor + self.flow(ov.value, ov, v)
            if start == end:   # `key:` with nothing after the colon
                new = " " + new
            return splice(text, [(start, end, new)])
        key = step.key
        assert key is not None   # a block list element (no key) was refused above
        value = ov.value
        if isinstance(v, yaml.ScalarNode) or not isinstance(value, (list, dict)) or not value:
            # the new value goes onto the key's line; the old block's lines go
            colon = self.colon_after(key)
            tail = text[colon + 1:line_end(text, colon)]
            comment = _COMMENT_TAIL.search(tail)
            new = " " + anchor + self.flow(value, ov, v) + (comment.group(0) if comment else "")
            return splice(text, [(colon + 1, line_end(text, self.content_end(v)), new)])
        # block in, block out: one item per line at the old indentation
        first = v.value[0][0] if isinstance(v, yaml.MappingNode) else v.value[0]
        start = first.start_mark.index
        prefix = text[line_start(text, start):start]
        if prefix.strip(" -") == "":   # only the indentation (and a dash) before the first item
            indent = prefix[:len(prefix) - len(prefix.lstrip(" "))]
        else:
            indent = " " * key.start_mark.column + self.unit
        if isinstance(value, list):
            lines = [f"{indent}- {self.flow(item)}" for item in value]
        else:
            if len(indent) <= key.start_mark.column:
                indent = " " * key.start_mark.column + self.unit
            lines = [f"{indent}{self.key(k)}: {self.flow(item)}" for k, item in value.items()]
        colon = self.colon_after(key)
        return splice(text, [(line_end(text, colon), line_end(text, self.content_end(v)),
                              self.nl + self.nl.join(lines))])

    def delete(self, steps: list[Step]) -> str:
        step, text = steps[-1], self.text
        mapping, k, v = step.mapping, step.key, step.value
        assert k is not None   # ~ of a list element is refused before (params/edit.py)
        if mapping.flow_style:
            return splice(text, [self._flow_removal(mapping, k, v)])
        if len(mapping.value) == 1 and len(steps) > 1:
            # the mapping would become empty, which YAML reads as null: write {}
            parent = steps[-2]
            assert parent.key is not None   # a list element: ~ through a list is refused before (params/edit.py)
            colon = self.colon_after(parent.key)
            tail = text[colon + 1:line_end(text, colon)]
            comment = _COMMENT_TAIL.search(tail)
            anchor = f"&{mapping.anchor_name} " if mapping.anchor_name else ""
            new = f" {anchor}{{}}" + (comment.group(0) if comment else "")
            return splice(text, [(colon + 1, line_end(text, self.content_end(mapping)), new)])
        begin = k.start_mark.index
        if text[line_start(text, begin):begin].strip():
            raise bug(key_name(k) or "?", self.source, "the key does not start its line")
        a, b = remove_lines(text, begin, self.content_end(v))
        return splice(text, [(a, b, "")])

    def _flow_removal(self, mapping: yaml.MappingNode, k: Node, v: Node) -> tuple[int, int, str]:
        pairs = mapping.value
        i = next(n for n, (kk, _) in enumerate(pairs) if kk is k)
        if len(pairs) == 1:
            return k.start_mark.index, self.content_end(v), ""
        if i < len(pairs) - 1:
            return k.start_mark.index, pairs[i + 1][0].start_mark.index, ""
        return self.content_end(pairs[i - 1][1]), self.content_end(v), ""

    def add(self, steps: list[Step], parts: list[str], ov: Override) -> tuple[str, list[str]]:
        key = ov.key
        for i, step in enumerate(steps):
            if step.via_alias is not None or step.merged:
                self.check_owned(steps[:i + 1], parts, ov)
        depth = len(steps)
        parent = steps[-1].value if steps else self.root
        if isinstance(parent, Alias):
            anchor = self.path_of(parent.target)
            raise ExpError(f"cannot add {key} to {self.source}: {join_key(parts[:depth])} is an alias "
                           f"(*{parent.name})",
                           hint=(f"add to {anchor} instead (every alias follows it), or " if anchor
                                 else "") + "replace the alias with a mapping of its own")
        rest = parts[depth:]
        text, nl = self.text, self.nl
        followers = self.others(parent, parts[:depth], tuple(rest)) if parent is not None else []
        if parent is None or (isinstance(parent, yaml.ScalarNode) and depth == 0):
            lines = self._block_lines("", rest, ov)
            if not text:
                return nl.join(lines) + nl, followers
            sep = "" if text.endswith("\n") else nl
            end = nl if text.endswith("\n") else ""
            return text + sep + nl.join(lines) + end, followers
        if not isinstance(parent, yaml.MappingNode):
            raise bug(key, self.source, "the parent is not a mapping")
        if parent.flow_style:
            entry = f"{self.key(rest[0])}: {self.flow(nested(rest[1:], ov.value), ov if len(rest) == 1 else None)}"
            if parent.value:
                at = self.content_end(parent.value[-1][1])
                return splice(text, [(at, at, ", " + entry)]), followers
            at = text.index("{", parent.start_mark.index) + 1
            return splice(text, [(at, at, entry)]), followers
        first = parent.value[0][0]
        lines = self._block_lines(" " * first.start_mark.column, rest, ov)
        last_k, last_v = parent.value[-1]
        at = line_end(text, max(self.content_end(last_k), self.content_end(last_v)))
        return splice(text, [(at, at, nl + nl.join(lines))]), followers

    def _block_lines(self, indent: str, rest: list[str], ov: Override) -> list[str]:
        lines = [f"{indent}{self.unit * i}{self.key(part)}:" for i, part in enumerate(rest[:-1])]
        lines.append(f"{indent}{self.unit * (len(rest) - 1)}{self.key(rest[-1])}: {self.flow(ov.value, ov)}")
        return lines

    # -- value text ---------------------------------------------------------------------

    def key(self, name: str) -> str:
        return _dump_flow(name)

    def flow(self, value: object, ov: Override | None = None, old: Node | None = None) -> str:
        """VALUE as YAML text that is safe anywhere a flow value may stand."""
        if isinstance(value, str) and isinstance(old, yaml.ScalarNode):
            if old.style == "'" and value.isprintable():
                return "'" + value.replace("'", "''") + "'"
            if old.style in ("'", '"'):
                return _dump_flow(value, '"')
        if ov is not None and ov.text and _reads_back(ov.text, value):
            return ov.text
        return _dump_flow(value)



def _dump_flow(value: object, style: str | None = None) -> str:
    # Dumped inside a flow list, so the text is also safe in flow context:
    # 'x]' or 'a, b' come out quoted.
    out = yaml.safe_dump([value], default_flow_style=True, width=float("inf"),
                         allow_unicode=True, sort_keys=False, default_style=style).strip()[1:-1]
    if style is None and not _reads_back(out, value):
        return _dump_flow(value, '"')
    return out


def _reads_back(text: str, value: object) -> bool:
    """Whether TEXT means VALUE both after `key: ` and inside a flow collection."""
    if "\n" in text or "\r" in text:
        return False
    try:
        # `-` alone reads fine in [-] but starts a list after `key: `
        return same(yaml.load(f"[{text}]", Loader=yaml_loader()), [value]) and \
            same(yaml.load(f"k: {text}", Loader=yaml_loader()), {"k": value})
    except yaml.YAMLError:
        return False

