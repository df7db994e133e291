"""The experiment queue: entries are Git refs, claims are compare-and-swap.

No broker and no daemon to keep alive (the reference tool's Celery queue on
a file broker hangs and loses logs: dvc#10562, #10673, #8192). The whole
queue is in Git, so it survives crashes and restarts and `git log` shows it:

    refs/exps-queue/<id>     a queued entry: a commit of the work tree with
                             the point's params already set, parent HEAD
    refs/exps-running/<id>   a claimed entry: a "claim" commit on top of the
                             entry that names its owner (pid, host, start)
    refs/exps/<base>/<name>  the result: an ordinary experiment

A claim is one `git update-ref --stdin` transaction that deletes the queue
ref (checking its sha) and creates the running ref, so two workers can
never both win it. The claim commit is unique per claim, so giving an entry
back after its worker died is again a compare-and-swap that cannot undo a
newer claim (no ABA). Small JSON files under <exp_dir>/queue/ add what Git
need not keep: progress, and the outcome of finished entries.

Modules: entries (reading the refs), enqueue (writing entries), claims,
procs (process identity), state (JSON files), checkout (temporary
worktrees), executor (run one entry, report the outcome), finish (turning
an outcome into records), recovery, worker (the loop and its processes),
control (status, logs, kill, stop, remove), logs (`git exp logs` across
the queue and experiments), pending (entries as `show` lists them) and
parallel (`run -j`). For entries handed to an engine (git_exp/distributed):
results, home and arrival (results coming back from the shared remote) and
records (which executor holds which entry).
"""
