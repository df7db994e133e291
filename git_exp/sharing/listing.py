"""The experiments on a Git remote: list them and delete them, without fetching.

Both ask the remote with one `git ls-remote`; deletion is a `git push` of
empty refspecs, each with a lease on the commit the listing saw, so an
experiment someone re-pushed in between is not deleted by mistake.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from git_exp.errors import ExpError
from git_exp.experiments import refs
from git_exp.repo import Repository
from git_exp.sharing import gitremote


@dataclass
class RemoteListing:
    groups: list = field(default_factory=list)   # experiments.manage.Group, HEAD's baseline first
    hidden: int = 0                              # experiments of other commits, not listed


def list_remote(repo: Repository, remote: str, all_commits: bool = False) -> RemoteListing:
    from git_exp.experiments.manage import Group, head_sha, labels_for

    exps, listing = gitremote.remote_experiments(repo.root, remote, ["refs/heads/*", "refs/tags/*"])
    head = head_sha(repo)
    shown = exps if all_commits else [r for r in exps if r.baseline == head]
    baselines = sorted({r.baseline for r in shown}, key=lambda b: (b != head, b))
    # Label a baseline as `git exp list` does, by your branch and tag names;
    # one you have no name for (your branch moved on, or you never had the
    # commit) by the remote's, as 'origin/main', before falling back to a sha.
    theirs: dict[str, list[str]] = {}
    for ref, sha in sorted(listing.items()):
        for prefix in ("refs/heads/", "refs/tags/"):
            if ref.startswith(prefix):
                theirs.setdefault(sha, []).append(f"{remote}/{ref[len(prefix):]}")
    ours = labels_for(repo, set(baselines))
    groups = []
    for b in baselines:
        label = ours[b]
        if label == b[:7] and b in theirs:
            label = ", ".join(theirs[b])
        groups.append(Group(b, label, [r for r in shown if r.baseline == b]))
    return RemoteListing(groups, len(exps) - len(shown))


def remove_remote(repo: Repository, remote: str, specs: list[str], all_of_head: bool = False,
                  all_commits: bool = False) -> list[refs.ExpRef]:
    """Delete experiments on REMOTE; the ones deleted (ExpError if any could not be)."""
    from git_exp.experiments.manage import head_sha
    from git_exp.sharing.selection import choose

    if not (specs or all_of_head or all_commits):
        raise ExpError("nothing to remove", hint=f"name experiments on '{remote}', or use --all or -A")
    from git_exp.sharing.logs import PATTERN, orphaned_logs
    exps, listing = gitremote.remote_experiments(repo.root, remote, [PATTERN])
    chosen = choose(exps, list(specs), head_sha(repo), all_of_head, all_commits,
                    where=f"on '{remote}'", lister=f"git exp list {remote} -A")
    if not chosen:
        return []
    logs = orphaned_logs(chosen, exps, listing)   # their run logs go too, unless another uses them
    statuses, error = gitremote.push(repo.root, remote,
                                     [f":{r.ref}" for r in chosen] + [f":{ref}" for ref in logs],
                                     leases={**{r.ref: r.sha for r in chosen}, **logs},
                                     env={gitremote.DATA_SENT_ENV: "1"})
    removed = [r for r in chosen if statuses.get(r.ref) and statuses[r.ref].flag == "-"]
    failed = [r for r in chosen if r not in removed]
    if failed:
        detail = "\n".join(f"  {r.name}: {statuses[r.ref].summary if r.ref in statuses else error}"
                           for r in failed)
        done = f" ({len(removed)} removed)" if removed else ""
        raise ExpError(f"could not remove {len(failed)} experiment(s) from '{remote}'{done}:\n{detail}",
                       hint=f"'git exp list {remote} -A' shows what is there now")
    return removed
