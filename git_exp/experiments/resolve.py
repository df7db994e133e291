"""Finding an experiment from what the user typed: a name, a sha prefix or a ref."""
from __future__ import annotations

from git_exp.errors import ExpError
from git_exp.experiments import refs
from git_exp.gitcmd import git


def resolve(repo, spec: str, all_refs: list[refs.ExpRef] | None = None) -> refs.ExpRef:
    candidates = all_refs if all_refs is not None else refs.list_refs(repo.root)
    if spec.startswith("refs/"):
        for r in candidates:
            if r.ref == spec:
                return r
        proc = git(["rev-parse", "--verify", "-q", spec + "^{commit}"], cwd=repo.root, check=False)
        if proc.returncode == 0:  # a backup or another ref of ours
            return refs.ExpRef(spec, "", spec.rsplit("/", 1)[-1], proc.stdout.decode().strip())
        raise ExpError(f"no such ref '{spec}'")
    return find_in(spec, candidates)


def find_in(spec: str, candidates: list[refs.ExpRef], where: str = "",
            lister: str = "git exp list --all-commits") -> refs.ExpRef:
    """The one experiment among CANDIDATES that SPECS names: a full ref, a
    name, or a unique sha prefix. WHERE ("on origin") goes into the errors."""
    place = f" {where}" if where else ""
    if spec.startswith("refs/"):
        for r in candidates:
            if r.ref == spec:
                return r
        raise ExpError(f"no experiment ref '{spec}'{place}", hint=f"'{lister}' lists them")
    by_name = [r for r in candidates if r.name == spec]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        listing = "\n".join(f"  {r.ref} ({r.sha[:7]})" for r in by_name)
        raise ExpError(f"'{spec}' names {len(by_name)} experiments{place}:\n{listing}",
                       hint="use a sha prefix or the full ref to pick one")
    if len(spec) >= 4 and all(c in "0123456789abcdef" for c in spec.lower()):
        by_sha = [r for r in candidates if r.sha.startswith(spec.lower())]
        if len(by_sha) == 1:
            return by_sha[0]
        if len(by_sha) > 1:
            listing = "\n".join(f"  {r.name} ({r.sha[:12]})" for r in by_sha)
            raise ExpError(f"sha prefix '{spec}' is ambiguous{place}:\n{listing}",
                           hint="give more digits")
    import difflib
    close = difflib.get_close_matches(spec, sorted({r.name for r in candidates}), n=3)
    raise ExpError(f"no experiment named '{spec}'{place}",
                   hint=(f"did you mean {', '.join(close)}? " if close else "")
                   + f"'{lister}' lists them")


def resolve_revision(repo, spec: str, all_refs: list[refs.ExpRef] | None = None
                     ) -> tuple[str, refs.ExpRef | None]:
    """The commit SPEC names for diff, metrics, plots and the Python API, and
    its experiment (None for a plain commit): an experiment's name wins over a
    branch of the same name, then any Git revision, then an experiment's sha
    prefix. The error names both kinds of thing SPEC could have been."""
    every = refs.list_refs(repo.root) if all_refs is None else all_refs
    if spec.startswith(refs.PREFIX) or any(r.name == spec for r in every):
        found = resolve(repo, spec, every)
        return found.sha, found
    proc = git(["rev-parse", "--verify", "-q", "--end-of-options", spec + "^{commit}"],
               cwd=repo.root, check=False)
    if proc.returncode != 0:
        try:
            found = resolve(repo, spec, every)   # a sha prefix of an experiment, or a good error
        except ExpError as exc:
            raise ExpError(f"'{spec}' is neither an experiment nor a revision",
                           hint=exc.hint) from None
        return found.sha, found
    sha = proc.stdout.decode().strip()
    return sha, next((r for r in every if r.sha == sha), None)
