"""The pipeline file `exp.yaml`: its schema, templating and stage graph.

`spec` parses the file into `Pipeline`/`Stage`/`Output` records (`records`;
the checking is `parser`'s, with `template` expanding `${...}` from the
variables `template_vars` gathers, `foreach` and `matrix`, and `paths` keeping
every path inside the repository); `graph` orders the stages. Every error
names the file, line and column it comes from (`yamlsrc` keeps them).
`guide` is the text of gitexp-pipeline(7), the users' reference of the file.
"""
