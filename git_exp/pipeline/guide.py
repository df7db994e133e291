"""gitexp-pipeline(7): the reference of exp.yaml, as text for manpage.py.

Text only: `git exp help pipeline` and `python -m git_exp.manpage` import
this module, nothing else does (not start-up, not run). Every statement is
taken from the code that enforces it (parser.py, records.py, template.py,
template_vars.py, yamlsrc.py, paths.py, runner.py, lock.py);
tests/test_pipeline_guide.py checks that every key the parser accepts is
named here and that every example parses with the real loader.

Examples are the indented blocks; each starts with `# FILE`, the file it
shows. A `# gives stages: a, b` line (continued on `#   ` lines) names the
stages the file makes, in order, and `# STAGE runs: TEXT` the command a
stage runs; the test checks both.
"""
from __future__ import annotations

__all__: list[str] = []   # no functions: the page is text only

SUMMARY = "the exp.yaml pipeline file"

SEE_ALSO = ["git-exp(1)", "git-exp-run(1)", "git-exp-init(1)", "git-exp-repro(1)",
            "git-exp-dag(1)", "git-exp-params(1)", "git-exp-plots(1)"]

DESCRIPTION = """\
exp.yaml, at the root of the repository, declares the pipeline that
`git exp run` and `git exp repro` run: named stages, each a command with the
files it reads (deps), the parameters it uses (params) and the files it
writes (outs, metrics, plots). `git exp init` writes a first one. The schema
is the one of DVC's dvc.yaml, so a dvc.yaml usually works unchanged.

Checking is strict. An unknown key, a value of the wrong type or a path that
leaves the repository is an error that names the file, line and column, says
what is allowed and, for a misspelt key, which key was probably meant. YAML
itself is read strictly too: a key written twice in one mapping is an error
(YAML would silently keep the last one); anchors, aliases and merge keys
(`<<: *defaults`) work, but an alias may not refer to the collection that
holds it.

A minimal file:

  # exp.yaml
  stages:
    train:
      cmd: python train.py
      deps: [train.py, data]
      params: [train.lr]
      outs: [models]
      metrics:
      - metrics.json:
          cache: false
  # gives stages: train
"""

