"""Parameter files: reading them, the -S override syntax, sweeps, and in-place edits.

    read       fmt_of, parse, load, flatten, select: YAML/JSON/TOML into dicts and dot keys
    overrides  Override, parse_override, parse_value: `[file:][+|++|~]key[=value]`
    sweeps     is_sweep, expand: `lr=0.1,0.01`, choice(...), range(...) into a grid
    edit       edit_text, apply_overrides: change only a value's bytes in the file

Import the submodule you need; this package imports nothing itself, so
reading a JSON file never loads the YAML parser.
"""
