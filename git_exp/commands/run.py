"""git exp run: run the pipeline and record the result as an experiment."""
from __future__ import annotations

import sys

from git_exp.commands.run_report import failure_tail, metrics_line, quiet_line
from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing at start-up (mypy reads the name as True)
if TYPE_CHECKING:   # the runner's base class, for the type checker only: importing it
    # at run time would load the pipeline runner on `run`'s no-op path
    from argparse import ArgumentParser, Namespace

    from git_exp.experiments.refs import ExpRef
    from git_exp.pipeline.records import Stage
    from git_exp.pipeline.runner import Events as _RunEvents, StagePlan
    from git_exp.repo import Repository
    from git_exp.ui.console import Console
else:
    _RunEvents = object

# cli.main_and_exit may end the process without the interpreter's teardown: every
# file run writes is closed before run() returns, and what it starts to outlive
# it (queue workers) are processes of their own. cli.py still checks that no
# thread or atexit callback is left.
EXIT_WITHOUT_TEARDOWN = True

DESCRIPTION = """\
Runs the stages of exp.yaml in dependency order and records the result as an
experiment: a Git commit whose parent is HEAD, stored under
refs/exps/<baseline-sha>/<name>. HEAD, the current branch and the index do not
move; the results stay in the work tree.

A stage is skipped when its command, the content of every dep and the values
of its tracked params are those recorded in exp.lock and its outs are present
and unchanged. A stage whose exact inputs ran before is restored from the run
cache instead of running, and says so; --no-run-cache always runs it. -f
runs every selected stage, up to date or not, and never restores one from
the run cache (its fresh result still goes there).

--dry prints which stages would run and why, and changes nothing: with -S
the new values are applied in memory only, so it says what would run with
them while params files, exp.lock and every other file stay as they are.
-q prints one line: the experiment and its status (stage output and
progress stay in its log: git exp logs NAME).

-S edits a params file in place before the run, changing only the bytes of
the value: comments, quotes, layout and key order stay as written. VALUE is
typed like a YAML scalar (32, 0.01, true, null, 'a b', [1, 2]). KEY must
exist; +KEY=VALUE adds a key, ++KEY=VALUE adds or sets one, ~KEY deletes one.
FILE: picks another params file than params.yaml: .yaml, .json, .toml or a
Python file (params.py:LR=0.02 sets a constant, a dict entry or a class
attribute; adding and deleting code is refused). KEY parts are joined by
dots; a whole number picks a list element (layers.0=32); a part holding a
dot goes in double quotes (-S 'server."http.conf"=x'). See git-exp-params(1).

The experiment commit holds the whole work tree as the run left it: tracked
files and untracked files Git does not ignore, params, exp.lock, metrics and
plots. Cached outs are listed in .gitignore and enter the commit only through
their hashes in exp.lock. A file over exp.maxCommitFileSize (default 10m)
that would enter the commit stops the run before anything is executed.

Every run that started is recorded, also when a stage fails or the run is
interrupted, with its status and its log (git exp logs NAME). An unnamed run
in which nothing ran and whose work tree equals an experiment of the same
commit is not recorded again; it names that experiment instead. Stage commands
see GIT_EXP_NAME, GIT_EXP_BASELINE, GIT_EXP_STAGE and GIT_EXP_ROOT.

-S also takes sweeps: KEY=0.1,0.01 or KEY=choice(a,b,c) list values,
KEY=range(START,STOP[,STEP]) counts (STOP excluded; floats too). Several
sweeping -S form a grid, the first varying slowest. With -n NAME the points
are named NAME-1, NAME-2, ... A sweep describes several experiments, so it
needs --queue or -j.

--queue stores each point as a Git commit of the work tree with its params
already set, under refs/exps-queue/, and prints the ids and names; your
files are not changed. git exp queue start runs them in the background (see
git-exp-queue(1)); --queue -j N starts N workers at once. -j N without
--queue runs the points with N workers in the foreground and returns when
all are done, with a summary. Queued and parallel runs each happen in a
temporary checkout inside the Git directory, sharing the cache and the run
cache; their results are experiments like any other, and your work tree,
index and HEAD are untouched. --temp runs a single experiment that way, in
the foreground.
"""

EXAMPLES = [
    "git exp run",
    "git exp run -S train.lr=0.05 -n fast-lr",
    "git exp run -S other.yaml:model.units=64 train",
    "git exp run --dry",
    "git exp run -j 2 -S train.lr=0.1,0.01 -S train.epochs=range(1,4) -n grid",
    "git exp run --queue -S 'model.kind=choice(cnn,mlp)'",
    "git exp run --temp -S train.lr=0.2",
]