SECTIONS = [
    ("Top level", """\
The file is a mapping with these keys, all optional:

`stages`: a mapping of stage name to stage (see STAGES). A file without
stages is valid.

`vars`: variables for `${...}` (see TEMPLATING): a mapping, or a list of
mappings and file names.

`params`: a list of params files whose values `git exp show` shows even
though no stage names them; paths are relative to the folder of exp.yaml.

`metrics` and `plots`: lists of metrics files and plots no stage writes
(written by hand, or by a script outside the pipeline), with the same entry
forms and options as a stage's (see OUTPUTS and PLOTS), relative to the
folder of exp.yaml.

`${...}` is not expanded in the top-level `params`, `metrics`, `plots` and
`vars`, nor in stage names.

  # exp.yaml
  vars:
  - seed: 7
  params: [extra.json]
  metrics: [summary.json]
  plots:
  - curves/loss.csv:
      x: step
      y: loss
  stages:
    train:
      cmd: python train.py --seed ${seed}
  # gives stages: train
  # train runs: python train.py --seed 7
"""),
    ("Stages", """\
A stage name is made of letters, digits, `_` and `-`; it must be text (quote
names such as on, off, yes, no or numbers, which YAML reads as other
values). `@` is reserved for the stages foreach and matrix make. Every
stage, and every stage foreach or matrix makes, has its own name. A stage is
a mapping with these keys:

`cmd` (required): the command, run by the shell (sh -c) in the stage's
working folder; or a list of commands, run one after the other, where the
first that fails stops the stage. Neither the command nor a list item may be
empty.

`deps`: a list of paths (files or folders) the command reads. A change in
their content makes the stage run again. A dep that is another stage's out
(or lies inside it, or contains it) orders that stage first.

`params`: the parameters the command reads (see PARAMS).

`outs`: a list of files or folders the command writes, stored in the cache
and ignored by Git (see OUTPUTS).

`metrics`: metrics files the command writes, kept in Git; `git exp show`
shows their values.

`plots`: plot data files or folders the command writes, kept in Git;
`git exp plots` draws them (see PLOTS).

`wdir`: the folder the command runs in and that the stage's paths are
relative to, itself relative to the folder of exp.yaml (default: that
folder).

`frozen`: true or false (default false). A frozen stage never runs; run and
repro skip it and use what is there.

`always_changed`: true or false (default false). The stage runs every time,
whatever exp.lock says, and is never restored from the run cache.

`desc`: a text describing the stage, for people.

`vars`: variables for this stage only, with the same forms as the top-level
`vars`; files are relative to the stage's `wdir`.

`meta`: anything: accepted and ignored, for your own notes (as in DVC).

A stage may instead hold `foreach` and `do`, or `matrix` next to its keys
(see FOREACH AND MATRIX).

  # exp.yaml
  stages:
    prepare:
      desc: split the raw data
      cmd:
      - mkdir -p data/prepared
      - python prepare.py data/raw data/prepared
      deps: [prepare.py, data/raw]
      outs: [data/prepared]
    train:
      wdir: src
      cmd: python train.py
      deps: [train.py, ../data/prepared]
      outs: [../models]
      always_changed: false
      meta: {owner: ana}
    report:
      cmd: python report.py
      frozen: true
  # gives stages: prepare, train, report
"""),
    ("Params", """\
Each item of a stage's `params` list is one of:

a key of params.yaml in the stage's `wdir`, written as its dotted path:
`train.lr` tracks that value, `train` every value under it;

a mapping of another params file to a list of its keys:
`- config.json: [model.layers, model.units]`. The file may be YAML (.yaml,
.yml), JSON, TOML or Python (.py, read without being run);

a params file with nothing after it, or an empty list (`- config.toml:` or
`- config.toml: []`): the whole file, every value in it.

Files are relative to the stage's `wdir`. A stage reruns when a tracked
value changes; `git exp run -S train.lr=0.01` sets one before running. A key
listed but missing from its file is an error when the stage runs. Keys of
params.yaml that the stage reads through `${...}` are tracked as well,
without being listed.

  # params.yaml
  train:
    lr: 0.1
    epochs: 5

  # exp.yaml
  stages:
    train:
      cmd: python train.py
      params:
      - train.lr
      - config.json: [model.layers]
      - search.toml:
  # gives stages: train
"""),
    ("Outputs", """\
Each item of a stage's `outs`, `metrics` and `plots`, and of the top-level
`metrics` and `plots`, is a path, or a mapping of one path to its options:

`cache`: true or false. True keeps the output out of Git (it is added to
.gitignore) and in the cache in the Git directory, recorded by its hash in
exp.lock; false lets Git track it as an ordinary file. Default: true for
`outs`, false for `metrics` and `plots`, so `git diff` and `git exp show`
can read them.

`persist`: true or false (default false). Before a stage runs, its outputs
are saved to the cache and removed from the work tree; a persistent output
is left in place for the command to update (a checkpoint, an appended log).

`desc`: a text describing the output.

A path that ends in `/` names a folder. After the command, every output must
exist, or the stage fails. An output cannot be the whole repository, and no
two outputs of the stages (outs, metrics and plots alike, in one stage or in
two) may be the same path or one inside the other: each path is written by
one stage only.

  # exp.yaml
  stages:
    train:
      cmd: python train.py
      outs:
      - models/
      - checkpoints:
          persist: true
          desc: resumed from on the next run
      - logs/train.log:
          cache: false
      metrics:
      - metrics.json
      plots:
      - plots/
  # gives stages: train
"""),
    ("Plots", """\
A plots entry takes the options of OUTPUTS and these, all optional, which
`git exp plots` uses to draw it:

`x`: the field (column) on the x axis, or a mapping of data file to field.

`y`: the field on the y axis, or a list of fields; or a mapping of data file
to a field or a list of fields, for one chart that combines several files:
the entry's path is then only the chart's name, and the files are relative
to the stage's `wdir` (at the top level, to the folder of exp.yaml), like
the entry's path. This form belongs in the top-level `plots`, since a stage
must write each path it lists.

`title`: the chart's title.

`template`: the kind of chart: line, scatter or bar (any other name is
refused when plots are drawn).

`x_label` and `y_label`: the axis titles.

Every option but `cache` and `persist` is text (or, for `x` and `y`, the
forms above). Plot files are CSV, TSV, JSON or YAML data, or PNG, JPEG, GIF,
WebP or SVG images; a plots folder draws every such file in it.

  # exp.yaml
  plots:
  - accuracy:
      x: step
      y:
        logs/train.csv: acc
        logs/val.csv: [acc, loss]
      title: accuracy by step
  stages:
    evaluate:
      cmd: python evaluate.py
      plots:
      - plots/roc.json:
          x: fpr
          y: tpr
          template: line
          title: ROC
          x_label: false positive rate
          y_label: true positive rate
      - plots/scores.csv:
          x: epoch
          y: [train_loss, val_loss]
      - images/
  # gives stages: evaluate
"""),
    ("Paths", """\
Paths are written with `/` between folders. A stage's deps, outs, metrics,
plots, params files and `vars` files are relative to its `wdir`; `wdir`
itself, top-level params, metrics, plots and `vars` files are relative to
the folder of exp.yaml. They are normalised (`./data/` is `data`) and must
stay inside the repository. Refused, with an error naming the file, line and
column: an empty path; an absolute path (`/data`, `C:/data`); a path `~` or
starting with `~/`; a path that leads above the repository (`..` from the
root); a path inside a .git folder, in any letter case (`.git/config`,
`src/.GIT/x`); and a path whose existing folders go through a symbolic link
that points outside the repository. `..` is fine while the path stays inside
(`../data` from a `wdir` of `src`).
"""),
    ("Templating", """\
`${NAME}` in a stage's values is replaced by the value of variable NAME.
Variables come from:

params.yaml next to exp.yaml, when it exists (only read when the file
contains `${`);

the top-level `vars`: mappings, and data files (YAML, JSON or TOML) merged
whole, or only some keys with `FILE:key1,key2`
(`- config.yaml:train,model.units`);

the stage's own `vars`, which only that stage sees;

`item` and `key` in stages made by foreach and matrix.

A variable defined twice (by two files, a file and a mapping...) is an error
naming both; mappings of the same name merge key by key. Listing params.yaml
in `vars` as well is allowed. `item` and `key` hide a variable of the same
name.

Select inside a value with `${train.lr}`, `${layers[0]}` or `${layers.0}`. A
value that is exactly `${NAME}` takes the variable's own type (a list, a
mapping, a number, a boolean). Inside a longer text, a number is written as
text, a boolean as true or false, null as null; a list or a mapping cannot
be part of a longer text, except in `cmd`: there a list becomes its items,
shell-quoted and separated by spaces, and a mapping becomes command-line
options (`--lr 0.1 --epochs 5`: nested keys are joined with dots, true gives
`--flag` alone, false and null give nothing, a list gives `--k a b`).
`\\${x}` stays as the literal text `${x}`, for the shell (`echo \\${HOME}`).

`${...}` is expanded in every value of a stage (`cmd`, `wdir`, `deps`,
`params`, `outs`, `metrics`, `plots`, `frozen`, `always_changed`, `desc`),
in the mapping keys inside them (an output path with options), and in
`foreach` and `matrix`; not in stage names, `meta`, `vars`, or the top-level
keys. A stage that reads a key of params.yaml through `${...}` tracks that
key as one of its params. In YAML's `[...]` and `{...}`, quote a value that
holds `${...}`: `deps: ['data/${name}.csv']`.

  # params.yaml
  data: data/raw.csv
  train:
    lr: 0.1
    epochs: 5
    layers: [64, 32]

  # config.yaml
  model:
    units: 128
    dropout: 0.2

  # exp.yaml
  vars:
  - config.yaml:model
  - out: models
  stages:
    train:
      cmd: python train.py ${train} --units ${model.units}
      deps: ['${data}']
      outs: ['${out}/model.pkl']
    echo:
      vars:
      - greeting: hello
      cmd: echo ${greeting} \\${HOME} ${train.layers}
  # gives stages: train, echo
  # train runs: python train.py --lr 0.1 --epochs 5 --layers 64 32 --units 128
  # echo runs: echo hello ${HOME} 64 32
"""),
    ("Foreach and matrix", """\
A stage with `foreach` and `do` (and no other key) makes one stage per item:
`do` holds the stage's keys, where `${item}` is the item. `foreach` is a
list, a mapping, or `${NAME}` of one. For a list of plain values the stages
are named NAME@VALUE (a value listed twice is an error); when an item is a
list or a mapping, NAME@0, NAME@1... by position. For a mapping they are
named NAME@KEY, with `${key}` the key and `${item}` its value.

A stage with `matrix` makes one stage per combination of the values it
lists: `matrix` maps names to lists of values, and the other keys of the
stage, next to it, are the stage. `${item.NAME}` is the value for one name,
`${key}` the stage's suffix: the values joined by `-`, each written as
itself, or as NAME and its position when the value is a list or a mapping.

`git exp run train@large` runs one of the stages; `git exp run train` runs
them all (each with the stages it needs).

  # params.yaml
  sizes:
    small: {units: 32}
    large: {units: 256}

  # exp.yaml
  stages:
    prepare:
      foreach: [train, test]
      do:
        cmd: python prepare.py ${item}
        outs: ['data/${item}.csv']
    train:
      foreach: ${sizes}
      do:
        cmd: python train.py --units ${item.units} --name ${key}
        outs: ['models/${key}.pkl']
    sweep:
      matrix:
        lr: [0.1, 0.01]
        model: [cnn, mlp]
      cmd: python train.py --lr ${item.lr} --model ${item.model}
      outs: ['sweep/${key}']
  # gives stages: prepare@train, prepare@test, train@small, train@large,
  #   sweep@0.1-cnn, sweep@0.1-mlp, sweep@0.01-cnn, sweep@0.01-mlp
  # train@large runs: python train.py --units 256 --name large
  # sweep@0.01-mlp runs: python train.py --lr 0.01 --model mlp
"""),
    ("When a stage runs", """\
`git exp run` runs the stages in an order where each stage's deps are
written before it reads them (among stages free to go, the one written first
in exp.yaml). A frozen stage is skipped. Any other stage is skipped as up to
date when exp.lock records its last run with the same command, the same
content (SHA-256) of every dep, the same value of every tracked param, and
every output present with the recorded content. It runs when one of these
differs (a stage that ran before it may have changed its deps), when it
never ran, when it is `always_changed`, or with -f. A stage with deps that
is about to run (not with -f) is restored from the run cache instead when an
earlier run had the same command, deps, params and output paths. The command
gets GIT_EXP_STAGE (the stage's name) and GIT_EXP_ROOT (the repository's
root) and PYTHONUNBUFFERED=1 in its environment. A stage cannot depend on
its own output, and stages cannot form a cycle. See git-exp-run(1) for the
rest (-S, targets, --downstream, --queue).
"""),
    ("exp.lock", """\
After each stage that runs or is restored, exp.lock (at the root of the
repository, committed with the experiment) records what that run used and
made, and is what the next run compares with. Per stage: `cmd` (a text, or a
list for several commands); `deps`, sorted by path, each with its `hash`
(the SHA-256 of the file; for a folder, of its manifest of files, with
`.dir` after it), `size` in bytes, and `nfiles` for a folder; `params`, per
file, the tracked keys and their values; and `outs`, in the stage's order,
like deps. Stages are in the order of exp.yaml. It is written by run and
repro, not by hand; since it may come from someone else's commit, its paths
and hashes are checked when read.

  # exp.lock
  schema: '1'
  stages:
    train:
      cmd: python train.py
      deps:
      - path: data
        hash: 5c4e1a9f3c6a0e0c0a3a8b1f2d7f3b9e6e4b1c2d3e4f5a6b7c8d9e0f1a2b3c4d.dir
        size: 10240
        nfiles: 3
      - path: train.py
        hash: 9f2b1c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b
        size: 812
      params:
        params.yaml:
          train.lr: 0.1
      outs:
      - path: models
        hash: 0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b.dir
        size: 2048
        nfiles: 1
"""),
    ("Limits", """\
exp.yaml, and the params and vars files it reads, may come from someone
else's experiment, so they are read with fixed limits: a file larger than
64 MiB, data nested more than 100 mappings or lists deep, and YAML whose
anchors and aliases would expand to more than 100,000 extra values are
refused with an error naming the file (see LIMITS in git-exp(1)).
"""),
]
