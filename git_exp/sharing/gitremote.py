"""The Git side of sharing: ls-remote, push and fetch, run with the user's own `git`.

Credential helpers, SSH agent and config, proxies and url.insteadOf behave
exactly as for the user's `git push` because it is their `git` that runs.
Git writes its prompts to the terminal itself, so capturing its output here
never hides a password or host-key question.
"""
from __future__ import annotations

from dataclasses import dataclass

from git_exp.errors import ExpError
from git_exp.experiments import refs
from git_exp.git import git, reason

# Set for the `git push` that `git exp push` runs after it sent the data
# itself, so our pre-push hook does not look for the same data again.
DATA_SENT_ENV = "GIT_EXP_DATA_SENT"


def ls_remote(root: str, remote: str, patterns: list[str]) -> dict[str, str]:
    """ref -> sha of the remote's refs matching PATTERNS (tags peeled), one request."""
    proc = git(["ls-remote", remote, *patterns], cwd=root, check=False)
    if proc.returncode != 0:
        raise ExpError(f"cannot list the refs of '{remote}': {reason(proc.stderr, proc.returncode)}",
                       hint="check the remote's name or URL with 'git remote -v'")
    found: dict[str, str] = {}
    for line in proc.stdout.decode("utf-8", "surrogateescape").splitlines():
        sha, _, ref = line.partition("\t")
        if ref.endswith("^{}"):
            found[ref[:-3]] = sha  # a tag's peeled commit is what a baseline matches
        elif ref not in found:
            found[ref] = sha
    return found


def remote_experiments(root: str, remote: str, extra: list[str] | None = None
                       ) -> tuple[list[refs.ExpRef], dict[str, str]]:
    """The experiments on REMOTE, and every ref ls-remote returned (EXTRA patterns too)."""
    listing = ls_remote(root, remote, [refs.PREFIX + "*", *(extra or [])])
    found = [r for r in (refs.parse_ref(ref, sha) for ref, sha in sorted(listing.items())) if r]
    return found, listing


@dataclass
class RefStatus:
    flag: str       # Git's porcelain flag: ' ' '+' '-' '*' '!' '=' ('?' when Git did not say)
    summary: str    # e.g. "[new reference]", "[rejected] (non-fast-forward)"


def push(root: str, remote: str, refspecs: list[str], leases: dict[str, str] | None = None,
         env: dict | None = None, atomic: bool = False) -> tuple[dict[str, RefStatus], str]:
    """Run `git push --porcelain`; (remote ref -> status, Git's error text).

    LEASES (remote ref -> the sha it must still have) become
    --force-with-lease options, so a ref someone changed meanwhile is left
    alone. `git push` takes refspecs only as arguments, so a long list is
    pushed in batches that stay far below the command-line length limit.
    """
    statuses: dict[str, RefStatus] = {}
    errors = []
    for start in range(0, len(refspecs), _PUSH_BATCH):
        batch = refspecs[start:start + _PUSH_BATCH]
        targets = [spec.rpartition(":")[2] for spec in batch]
        options = [f"--force-with-lease={ref}:{(leases or {})[ref]}"
                   for ref in targets if ref in (leases or {})]
        proc = git(["push", "--porcelain", *(["--atomic"] * atomic), *options, remote, *batch], cwd=root,
                   check=False, env=env)
        found = _parse_porcelain(proc.stdout)
        if proc.returncode != 0:
            if not found:
                raise ExpError(f"git push to '{remote}' failed: {reason(proc.stderr, proc.returncode)}")
            errors.append(reason(proc.stderr, proc.returncode))
        statuses.update(found)
    return statuses, "; ".join(dict.fromkeys(errors))


_PUSH_BATCH = 1000


def _parse_porcelain(stdout: bytes) -> dict[str, RefStatus]:
    statuses = {}
    for line in stdout.decode("utf-8", "surrogateescape").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or len(parts[0]) != 1:
            continue  # "To <url>", "Done"
        flag, spec, summary = parts[0], parts[1], parts[2]
        statuses[spec.rpartition(":")[2]] = RefStatus(flag, summary)
    return statuses


def fetch(root: str, remote: str, refspecs: list[str]) -> None:
    """`git fetch` of explicit refspecs; nothing else (no tags, no other refs)."""
    if not refspecs:
        return
    # A long list goes through --stdin so ten thousand refs never hit the
    # command-line length limit (git fetch reads refspecs there since 2.29).
    proc = git(["fetch", "--no-tags", "--no-write-fetch-head", "--stdin", remote], cwd=root,
               check=False, input=("\n".join(refspecs) + "\n").encode())
    if proc.returncode != 0:
        raise ExpError(f"git fetch from '{remote}' failed: {reason(proc.stderr, proc.returncode)}")
