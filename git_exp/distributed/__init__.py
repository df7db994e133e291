"""Running queue entries on other machines: Dask distributed, Slurm.

When a sweep outgrows one machine, git-exp hands its queue entries to an
engine that already knows how to schedule, retry and manage workers, and
keeps the queue's state where it always is: in Git. The shared Git remote
holds the entries (refs/exps-queue/<id>), each attempt's claim
(refs/exps-running/<id>, a claim commit as in the local queue, moved by a
plain fast-forward push) and the results (refs/exps/<baseline>/<name>), so
a restarted client or a lost engine loses nothing.

Every engine runs the same worker command, `git exp exec-entry`, once per
entry (worker.py): fetch that entry, check it out in a temporary clone,
pull its inputs from the data remote, run the pipeline, push the outputs'
data and then the result with a non-force push. Engines are at-least-once,
so a run is idempotent: the first result pushed wins, and a later attempt
finds it there and reports a duplicate. The workload runs in a process
group of its own that ends when its worker dies (lifeline.py), so a killed
worker never leaves a training process behind to finish a second time.

Modules: worker (the worker command's core), lifeline (dying with the
parent), dispatch (the client: claim locally, push entries, submit, fetch
results back), progress (a run's metrics so far, on the remote), executors
(parsing --executor), start (`queue start --executor`), dask_engine and
dask_task (Dask; the only modules that import it), slurm and sbatch (Slurm;
no Python dependency). Finding a result on the remote, bringing results
home and the records of which executor holds which entry are the queue's
(queue/results.py, home.py, arrival.py, records.py): its recovery needs them.
"""
