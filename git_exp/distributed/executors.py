"""What `--executor` and `--resources` mean, and opening the engine they name.

    local              the default: workers on this machine (queue/worker.py)
    dask://HOST[:PORT] a Dask distributed scheduler (port 8786 by default);
                       dask-jobqueue and dask-kubernetes clusters expose one too
    slurm              `sbatch --array` on this machine's Slurm cluster
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from git_exp.errors import ExpError, UsageError
from git_exp.repo import Repository

if TYPE_CHECKING:
    from git_exp.distributed.dispatch import Engine

DASK_PORT = 8786


@dataclass(frozen=True)
class ExecutorSpec:
    kind: str              # "local", "dask" or "slurm"
    address: str = ""      # the Dask scheduler, as distributed spells it (tcp://host:port)
    text: str = "local"    # as the user wrote it; recorded with each experiment


def parse_executor(text: str | None) -> ExecutorSpec:
    value = (text or "local").strip()
    if value == "local":
        return ExecutorSpec("local")
    if value == "slurm":
        return ExecutorSpec("slurm", text="slurm")
    if value.startswith("dask://"):
        hostport = value[len("dask://"):].rstrip("/")
        host, sep, port = hostport.rpartition(":")
        if not sep or "]" in port:   # no port given (or an IPv6 address without one)
            host, port = hostport, str(DASK_PORT)
        if not host or not port.isdigit():
            raise UsageError(f"invalid Dask scheduler address '{value}'",
                             hint="write it as dask://HOST:PORT, e.g. dask://10.0.0.5:8786")
        return ExecutorSpec("dask", f"tcp://{host}:{port}", value)
    raise UsageError(f"unknown executor '{value}'",
                     hint="use local (the default), dask://HOST:PORT or slurm")


def parse_resources(items: list[str]) -> dict[str, float]:
    """'GPU=1', 'GPU=1,MEM=4e9' or 'GPU=1 MEM=4e9' (as `dask worker --resources` takes them)."""
    found: dict[str, float] = {}
    for item in items:
        for part in item.replace(",", " ").split():
            name, sep, amount = part.partition("=")
            try:
                value = float(amount)
            except ValueError:
                value = -1.0
            if not sep or not name or value < 0:
                raise UsageError(f"invalid resource '{part}'",
                                 hint="write NAME=AMOUNT, e.g. --resources GPU=1")
            found[name] = value
    return found


def open_engine(repo: Repository, spec: ExecutorSpec, *, resources: dict[str, float] | None = None,
                sbatch_args: Sequence[str] = (), jobs: int | None = None) -> Engine:
    """The engine SPEC names (dispatch.Engine); ExpError if it cannot be reached."""
    if spec.kind == "dask":
        from git_exp.distributed.dask_engine import DaskEngine
        return DaskEngine(spec.address, spec.text, resources or {}, jobs)
    if spec.kind == "slurm":
        from git_exp.distributed.slurm import SlurmEngine
        return SlurmEngine(repo, list(sbatch_args), jobs)
    raise ExpError(f"the {spec.kind} executor has no engine here")
