"""Pure storage: the content-addressed cache and what it is made of.

    hashing   sha256 of files (streamed) and directory manifests
    state     (path, inode, mtime, size) -> hash memo in SQLite
    links     put a cache object in the work tree: reflink, hardlink, symlink, copy
    cache     objects by hash under <exp_dir>/cache; save, checkout, verify
              (cache_save: saving a folder's files; cache_checkout: writing
              objects out; cachefiles: the file primitives)
    runcache  stage fingerprint -> outs, to restore results without running
    pointer   the `PATH.exp` format (read and checked; worktree/ writes them)
    parallel  a small thread pool for hashing and copying many files
              (parallel_procs: forked workers, for a save of many small files)

What the work tree records and holds is worktree/'s; gc and fsck are upkeep/'s.

Nothing is imported here on purpose: hooks import single modules of this
package and must not pay for SQLite or JSON when they have nothing to do.
"""
