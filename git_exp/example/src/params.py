"""Read params.yaml: with PyYAML when it is installed, else a tiny reader.

git-exp depends on PyYAML, so inside its environment the real parser is
used. The fallback understands only what this project's params.yaml holds:
sections of `key: value` lines, comments and blank lines.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _value(text):
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "~", ""):
        return None
    return text.strip("'\"")


def _simple_yaml(text):
    params, section = {}, None
    for line in text.splitlines():
        content = line.split("#", 1)[0].rstrip()
        if not content.strip():
            continue
        key, _, value = content.strip().partition(":")
        value = value.strip()
        if not line.startswith((" ", "\t")):
            if value:
                params[key] = _value(value)
                section = None
            else:
                section = params[key] = {}
        elif section is not None:
            section[key] = _value(value)
    return params


def load_params(section):
    """The SECTION of params.yaml, as a dict."""
    with open(os.path.join(ROOT, "params.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    try:
        import yaml
    except ImportError:
        return _simple_yaml(text)[section]
    return yaml.safe_load(text)[section]
