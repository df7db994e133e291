"""The kinds of data remote, one module each, behind the interface in base.py.

base.py       DataRemote (has_many, put, get, list), write_verified, the shared errors
directory.py  a directory: local disk, NFS, a mounted share, another clone's cache
s3.py         s3://BUCKET/PREFIX through boto3 (the optional extra git-exp[s3])
ssh.py        ssh://[user@]host[:port]/path and host:path through the user's `ssh`

Which kind a location is, and which location pairs with a Git remote, is
decided in sharing/remote.py; callers import the public names from there.
"""
