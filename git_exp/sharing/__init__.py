"""Sharing experiments between repositories: refs through the user's own `git`.

Rank 9 of the package map: it reads records (worktree/) and experiments'
refs, and moves data only through remotes/ (the data remotes and transfers).
It never prints: the commands and the hook render what it returns.

gitremote.py  ls-remote, push and fetch through the user's `git`, with their output parsed
needed.py     which cached objects the commits being pushed refer to, found cheaply
push.py, pull.py, listing.py, selection.py: what `git exp push/pull/list REMOTE/remove REMOTE` do
prepush.py    the pre-push hook: the data the pushed commits need goes first
fetch.py      `git exp fetch`: the data whole revisions record (the transfer is remotes/fetch.py's)
logs.py       run logs as refs/exp-logs/<sha>, sent by push and brought by pull
notes.py      notes and tags (refs/exp-notes/<sha>): sent by push, checked and merged by pull
foreign.py, foreign_files.py: `git exp get/ls URL PATH`, files of another repository
"""
