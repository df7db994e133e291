"""The structure of a YAML params file as PyYAML composes it: which node each
key path shows, through anchors, aliases and merge keys (<<).

params/edit_yaml.py edits the text at the marks of these nodes; this module
only reads: it finds the nodes on a key's way (`locate`), every path that
shows a node (an anchored value is seen from each alias and merge), and
refuses an edit that would reach through an alias or into a merged map.
"""
from __future__ import annotations

import yaml

from git_exp.errors import ExpError
from git_exp.params.edit import newline_of
from git_exp.params.keys import index_of, join_key
from git_exp.params.overrides import Override
from git_exp.params.read import key_text

TYPE_CHECKING = False   # typing's, without importing typing on run -S's path (mypy reads it as True)
if TYPE_CHECKING:
    from typing import Iterator, Union

MERGE_TAG = "tag:yaml.org,2002:merge"


class Alias:
    """One `*name` occurrence: where it is written and the node it stands for.

    The composer returns the anchored node object itself for an alias, whose
    marks point at the anchor; we keep the alias's own position instead.
    """

    def __init__(self, target: yaml.Node, start_mark: yaml.Mark, end_mark: yaml.Mark, name: str) -> None:
        self.target = target
        self.start_mark = start_mark
        self.end_mark = end_mark
        self.name = name


if TYPE_CHECKING:
    # A node of the composed tree: PyYAML's own, or an Alias standing where `*name` is written.
    # (PyYAML ships no type hints: mypy reads yaml.Node as Any unless types-PyYAML is installed.)
    Node = Union[yaml.Node, Alias]


class Composer(yaml.SafeLoader):
    def compose_node(self, parent: yaml.Node | None, index: object) -> Node:
        event = self.peek_event()
        node = super().compose_node(parent, index)
        if isinstance(event, yaml.AliasEvent):
            return Alias(node, event.start_mark, event.end_mark, event.anchor)
        node.anchor_name = getattr(event, "anchor", None)
        return node


class Step:
    """One key on the way to the value: the mapping it is in, its key and value nodes."""

    def __init__(self, mapping: yaml.Node, key: Node | None, value: Node, merged: bool,
                 via_alias: Alias | None) -> None:
        self.mapping, self.key, self.value = mapping, key, value
        self.merged, self.via_alias = merged, via_alias



def unaliased(node: Node) -> yaml.Node:
    """The node an alias stands for; any other node itself."""
    return node.target if isinstance(node, Alias) else node



