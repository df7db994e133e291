"""`git exp import-dvc`: bring a DVC 3.x project over, files, cache and experiments.

The pieces, each with one job:

    dvcfiles     reading dvc.yaml, dvc.lock and `.dvc` files (untrusted, bounded)
    objects      DVC's MD5 cache -> our SHA-256 cache, each object verified on the way
    convert      one tree (the work tree or a commit) -> exp.yaml, exp.lock, pointers
    experiments  DVC's experiment refs -> ours, same name, same baseline
    remotes      `.dvc/config` remotes -> data-remote settings in .expconfig
    plan         the whole import as a plan (what --dry-run prints) and carrying it out

Nothing here prints: the plan and its outcome are data the command renders.
"""
