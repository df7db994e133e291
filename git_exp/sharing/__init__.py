"""Sharing experiments: refs through the user's own `git`, data through a data remote.

remote.py    which data remote a location names and which one a Git remote pairs with;
             re-exports the interface (DataRemote, DirectoryRemote, write_verified, errors)
remotes/     one module per kind of data remote: base (the interface), directory, s3, ssh
transfer.py  bulk "which objects are missing", parallel send/receive, never a partial object
gitremote.py ls-remote, push and fetch through the user's `git`, with their output parsed
needed.py    which cached objects the commits being pushed refer to, found cheaply
push.py, pull.py, listing.py, prepush.py: the operations the commands and the hook call
fetch.py     git exp fetch, and what checkout, the hooks and apply fetch on their own
logs.py      run logs as refs/exp-logs/<sha>, sent by push and brought by pull
notes.py     notes and tags (refs/exp-notes/<sha>): sent by push, checked and merged by pull
pairing.py   git exp remote: each Git remote's data remote and the setting that chose it
"""