class YamlTree:
    """The composed tree of TEXT (from SOURCE), with every key path that shows each node."""

    def __init__(self, text: str, root: yaml.Node | None, source: str) -> None:
        self.text, self.root, self.source = text, root, source
        self.nl = newline_of(text)
        self.paths: dict[int, list[tuple[str, ...]]] = {}         # every key path showing a node
        self.merged_into: dict[int, list[tuple[str, ...]]] = {}   # mappings merging a node
        if root is not None:
            self._walk(root, (), frozenset())
        self.unit = self._indent_unit()

    # -- reading the structure --------------------------------------------------

    def pairs(self, mapping: yaml.Node, seen: frozenset[int] = frozenset()) -> dict[str, tuple[Node, Node, bool]]:
        """The effective key -> (key node, value node, merged?) of MAPPING, as the loader builds it."""
        merged, explicit = [], []
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.tag == MERGE_TAG:
                v = unaliased(v)
                subs = [v] if isinstance(v, yaml.MappingNode) else [
                    unaliased(s) for s in getattr(v, "value", []) if isinstance(v, yaml.SequenceNode)]
                # Like SafeConstructor.flatten_mapping: earlier merged maps win
                # over later ones, explicit keys win over all of them.
                for sub in reversed(subs):
                    if isinstance(sub, yaml.MappingNode) and id(sub) not in seen:
                        for name, (kk, vv, _) in self.pairs(sub, seen | {id(mapping)}).items():
                            merged.append((name, kk, vv, True))
            else:
                own = key_name(k)
                if own is not None:
                    explicit.append((own, k, v, False))
        result = {}
        for name, k, v, was_merged in merged + explicit:
            result[name] = (k, v, was_merged)
        return result

    def pairs_without(self, mapping: yaml.Node, key: Node | None) -> dict[str, tuple[Node, Node, bool]]:
        """The effective pairs of MAPPING if its explicit KEY were gone."""
        clone = yaml.MappingNode(mapping.tag, [(k, v) for k, v in mapping.value if k is not key])
        return self.pairs(clone)

    def _walk(self, node: Node, path: tuple[str, ...], stack: frozenset[int]) -> None:
        real = unaliased(node)
        self.paths.setdefault(id(real), []).append(path)
        if not isinstance(real, yaml.MappingNode) or id(real) in stack:
            return
        for k, v in real.value:
            if isinstance(k, yaml.ScalarNode) and k.tag == MERGE_TAG:
                v = unaliased(v)
                for sub in ([v] if isinstance(v, yaml.MappingNode) else
                            [unaliased(s) for s in v.value] if isinstance(v, yaml.SequenceNode) else []):
                    # keys added to a merged map show up here as well
                    self.paths.setdefault(id(sub), []).append(path)
                    self.merged_into.setdefault(id(sub), []).append(path)
        for name, (_, v, _) in self.pairs(real).items():
            self._walk(v, path + (name,), stack | {id(real)})

    def locate(self, parts: list[str]) -> list[Step]:
        """The steps of PARTS that exist, stopping at the first missing key."""
        steps: list[Step] = []
        node = self.root
        for part in parts:
            real = unaliased(node)
            if isinstance(real, yaml.SequenceNode):   # layers.0: a step with no key node
                index = index_of(part)
                if index is None or index >= len(real.value):
                    break
                v = real.value[index]
                steps.append(Step(real, None, v, False, node if isinstance(node, Alias) else None))
                node = v
                continue
            if not isinstance(real, yaml.MappingNode):
                break
            entry = self.pairs(real).get(part)
            if entry is None:
                break
            k, v, merged = entry
            steps.append(Step(real, k, v, merged, node if isinstance(node, Alias) else None))
            node = v
        return steps

    def check_owned(self, steps: list[Step], parts: list[str], ov: Override) -> None:
        """Refuse edits that would reach through an alias or into a merged map."""
        for i, step in enumerate(steps):
            if step.via_alias is not None:
                where = join_key(parts[:i])
                anchor = self.path_of(step.via_alias.target)
                instead = f"edit {anchor}.{join_key(parts[i:])} instead (every alias follows it), or "\
                    if anchor else ""
                raise ExpError(f"cannot edit {ov.key} in {self.source}: {where} is an alias "
                               f"(*{step.via_alias.name})",
                               hint=f"{instead}replace the alias with a mapping of its own")
            if step.merged:
                where = join_key(parts[:i + 1])
                if ov.op == "delete":
                    hint = "remove it from the merged mapping, or override it with ++KEY=VALUE"
                else:
                    hint = f"use ++{ov.key}={ov.text} to override it in this mapping"
                verb = "delete" if ov.op == "delete" else "edit"
                raise ExpError(f"cannot {verb} {ov.key} in {self.source}: {where} comes from a "
                               "merge key (<<)", hint=hint.replace("KEY", ov.key).replace("VALUE", "..."))

    def check_anchors(self, node: yaml.Node, parts: list[str], ov: Override, include_self: bool) -> None:
        own = tuple(parts)
        for n in subtree(node, include_self):
            if getattr(n, "anchor_name", None) is None:
                continue
            users = [join_key(p) for p in self.paths.get(id(n), []) if p[:len(own)] != own]
            if users:
                verb = "delete" if ov.op == "delete" else "replace"
                raise ExpError(f"cannot {verb} {ov.key} in {self.source}: it holds the anchor "
                               f"&{n.anchor_name}, which {users[0]} uses",
                               hint=f"give {users[0]} a value of its own first, then {verb} {ov.key}")

    def path_of(self, node: yaml.Node) -> str | None:
        paths = self.paths.get(id(node))
        return join_key(paths[0]) if paths and paths[0] else None

    def others(self, node: yaml.Node, parts: list[str], rest: tuple[str, ...] = ()) -> list[str]:
        """Other keys that show NODE: its aliases and the maps merging it."""
        own = tuple(parts)
        return [join_key(p + rest) for p in self.paths.get(id(node), []) if p != own]

    def _indent_unit(self) -> str:
        # the step between a block mapping's keys and its nested mapping's keys
        stack = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
                col = node.value[0][0].start_mark.column
                for _, v in node.value:
                    if isinstance(v, yaml.MappingNode) and not v.flow_style and v.value:
                        step = v.value[0][0].start_mark.column - col
                        if step > 0:
                            return " " * step
                        stack.append(v)
        return "  "


def subtree(node: yaml.Node, include_self: bool) -> Iterator[yaml.Node]:
    """NODE's descendants (and NODE itself if asked), not following aliases."""
    if include_self:
        yield node
    children = []
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    for child in children:
        if not isinstance(child, Alias):
            yield from subtree(child, True)


def key_name(node: Node) -> str | None:
    node = unaliased(node)
    if not isinstance(node, yaml.ScalarNode):
        return None
    return key_text(yaml.constructor.SafeConstructor().construct_object(node))

