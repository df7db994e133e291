"""Time and peak memory of one command, and steps run alternately, several times.

Each command runs under a small wrapper process that starts it, waits, and
reports the wall time, the CPU time (user + system) and
getrusage(RUSAGE_CHILDREN).ru_maxrss: the largest resident set of the
command or of any descendant it waited for (a stage's own process included).
CPU time barely moves when other work shares the machine; wall time does. A fresh wrapper per command matters because
ru_maxrss is a maximum over the life of the process that asks, never reset.
The wrapper's own start-up is outside the timed span.

Benchmarks print figures; nothing here asserts on time.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,\n"
    "                   stderr=subprocess.PIPE)\n"
    "dt = time.perf_counter() - t\n"
    "sys.stderr.buffer.write(p.stderr[-3000:])\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(p.returncode, dt, ru.ru_maxrss, ru.ru_utime + ru.ru_stime)\n")

# No command of ours should take this long; a hung one must not hang the bench.
TIMEOUT = 1800


class StepFailed(Exception):
    """A measured command exited non-zero, timed out, or its preparation failed."""


@dataclass
class Sample:
    seconds: float
    peak_kib: int
    cpu: float = 0.0     # user + system seconds of the command and what it waited for


def measure(argv: list[str], cwd: str, env: dict[str, str], timeout: float = TIMEOUT) -> Sample:
    """Run ARGV once from a fresh wrapper; its wall time and peak RSS."""
    try:
        proc = subprocess.run([sys.executable, "-c", WRAPPER, *argv], cwd=cwd, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StepFailed(f"timed out after {timeout:.0f} s") from None
    except OSError as exc:
        raise StepFailed(f"cannot start: {exc}") from None
    try:
        code, seconds, peak, cpu = proc.stdout.decode().split()[-4:]
    except ValueError:
        raise StepFailed(f"the wrapper failed: {proc.stderr.decode(errors='replace')[-500:]}") from None
    if int(code) != 0:
        raise StepFailed(f"exit {code}: {last_line(proc.stderr.decode(errors='replace'))}")
    return Sample(float(seconds), int(peak), float(cpu))


def last_line(text: str) -> str:
    """The most telling line of an error output: the last one that says something."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.lower().startswith(("error", "fatal")):
            return line[:200]
    return lines[-1][:200] if lines else "(no output)"


@dataclass
class Figures:
    """The samples of one row and what went wrong with them, if anything."""
    samples: list[Sample] = field(default_factory=list)
    error: Optional[str] = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.samples) and self.error is None

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def low(self) -> float:
        return min(s.seconds for s in self.samples)

    @property
    def high(self) -> float:
        return max(s.seconds for s in self.samples)

    @property
    def cpu_median(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def peak_mib(self) -> float:
        return max(s.peak_kib for s in self.samples) / 1024

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


@dataclass
class Step:
    """One command of one participant (git-exp, DVC or a physical limit).

    `prepare` runs untimed just before each measurement (e.g. a fresh
    repository, data removed); `check` runs after it and returns a note when
    the command did not do the work it was meant to (e.g. pushed no data),
    so a fast wrong answer never passes for a fast right one. A step whose
    `unavailable` is set is not run; its row says why.
    """
    key: str
    argv: "Optional[list[str] | Callable[[], list[str]]]"   # a callable: new arguments each round
    cwd: str
    env: dict[str, str]
    prepare: Optional[Callable[[], None]] = None
    check: Optional[Callable[[], Optional[str]]] = None
    unavailable: Optional[str] = None


def alternate(groups: list[list[Step]], runs: int, warmup: int = 0,
              log: Callable[[str], None] = lambda s: None) -> dict[str, Figures]:
    """Measure every group's steps RUNS times, rotating which group goes first.

    A group is one participant's steps in order (add, then checkout, ...).
    Rotating the order each round (AB, BA, AB, ...) keeps whatever the
    previous command left behind (page cache, CPU frequency) from always
    favouring the same tool. Warm-up rounds run the same way, unrecorded.
    A group whose step fails is stopped there: later steps depend on it.
    """
    results = {step.key: Figures() for group in groups for step in group}
    for step in (s for group in groups for s in group if s.unavailable):
        results[step.key].error = step.unavailable
    live = [list(group) for group in groups]
    for rnd in range(warmup + runs):
        recording = rnd >= warmup
        shift = rnd % len(live) if live else 0
        for group in live[shift:] + live[:shift]:
            for step in group:
                if step.unavailable or results[step.key].error:
                    break
                try:
                    if step.prepare:
                        step.prepare()
                    # Start with no dirty pages: otherwise the write-back of what the
                    # preparation or the previous command wrote (a 1 GiB copy) is
                    # charged to whichever command happens to run next.
                    os.sync()
                    argv = step.argv() if callable(step.argv) else step.argv
                    sample = measure(argv, step.cwd, step.env)
                    note = step.check() if step.check else None
                except (StepFailed, OSError, subprocess.CalledProcessError) as exc:
                    results[step.key].error = f"failed ({describe(exc)})"
                    log(f"  {step.key}: {results[step.key].error}")
                    break
                if note:
                    results[step.key].note(note)
                if recording:
                    results[step.key].samples.append(sample)
                    log(f"  {step.key}: {sample.seconds:.3f} s, {sample.peak_kib / 1024:.0f} MiB")
    return results


def describe(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        cmd = exc.cmd if isinstance(exc.cmd, str) else " ".join(map(str, exc.cmd[:3]))
        return f"preparing: {cmd} exited {exc.returncode}: {last_line(err)}"
    if isinstance(exc, StepFailed):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def timed(fn: Callable[[], object]) -> float:
    """Seconds FN takes, for set-up steps the report mentions but does not tabulate."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
