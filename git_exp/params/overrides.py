"""The `-S/--set-param` syntax: `[file:][+|++|~]key[=value]`, as DVC and Hydra spell it.

    train.lr=0.01            set an existing key (unknown keys are an error)
    +train.wd=0.1            add a key that must not exist yet
    ++train.wd=0.1           set or add
    ~train.dropout           delete
    other.yaml:train.lr=0.1  the same, in another params file
    params.py:TRAIN.lr=0.1   a Python params file: constants, dict entries, class attributes
    layers.0=32              the first element of a list (set only)
    server."http.conf"=x     a key that contains a dot, in double quotes

Key paths are spelled as git_exp.params.keys describes: dots between parts,
a whole number for a list element, double quotes around a part that holds a
dot, quote, '=' or ':'.

Values are typed like YAML 1.2 scalars, the way Hydra does it: 32 is an int,
0.01 and 1e-3 are floats, true/false are booleans, null is None, and anything
else is a string, taken literally (the shell has already removed its own
quotes). 'yes', 'on', '007' and '2020-01-01' stay strings, unlike in YAML 1.1.
To force a string, quote it once more for us: key="'32'". A value starting
with [ or { is a flow list or mapping: [1, 2], {a: 1, b: [x, y]}. An empty
value (key=) is the empty string; write null for None.
"""
from __future__ import annotations

import re

from git_exp.errors import ExpError
from git_exp.params.keys import find_outside_quotes, index_of, join_key, split_key
from git_exp.plainclass import Frozen

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import yaml

OPS = ("set", "add", "upsert", "delete")

_INT = re.compile(r"[-+]?(?:0|[1-9](?:_?[0-9])*)$")
_INT_BASE = re.compile(r"[-+]?0(?:x[0-9a-fA-F](?:_?[0-9a-fA-F])*|o[0-7](?:_?[0-7])*|b[01](?:_?[01])*)$")
_DIGITS = r"[0-9](?:_?[0-9])*"
_EXP = rf"[eE][-+]?{_DIGITS}"
# A float needs a dot or an exponent: 1.5, .5, 5., 1e-3 (which YAML 1.1 reads as a string).
_FLOAT = re.compile(
    rf"[-+]?(?:(?:{_DIGITS})?\.{_DIGITS}(?:{_EXP})?|{_DIGITS}\.(?:{_EXP})?|{_DIGITS}{_EXP})$")
_INF = re.compile(r"([-+]?)\.?inf$", re.IGNORECASE)
_NAN = re.compile(r"\.?nan$", re.IGNORECASE)
_NULL = {"null", "Null", "NULL", "~"}
_FILE_EXTS = (".yaml", ".yml", ".json", ".toml", ".py")


class Override(Frozen):
    """One -S argument, parsed; immutable (plainclass.Frozen: `run -S`
    imports this module on every call)."""
    __slots__ = ("file", "key", "op", "value", "text")
    file: str | None   # "other.yaml" when given as other.yaml:key=value, else None
    key: str           # dot path "train.lr", canonical (keys.join_key of its parts)
    op: str            # "set", "add" (+key), "upsert" (++key) or "delete" (~key)
    value: object      # the typed value (None for delete)
    text: str          # the value text as the user gave it, surrounding blanks removed

    def __init__(self, file: str | None, key: str, op: str, value: object, text: str):
        self._init(file=file, key=key, op=op, value=value, text=text)

    def __str__(self) -> str:
        prefix = f"{self.file}:" if self.file else ""
        sign = {"set": "", "add": "+", "upsert": "++", "delete": "~"}[self.op]
        tail = "" if self.op == "delete" else f"={self.text}"
        return f"{prefix}{sign}{self.key}{tail}"

    @property
    def parts(self) -> list[str]:
        """The key's parts: `server."http.conf"` is ['server', 'http.conf']."""
        return split_key(self.key)

    @property
    def has_index(self) -> bool:
        """Whether a part may name a list element (a whole number)."""
        return any(index_of(p) is not None for p in self.parts)