SECTIONS = [("Configuration", """\
exp.maxCommitFileSize: the largest file (bytes, or with k, m, g) a run may put
into its experiment commit; default 10m.

exp.cache.type: link types tried in order to place cached outputs in the work
tree: reflink, hardlink, symlink, copy; default reflink,copy.
""")]


def configure(parser: ArgumentParser) -> None:
    from git_exp.commands.argtypes import positive_int   # argparse's: not on the no-op path
    parser.add_argument("stages", nargs="*", metavar="STAGE",
                        help="run only these stages (and the stages they depend on)")
    parser.add_argument("-S", "--set-param", action="append", default=[], metavar="[FILE:]KEY=VALUE",
                        help="set a param before running (repeatable); +KEY=V adds, ++KEY=V adds "
                             "or sets, ~KEY deletes")
    parser.add_argument("-n", "--name", help="name the experiment (default: a generated adjective-noun); names Git "
                             "reads as a revision (HEAD, a branch or tag, 4+ hex digits) are refused")
    parser.add_argument("-m", "--message", help="a message to keep with the experiment")
    parser.add_argument("-f", "--force", action="store_true",
                        help="run every stage even if up to date, never restoring from the run "
                             "cache; replace an experiment of the same name")
    parser.add_argument("--downstream", action="store_true",
                        help="with STAGE: run the stages that depend on it instead of those it depends on")
    parser.add_argument("--no-run-cache", action="store_true",
                        help="always run stages; never restore their outputs from the run cache")
    parser.add_argument("--dry", action="store_true",
                        help="print which stages would run and why (with -S: with those values); "
                             "change nothing")
    parser.add_argument("--queue", action="store_true",
                        help="queue the run (each point of a sweep) instead of running it now")
    parser.add_argument("-j", "--jobs", type=positive_int, metavar="N",
                        help="run the points in N temporary checkouts at a time and wait for them "
                             "(with --queue: start N background workers)")
    parser.add_argument("--temp", action="store_true",
                        help="run in a temporary checkout, leaving the work tree as it is")


class ConsoleEvents(_RunEvents):
    """A run's events as lines on the console."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def stage_skipped(self, stage: Stage, reason: str) -> None:
        self.console.info(f"Stage '{stage.name}' skipped: {reason}.")

    def stage_started(self, stage: Stage, reasons: list[str]) -> None:
        self.console.info(self.console.paint(f"Running stage '{stage.name}'", "bold")
                          + f" ({'; '.join(reasons)}):")
        for command in stage.cmd:
            self.console.info(f"> {command}")

    def stage_restored(self, stage: Stage, created: str) -> None:
        self.console.info(f"Stage '{stage.name}' restored from the run cache "
                          f"(first produced {created}).")

    def stage_finished(self, stage: Stage, seconds: float) -> None:
        self.console.info(f"Stage '{stage.name}' finished in {seconds:.1f}s.")

    def output(self, data: bytes) -> None:
        if self.console.quiet:
            return   # -q: the output is in the experiment's log
        out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
        if out is None:
            self.console.stdout.write(data.decode("utf-8", "replace"))
        else:
            out.write(data)
            out.flush()


def answer_early(argv: list[str], console: Console) -> int | None:
    """A plain `git exp run` (no argument at all: the one the no-op memo
    remembers, see noopmemo.plain_run) answered before argparse is imported,
    when nothing changed since its last no-op. None otherwise; the repository
    found on the way is kept for run() of the same invocation.

    `git exp run -S K=V [-S K=V ...]` and nothing else runs from here too,
    without argparse (~5 ms to import and build): see _only_sets."""
    if argv:
        sets = _only_sets(argv)
        return None if sets is None else run(_RunArgs(sets), console)
    from git_exp.errors import ExpError
    from git_exp.repo import discover
    try:
        repo = discover()
    except ExpError:
        return None     # the same error again in run(), after argparse had its say
    console.early = repo
    return _replayed(repo, console)


def _only_sets(argv: list[str]) -> list[str] | None:
    """The values of ARGV when it holds only `-S VALUE` / `--set-param VALUE`
    pairs, each VALUE non-empty and not starting with '-'; else None, and
    argparse reads ARGV (any other option or form, a stage name, -h, a value
    argparse could take for an option, a missing value: its answer and errors
    stay its own). For these pairs argparse's answer is exactly this list."""
    if len(argv) % 2:
        return None
    values = []
    for option, value in zip(argv[::2], argv[1::2]):
        if option not in ("-S", "--set-param") or not value or value.startswith("-"):
            return None
        values.append(value)
    return values


class _RunArgs:
    """What configure()'s parser makes of `run -S V ...` (see _only_sets): its defaults and SETS."""

    def __init__(self, sets: list[str]) -> None:
        self.stages: list[str] = []
        self.set_param = sets
        self.name: str | None = None
        self.message: str | None = None
        self.jobs: int | None = None
        self.force = self.downstream = self.no_run_cache = self.dry = False
        self.queue = self.temp = False


