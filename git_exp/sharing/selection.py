"""Which experiments a push, pull or remote removal is about.

The same words everywhere: NAME (a name, a unique sha prefix or a full ref),
--all (every experiment of HEAD's commit), -A (every experiment of every
commit). Candidates are the local refs for a push, the remote's for a pull
or a removal on the remote.
"""
from __future__ import annotations

from git_exp.errors import ExpError
from git_exp.experiments import refs


def _find(spec: str, candidates: list[refs.ExpRef], where: str, lister: str) -> refs.ExpRef:
    if spec.startswith("refs/"):
        for r in candidates:
            if r.ref == spec:
                return r
        raise ExpError(f"no experiment ref '{spec}' {where}", hint=f"'{lister}' lists them")
    by_name = [r for r in candidates if r.name == spec]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        listing = "\n".join(f"  {r.ref} ({r.sha[:7]})" for r in by_name)
        raise ExpError(f"'{spec}' names {len(by_name)} experiments {where}:\n{listing}",
                       hint="use a sha prefix or the full ref to pick one")
    if len(spec) >= 4 and all(c in "0123456789abcdef" for c in spec.lower()):
        by_sha = [r for r in candidates if r.sha.startswith(spec.lower())]
        if len(by_sha) == 1:
            return by_sha[0]
        if len(by_sha) > 1:
            raise ExpError(f"sha prefix '{spec}' is ambiguous {where}", hint="give more digits")
    import difflib
    close = difflib.get_close_matches(spec, sorted({r.name for r in candidates}), n=3)
    raise ExpError(f"no experiment named '{spec}' {where}",
                   hint=(f"did you mean {', '.join(close)}? " if close else "") + f"'{lister}' lists them")


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
    chosen += [_find(spec, candidates, where, lister) for spec in specs]
    return list({r.ref: r for r in chosen}.values())
