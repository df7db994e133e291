"""Which experiments a push, pull or remote removal is about.

The same words everywhere: NAME (a name, a unique sha prefix or a full ref),
--all (every experiment of HEAD's commit), -A (every experiment of every
commit). Candidates are the local refs for a push, the remote's for a pull
or a removal on the remote.
"""
from __future__ import annotations

from git_exp.experiments import refs
from git_exp.experiments.resolve import find_in


def choose(candidates: list[refs.ExpRef], specs: list[str], head: str | None,
           all_of_head: bool = False, all_commits: bool = False, default_to_head: bool = False,
           where: str = "here", lister: str = "git exp list -A") -> list[refs.ExpRef]:
    """The experiments SPECS and the flags select, each once, in a stable order.

    With DEFAULT_TO_HEAD and nothing asked for, HEAD's experiments are meant
    (as `git exp list` shows them).
    """
    chosen: list[refs.ExpRef] = []
    if all_commits:
        chosen += candidates
    elif all_of_head or (default_to_head and not specs):
        chosen += [r for r in candidates if r.baseline == head]
    chosen += [find_in(spec, candidates, where, lister) for spec in specs]
    return list({r.ref: r for r in chosen}.values())