def split_override(arg: str) -> tuple[str | None, str, str, str | None]:
    """ARG as (file or None, operator sign, key, value text or None)."""
    # '=' and ':' inside a quoted key part (server."a=b") are part of the key
    eq = find_outside_quotes(arg, "=")
    left, value_text = (arg, None) if eq < 0 else (arg[:eq], arg[eq + 1:])
    sign, left = _take_sign(left)
    file = None
    colon = find_outside_quotes(left, ":", last=True)
    head, rest = left[:max(colon, 0)], left[colon + 1:]
    if colon >= 0 and head.strip().lower().endswith(_FILE_EXTS):
        file = head.strip()
        sign2, left = _take_sign(rest)
        if sign and sign2:
            raise ExpError(f"invalid parameter override '{arg}': two operators",
                           hint="write one of key=v, +key=v, ++key=v or ~key")
        sign = sign or sign2
    return file, sign, left.strip(), value_text


def _take_sign(text: str) -> tuple[str, str]:
    stripped = text.lstrip()
    for sign in ("++", "+", "~"):
        if stripped.startswith(sign):
            return sign, stripped[len(sign):]
    return "", text


def parse_override(arg: str) -> Override:
    """One -S argument as an Override; ExpError with a hint for malformed input."""
    file, sign, key, value_text = split_override(arg)
    op = {"": "set", "+": "add", "++": "upsert", "~": "delete"}[sign]
    _check_key(arg, key)
    try:
        key = join_key(split_key(key))
    except ExpError as e:
        raise ExpError(f"invalid parameter override '{arg}': {e.message}", hint=e.hint) from None
    if op == "delete":
        if value_text is not None:
            raise ExpError(f"invalid parameter override '{arg}': ~ deletes a key and takes no value",
                           hint=f"write ~{key} to delete it, or {key}={value_text.strip()} to set it")
        return Override(file, key, op, None, "")
    if value_text is None:
        raise ExpError(f"invalid parameter override '{arg}': no '=' and no value",
                       hint=f"write {key}=VALUE to set it, or ~{key} to delete it")
    text = value_text.strip()
    try:
        value = parse_value(text)
    except ExpError as e:
        raise ExpError(f"invalid value in '{arg}': {e.message}", hint=e.hint) from None
    return Override(file, key, op, value, text)


def _check_key(arg: str, key: str) -> None:
    if not key:
        raise ExpError(f"invalid parameter override '{arg}': empty key",
                       hint="write key=value, such as train.lr=0.01")
    if key[0] in "+~" or any(c in key for c in "\n\r"):
        raise ExpError(f"invalid parameter override '{arg}': bad character in key '{key}'",
                       hint="write key=value, +key=value, ++key=value or ~key")


def parse_value(text: str) -> object:
    """TEXT typed like a YAML 1.2 scalar, or a flow list/mapping; see the module doc."""
    s = text.strip()
    if not s:
        return ""
    if s[0] in "[{'\"":
        return _parse_flow(s)
    return plain_value(s)


def plain_value(s: str) -> object:
    """An unquoted scalar: null, bool, int, float or else the string itself."""
    if s in _NULL:
        return None
    low = s.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if _INT.match(s):
        return int(s.replace("_", ""))
    if _INT_BASE.match(s):
        sign = -1 if s[0] == "-" else 1
        digits = s.lstrip("+-").replace("_", "")
        return sign * int(digits[2:], {"x": 16, "o": 8, "b": 2}[digits[1]])
    if _FLOAT.match(s):
        return float(s.replace("_", ""))
    m = _INF.match(s)
    if m:
        return float("-inf") if m.group(1) == "-" else float("inf")
    if _NAN.match(s):
        return float("nan")
    return s


def _parse_flow(s: str) -> object:
    # PyYAML parses the structure and quoting; plain scalars inside are
    # typed by our own rules so [1e-3, yes] means the same as 1e-3 and yes alone.
    import yaml
    try:
        node = yaml.compose(s, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e)
        mark = getattr(e, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None and mark.line == 0 else ""
        raise ExpError(f"cannot read {s}: {problem}{where}",
                       hint="to pass it as a plain string, quote it: key=\"'...'\"") from None
    if node is None:
        return ""
    if isinstance(node, yaml.ScalarNode) and node.style not in ("'", '"'):
        raise ExpError(f"cannot read {s}: text after the closing quote",
                       hint="quote the whole value: key=\"'...'\"")
    return _node_value(node, s)


def _node_value(node: yaml.Node, s: str) -> object:
    import yaml
    if isinstance(node, yaml.ScalarNode):
        if node.style is None:
            return plain_value(node.value) if node.value != "" else None
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_node_value(item, s) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        result = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise ExpError(f"cannot read {s}: a mapping key must be a plain value")
            result[k.value] = _node_value(v, s)
        return result
    raise ExpError(f"cannot read {s}")  # pragma: no cover - composer yields only these
