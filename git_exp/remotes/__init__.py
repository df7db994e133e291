"""Data transport: the data remotes, and moving objects between them and the cache.

Rank 4 of the package map (tests/test_architecture.py): this package imports
only the foundation, git, params and data/, never records (worktree/),
experiments or sharing/, so checkout, the hooks, apply and `git exp get` can
bring data in without the experiment machinery.

base.py       the data-remote interface (has_many, put, get, list), write_verified, the shared errors
directory.py  a directory: local disk, NFS, a mounted share, another clone's cache
s3.py         s3://BUCKET/PREFIX through boto3 (the optional extra git-exp[s3])
ssh.py        ssh://[user@]host[:port]/path and host:path through the user's `ssh` (sshscripts.py)
lfs/          a Git host's LFS store (Batch API), with no configuration
location.py   which data remote a location names, and which one a Git remote pairs with
pairing.py    `git exp remote`: each Git remote's data remote and the setting that chose it
transfer.py   bulk "which objects are missing", parallel send/receive, never a partial object
needs.py      which objects are wanted, and by whom (for messages naming what is missing)
fetch.py      the objects some records need that the cache lacks, from the data remote:
              what checkout, the hooks, apply and repro fetch on their own
"""
