"""`--dry`: which stages would run, also with -S values, writing nothing.

The -S values are applied to the params files' texts in memory (the same
byte-minimal editor `run` uses, so a bad key fails here as it would there)
and the pipeline and the runner read those texts instead of the files. No
file of the user's is written, not even temporarily.
"""
from __future__ import annotations

from typing import Sequence, TYPE_CHECKING

from git_exp.errors import ExpError
from git_exp.names import PARAMS_FILE as DEFAULT_PARAMS

if TYPE_CHECKING:
    from git_exp.params.overrides import Override
    from git_exp.pipeline.runner import StagePlan
    from git_exp.repo import Repository


def overridden_texts(root: str, overrides: list[str]) -> dict[str, str]:
    """Repo-relative params file -> its text with OVERRIDES (-S arguments) applied."""
    from git_exp.params import overrides as ov
    from git_exp.params import sweeps
    # The same path rules as run's -S (./params.yaml is params.yaml; nothing outside the repo).
    from git_exp.params.edit import _inside, _relative, edit_text
    from git_exp.params.read import fmt_of, read_text

    groups: dict[str, list[Override]] = {}
    for arg in overrides:
        if sweeps.is_sweep(arg):
            raise ExpError(f"'{arg}' is a sweep: --dry previews one set of values",
                           hint="preview one point of it, e.g. the first value")
        parsed = ov.parse_override(arg)
        groups.setdefault(_relative(root, parsed.file or DEFAULT_PARAMS), []).append(parsed)
    texts = {}
    for rel, edits in groups.items():
        path = _inside(root, rel)
        texts[rel] = edit_text(read_text(path, rel), fmt_of(rel), edits, rel)
    return texts


def plan(repo: Repository, overrides: Sequence[str] = (), targets: list[str] | None = None,
         downstream: bool = False, single: bool = False, force: bool = False,
         run_cache: bool = True) -> list[StagePlan]:
    """The StagePlan of every selected stage, as if OVERRIDES had been set."""
    from git_exp.pipeline.runner import PipelineRun
    from git_exp.pipeline.spec import load_pipeline, work_tree_reader

    texts = overridden_texts(repo.root, list(overrides))
    if texts:
        on_disk = work_tree_reader(repo.root)

        def read(rel: str) -> str | None:   # templating (${train.lr}) sees the new values too
            return texts[rel] if rel in texts else on_disk(rel)
        pipeline = load_pipeline(repo.root, read=read, check_links=True)
    else:
        pipeline = load_pipeline(repo.root)
    runner = PipelineRun(repo, pipeline, force=force, run_cache=run_cache, params_texts=texts)
    return runner.plan(targets, downstream, single)
