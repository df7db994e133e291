"""Parameter files: reading them, the -S override syntax, sweeps, and in-place edits.

    keys       split_key, join_key: `train.lr`, `layers.0`, `server."http.conf"`
    read       fmt_of, parse, load, flatten, select: YAML/JSON/TOML/Python into dicts and dot keys
    read_python  params.py through ast (never run): literals only, positions for edits
    overrides  Override, parse_override, parse_value: `[file:][+|++|~]key[=value]`
    sweeps     is_sweep, expand: `lr=0.1,0.01`, choice(...), range(...) into a grid
    edit       edit_text, apply_overrides: change only a value's bytes in the file
               (edit_yaml, edit_json, edit_toml, edit_python: one splicer per format;
               yaml_tree and toml_scan find the spans the YAML and TOML splicers edit)

Import the submodule you need; this package imports nothing itself, so
reading a JSON file never loads the YAML parser.
"""
