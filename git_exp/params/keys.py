"""Key paths: `train.lr`, `layers.0`, `server."http.conf"`.

One spelling for every params format (YAML, JSON, TOML, Python), for -S,
for a stage's `params:` list, and for show's column labels, --where and
--sort-by:

- Parts are joined with dots: `train.optimizer.lr`.
- A part that is a whole number names a list element when the value there
  is a list (`layers.0` is the first element, as in OmegaConf and DVC), and
  a key otherwise (`{"0": ...}`, or YAML's `0:`).
- A part that contains a dot, a double quote, `=`, `:`, a backslash or
  leading/trailing blanks (or is empty) is written in double quotes,
  with `\\"` and `\\\\` inside: `server."http.conf"`, `"a\\"b"`. Quoting a
  part that needs none is allowed and changes nothing: `"train".lr`
  is `train.lr`.

Reading gives the same spelling back: a key `http.conf` under `server`
shows as the column `server."http.conf"`, so what show prints can be
pasted into -S, --where and --sort-by.
"""
from __future__ import annotations

from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from collections.abc import Iterable

_SPECIAL = set('."=:\\')


def needs_quotes(part: str) -> bool:
    return (not part or part != part.strip() or any(c in _SPECIAL for c in part)
            or any(c in part for c in "\n\r\t"))


def quote_part(part: str) -> str:
    """PART as it appears in a key path: bare, or in double quotes when it must be."""
    if not needs_quotes(part):
        return part
    body = part.replace("\\", "\\\\").replace('"', '\\"')
    body = body.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{body}"'


def join_key(parts: Iterable[str]) -> str:
    return ".".join(quote_part(p) for p in parts)


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def split_key(key: str) -> list[str]:
    """The parts of KEY; ExpError (with a hint) for an empty part or a stray quote."""
    parts: list[str] = []
    i, n = 0, len(key)
    while True:
        if i < n and key[i] == '"':
            i, part = _quoted(key, i)
            if i < n and key[i] != ".":
                raise ExpError(f"text after the closing quote of \"{part}\" in key '{key}'",
                               hint='quote the whole part: server."http.conf"')
        else:
            j = key.find(".", i)
            j = n if j < 0 else j
            part = key[i:j]
            if '"' in part:
                raise ExpError(f"a quote inside '{part}' in key '{key}'",
                               hint='quote the whole part: server."http.conf", and write \\" for a quote')
            if not part.strip():
                raise ExpError(f"empty part in key '{key}'",
                               hint='separate nested keys with single dots, such as train.lr; '
                                    'a key that contains a dot goes in double quotes: server."http.conf"')
            part = part.strip()
            i = j
        parts.append(part)
        if i >= n:
            return parts
        i += 1   # the dot
        if i >= n:
            raise ExpError(f"empty part in key '{key}'",
                           hint="separate nested keys with single dots, such as train.lr")


def _quoted(key: str, i: int) -> tuple[int, str]:
    out, j, n = [], i + 1, len(key)
    while j < n:
        c = key[j]
        if c == "\\" and j + 1 < n and key[j + 1] in _ESCAPES:
            out.append(_ESCAPES[key[j + 1]])
            j += 2
            continue
        if c == '"':
            return j + 1, "".join(out)
        out.append(c)
        j += 1
    raise ExpError(f"unterminated quote in key '{key}'",
                   hint='close the quoted part: server."http.conf"')


def find_outside_quotes(text: str, chars: str, last: bool = False) -> int:
    """The index of the first (or LAST) of CHARS outside double quotes in TEXT, or -1."""
    found, quoted, i = -1, False, 0
    while i < len(text):
        c = text[i]
        if quoted and c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif not quoted and c in chars:
            if not last:
                return i
            found = i
        i += 1
    return found


def index_of(part: str) -> int | None:
    """PART as a list index (0, 1, ...), or None when it is not a whole number."""
    if part.isascii() and part.isdigit() and (part == "0" or not part.startswith("0")):
        return int(part)
    return None
