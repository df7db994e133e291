"""Reading untrusted YAML, JSON and TOML with limits: size, nesting, alias expansion.

Params, metrics, plots data, exp.yaml and exp.lock arrive with other people's
experiments (`git exp pull`), so a file may be hostile: a 1 KB YAML "billion
laughs" (anchors whose aliases refer to anchors whose aliases ...) expands to
gigabytes once anything walks it as plain data, a JSON or TOML document nested
a few thousand levels deep blows Python's recursion limit, and a multi-gigabyte
file exhausts memory before parsing even starts. Every parse of such bytes goes
through this module, which refuses them with `file:line:col: ...` errors:

- files larger than MAX_FILE_SIZE (a constant, documented in man git-exp:
  real params, metrics and plots files are a tiny fraction of it);
- nesting deeper than MAX_DEPTH mappings/lists;
- YAML whose aliases would add more than MAX_ALIAS_NODES values when expanded
  (anchors and `<<` merges of ordinary size keep working) and recursive aliases.

The YAML check runs on the composed node graph, before any value is built:
the graph holds each anchored node once, so checking it costs time linear in
the file's size, whatever the expansion would have cost.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, Callable

    import yaml

MAX_FILE_SIZE = 64 * 1024 * 1024   # bytes
MAX_DEPTH = 100                    # nested mappings and lists
MAX_ALIAS_NODES = 100_000          # values YAML aliases may add when expanded

_HINT = ("this file may come from someone else's experiment; fix or remove it "
         "(see LIMITS in 'git exp help')")


def too_large(source: str, size: int) -> ExpError:
    return ExpError(f"{source}: too large to read ({size:,} bytes; the limit is "
                    f"{MAX_FILE_SIZE // (1024 * 1024)} MiB)", hint=_HINT)


def check_size(size: int, source: str) -> None:
    if size > MAX_FILE_SIZE:
        raise too_large(source, size)


def read_file(path: str, source: str | None = None) -> bytes:
    """The bytes of the regular file PATH, refused (ExpError) beyond MAX_FILE_SIZE.

    OSErrors (FileNotFoundError, ...) pass through for the caller to word. A
    FIFO or device is refused instead of read: opening a FIFO would wait for
    a writer forever, and /dev/zero never ends.
    """
    shown = source or path
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "Is a directory", path)
        if not stat.S_ISREG(st.st_mode):
            raise ExpError(f"{shown}: not a regular file", hint=_HINT)
        check_size(st.st_size, shown)
        chunks, total = [], 0
        while True:   # read until EOF, in case the file grows while we read
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            check_size(total, shown)
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


# ------------------------------------------------------------------- YAML

def yaml_loader() -> type[yaml.SafeLoader]:
    """The fastest safe loader available (libyaml's when PyYAML was built with it)."""
    import yaml
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose_yaml(text: str, source: str,
                 loader_class: type[yaml.SafeLoader] | None = None) -> yaml.Node | None:
    """The checked node graph of TEXT (None for an empty document).

    yaml.YAMLError passes through (callers word syntax errors their way);
    a limit broken raises ExpError naming SOURCE:line:col.
    """
    check_size(len(text), source)
    loader = (loader_class or yaml_loader())(text)
    try:
        node = loader.get_single_node()   # the pure-Python composer recurses per level
    except RecursionError:
        raise ExpError(f"{source}: nested more than {MAX_DEPTH} levels deep", hint=_HINT) from None
    finally:
        loader.dispose()
    if node is not None:
        check_nodes(node, source)
    return node


# Any: a YAML, JSON or TOML document is whatever plain values the file holds; callers
# check its shape (the load boundary).
def load_yaml(text: str, source: str, loader_class: type[yaml.SafeLoader] | None = None) -> Any:
    """TEXT parsed as YAML, as plain values (what yaml.safe_load gives), within the limits."""
    check_size(len(text), source)
    loader = (loader_class or yaml_loader())(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" not in text:
            # No alias can be written without '*': nothing expands, so the
            # values are built as they are and only their depth is checked
            # (about three times cheaper than walking the nodes first).
            try:
                data = loader.construct_document(node)
                check_depth(data, source)
            except (ExpError, RecursionError):
                check_nodes(node, source)   # the same refusal, with line and column
                raise
            return data
        check_nodes(node, source)
        return loader.construct_document(node)
    except RecursionError:
        raise ExpError(f"{source}: nested more than {MAX_DEPTH} levels deep", hint=_HINT) from None
    finally:
        loader.dispose()


def check_nodes(root: yaml.Node, source: str) -> None:
    """Refuse a node graph nested too deeply, with recursive aliases, or whose
    aliases expand past MAX_ALIAS_NODES. Iterative: the graph may be deep."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    def kids(node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, SequenceNode):
            return node.value
        if isinstance(node, MappingNode):
            return [n for pair in node.value for n in pair]   # keys and values
        target = getattr(node, "target", None)   # params/edit_yaml's wrapper of an alias use
        return [target] if target is not None else []

    if isinstance(root, ScalarNode):
        return
    # Only collections are walked (scalars, most nodes, count 1 and add no
    # level), each once: a node reached again through an alias reuses its
    # numbers, so the walk is linear in the file however far it expands.
    expanded: dict[int, int] = {}   # node id -> values it stands for, aliases expanded
    height: dict[int, int] = {}     # node id -> levels of mappings/lists, itself included
    on_path = {id(root)}
    order = []                      # post-order, to find where an expansion first gets too big
    stack = [(root, 1, iter(kids(root)))]
    while stack:
        node, depth, todo = stack[-1]
        for child in todo:
            if isinstance(child, ScalarNode):
                continue
            key = id(child)
            if key in on_path:
                raise ExpError(f"{_where(source, child)}: an alias refers to its own enclosing "
                               "collection", hint="YAML anchors cannot be recursive here")
            if key in height:   # met before, through an alias: its numbers are known
                if depth + height[key] > MAX_DEPTH:
                    _too_deep(source, child)
                continue
            if depth + 1 > MAX_DEPTH:
                _too_deep(source, child)
            on_path.add(key)
            stack.append((child, depth + 1, iter(kids(child))))
            break
        else:
            stack.pop()
            on_path.discard(id(node))
            size, levels = 1, 0
            for k in kids(node):
                if not isinstance(k, ScalarNode):
                    size += expanded[id(k)]
                    levels = max(levels, height[id(k)])
                else:
                    size += 1
            expanded[id(node)] = size
            height[id(node)] = levels + 1
            order.append(node)
    limit = _count(root, kids) + MAX_ALIAS_NODES
    if expanded[id(root)] > limit:
        culprit = next(n for n in order if expanded[id(n)] > limit)
        raise ExpError(f"{_where(source, culprit)}: YAML aliases here expand to more than "
                       f"{limit:,} values", hint=_HINT)


def _count(root: yaml.Node, kids: Callable[[yaml.Node], list[yaml.Node]]) -> int:
    """Distinct nodes in the graph (each anchored node once)."""
    from yaml.nodes import ScalarNode
    seen = {id(root)}
    stack = [root]
    while stack:
        for child in kids(stack.pop()):
            if id(child) not in seen:
                seen.add(id(child))
                if not isinstance(child, ScalarNode):
                    stack.append(child)
    return len(seen)


def _too_deep(source: str, node: yaml.Node) -> None:
    raise ExpError(f"{_where(source, node)}: nested more than {MAX_DEPTH} levels deep", hint=_HINT)


def _where(source: str, node: yaml.Node) -> str:
    mark = getattr(node, "start_mark", None)
    return f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source


# -------------------------------------------------------------- JSON, TOML

def load_json(text: str, source: str) -> Any:
    """TEXT parsed as JSON within the limits; json.JSONDecodeError passes through."""
    import json
    return _load_plain(json.loads, text, source)


def load_toml(text: str, source: str, tomllib: ModuleType) -> dict[str, Any]:
    """TEXT parsed by TOMLLIB within the limits; its TOMLDecodeError passes through."""
    return _load_plain(tomllib.loads, text, source)


def _load_plain(loads: Callable[[str], Any], text: str, source: str) -> Any:
    """TEXT parsed by LOADS (a parser of plain data: no aliases) within the size and depth limits."""
    check_size(len(text), source)
    try:
        data = loads(text)
    except RecursionError:
        raise ExpError(f"{source}: nested more than {MAX_DEPTH} levels deep", hint=_HINT) from None
    check_depth(data, source)
    return data


def check_depth(value: object, source: str) -> None:
    """Refuse plain data nested more than MAX_DEPTH levels (dotted TOML keys nest without recursing)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        items: Iterable[object]
        if isinstance(item, dict):
            items = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise ExpError(f"{source}: nested more than {MAX_DEPTH} levels deep", hint=_HINT)
        stack.extend((v, depth + 1) for v in items if isinstance(v, (dict, list)))
