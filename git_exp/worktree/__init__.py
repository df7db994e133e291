"""The work tree's data and its records, above the pipeline and below experiments.

    records    which data a commit, the index or the work tree records (pointers,
               exp.lock outs, Exp-Data trailers); many commits at once for gc and push
    paths      repo-relative paths, the write check for untrusted data paths, the cache
    synced     the memory of what the last checkout/add left in this work tree
    add        `git exp add`: store data, write its pointer, ignore it in Git
    status     `git exp status`: stages that would run, data that differs from its record
    precommit  the pre-commit hook: re-store data whose staged pointer is stale
    edits      which bytes in the work tree are the user's own
    sync       `git exp checkout` and the post-checkout/post-merge hooks
    backups    the one writer of backup commits (refs/exp-backups/)
    access     reading one file of any revision, fetching missing data (the API's open)

Nothing is imported here on purpose: hooks import single modules.
"""