def _replayed(repo: Repository, console: Console) -> int | None:
    """0 once the no-op memo's answer is said (nothing changed: no YAML, no runner), else None."""
    from git_exp.experiments import noopmemo
    known = noopmemo.replay(repo)
    if known is None:
        return None
    for stage, reason in known["skipped"]:
        console.info(f"Stage '{stage}' skipped: {reason}.")
    _say_duplicate(console, known["name"], known["sha"])
    return 0


def run(args: Namespace | _RunArgs, console: Console) -> int:
    from git_exp.repo import Repository, discover   # loaded already when answer_early looked
    early, console.early = console.early, None    # the repository answer_early found, if it looked
    repo = early if isinstance(early, Repository) else discover()
    if args.dry:
        return _dry(repo, args, console)
    if args.queue or args.jobs or args.temp:
        from git_exp.commands.run_queued import run_isolated
        return run_isolated(repo, args, console, ConsoleEvents(console))
    from git_exp.experiments import noopmemo
    if early is None and noopmemo.plain_run(args.name, args.set_param, args.message, args.force,
                                            not args.no_run_cache, args.stages, args.downstream):
        # Not asked before argparse (an option such as -q came with it): ask now.
        if _replayed(repo, console) == 0:
            return 0
    from git_exp.experiments.prefetch import Prefetch   # after the replay: it loads threading
    early = Prefetch(repo, _names_in_use)   # Git answers the first questions while the runner is imported
    try:
        from git_exp.experiments.run import run_experiment
        result = run_experiment(
            repo, overrides=args.set_param, name=args.name, message=args.message,
            force_name=args.force, force=args.force, run_cache=not args.no_run_cache,
            targets=args.stages or None, downstream=args.downstream, events=ConsoleEvents(console),
            reserved=early.names()[1], prefetch=early)
    finally:
        early.close()
    ref, outcome = result.ref, result.outcome
    if result.duplicate_of is not None:
        _say_duplicate(console, ref.name, ref.sha)
        return 0
    error, hint = (result.error.message, result.error.hint) if result.error else (None, None)
    if console.quiet:   # one line: what was recorded, and how it went
        return quiet_line(console, ref.name, ref.sha[:7], outcome.status, error, hint)
    status = {"success": console.paint("success", "green"),
              "failed": console.paint("failed", "red"),
              "interrupted": console.paint("interrupted", "yellow")}.get(outcome.status, outcome.status)
    console.out(f"Experiment {console.paint(ref.name, 'bold')} ({ref.sha[:7]}) recorded "
                f"from {ref.baseline[:7]}: {status}")
    if result.metrics:
        console.out(metrics_line(result.metrics))
    if outcome.status == "success":
        console.out("Its results are in your work tree. To keep them:")
        console.out(f"  git exp branch {ref.name} <branch>    # a branch from this experiment")
        console.out(f"  git exp apply {ref.name}              # bring it back later")
        if error:   # recorded, but its log was lost (a full disk): said by cli.py
            raise ExpError(error, hint=hint)
        return 0
    return failure_tail(console, ref.name, outcome.status, error, hint)


def _names_in_use(repo: Repository, listing: bytes) -> tuple[list[ExpRef], set[str]]:
    # Imported when the answer is read, not before the prefetch starts.
    from git_exp.queue.entries import names_in_use
    return names_in_use(repo, listing)


def _say_duplicate(console: Console, name: str, sha: str) -> None:
    console.out(f"Nothing changed since experiment {console.paint(name, 'bold')} "
                f"({sha[:7]}): not recorded again.")
    console.info("Name the run with -n to record it anyway.")


def _dry(repo: Repository, args: Namespace | _RunArgs, console: Console) -> int:
    from git_exp.pipeline.dryrun import plan
    if args.queue or args.jobs or args.temp:
        raise ExpError("--dry cannot be combined with --queue, -j or --temp",
                       hint="preview with --dry alone, then queue")
    plans = plan(repo, args.set_param, args.stages or None, args.downstream,
                 single=getattr(args, "single_item", False), force=args.force,
                 run_cache=not args.no_run_cache)
    render_plan(plans, console)
    return 0


def render_plan(plans: list[StagePlan], console: Console) -> None:
    """--dry's answer, one stage a line with its reasons below (run and repro)."""
    for plan in plans:
        if plan.skip:
            console.out(f"{plan.stage.name}: skipped ({plan.skip})")
        elif plan.reasons:
            console.out(f"{plan.stage.name}: would run")
            for reason in plan.reasons:
                console.out(f"  - {reason}")
        else:
            console.out(f"{plan.stage.name}: up to date")
