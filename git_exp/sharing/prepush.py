"""The pre-push hook's work: upload the data the pushed commits need, before Git sends them.

Git runs `pre-push <remote name> <url>` with one stdin line per ref:
`<local ref> <local sha> <remote ref> <remote sha>`, and sends nothing if
the hook fails. So a plain `git push origin 'refs/exps/*:refs/exps/*'`
cannot deliver an experiment whose data is not on the data remote: either
the data goes first, or the push stops with the paths and experiments
that lack it. Deletions are skipped. A push whose commits change no file
that records data returns after two `git` calls, asking the data remote
nothing (see needed.py).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from git_exp.errors import ExpError
from git_exp.repo import Repository

if TYPE_CHECKING:
    from git_exp.remotes.transfer import Progress
    from git_exp.sharing.push import DataResult


def parse_lines(lines: list[str]) -> list[tuple[str, str, str, str]]:
    """Git's stdin lines as (local ref, local sha, remote ref, remote sha), deletions dropped."""
    updates = []
    for line in lines:
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4:
            raise ExpError(f"pre-push: cannot read the line {line.strip()!r}",
                           hint="Git gives '<local ref> <local sha> <remote ref> <remote sha>' lines")
        if set(parts[1]) == {"0"}:
            continue  # a deletion sends no commit, so no data
        updates.append((parts[0], parts[1], parts[2], parts[3]))
    return updates


def pre_push(repo: Repository, remote_name: str, remote_url: str, lines: list[str],
             progress: Progress | None = None) -> DataResult | None:
    """Upload what the pushed commits need; what was sent, or None when nothing had to be.

    ExpError when the data cannot go first: the hook then fails and Git
    sends nothing (commands/hook.py says why). PROGRESS is the transfer's
    Progress callback (the hook command's terminal line, ui/progress.py).
    """
    from git_exp.sharing.gitremote import DATA_SENT_ENV
    if os.environ.get(DATA_SENT_ENV):
        return None  # `git exp push` sent the data itself just before (or was told not to)
    updates = parse_lines(lines)
    if not updates:
        return None
    from git_exp.sharing.needed import label_for, needed_objects

    tips: dict[str, str] = {}
    for local_ref, local_sha, _, _ in updates:
        tips.setdefault(local_sha, label_for(local_ref))
    remote_has = [sha for _, _, _, sha in updates if set(sha) != {"0"}]
    needs = needed_objects(repo, tips, remote_has, remote_name)
    if not needs.objects:
        return None  # the common case: two `git` calls, nothing else imported
    from git_exp.sharing.push import upload
    return upload(repo, remote_name, remote_url or None, needs, progress=progress)
