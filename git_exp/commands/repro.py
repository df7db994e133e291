"""git exp repro: run the pipeline in the work tree and update exp.lock, recording no experiment."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console

DESCRIPTION = """\
Runs the stages of exp.yaml in dependency order in your work tree and
updates exp.lock, as DVC's repro does: no experiment is recorded, no ref is
written, HEAD and the index do not move. Use it for results meant for your
branch; commit exp.lock, metrics and pointers afterwards as any change.
(git exp run records each run as an experiment instead.)

Stages are skipped and restored exactly as by git exp run: a stage whose
command, deps and tracked params equal exp.lock and whose outs are present
is skipped; one whose exact inputs ran before is restored from the run
cache (--no-run-cache always runs it); -f runs every selected stage without
the run cache.

With STAGE, only that stage and the stages it depends on run; --downstream
runs it and the stages that depend on it instead; -s runs only the named
stages, none of their upstream stages. A foreach or matrix group's name
stands for all its stages.

--pull first fetches the data that the selected stages' deps and outs
record (pointer files and exp.lock) and the cache lacks from the data
remote (the one git exp pull would use for the current branch's remote,
else origin), and checks out what the work tree lacks, so stages whose
inputs and outputs are all there are skipped instead of run.

When a stage fails, exp.lock keeps every stage that finished before it.
One run at a time per work tree: repro and git exp run take the same lock
(while repro runs, git exp logs -f repro follows its output).
"""

EXAMPLES = [
    "git exp repro",
    "git exp repro train",
    "git exp repro -s evaluate",
    "git exp repro --downstream prepare",
    "git exp repro --pull",
    "git exp repro -f --dry",
]


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("stages", nargs="*", metavar="STAGE",
                        help="run only these stages and the stages they depend on")
    parser.add_argument("-s", "--single-item", action="store_true",
                        help="run only the named stages, not the stages they depend on")
    parser.add_argument("--downstream", action="store_true",
                        help="with STAGE: run it and the stages that depend on it")
    parser.add_argument("--pull", action="store_true",
                        help="first fetch the recorded data of deps and outs missing here from the "
                             "data remote")
    parser.add_argument("-f", "--force", action="store_true",
                        help="run every selected stage even if up to date, never restoring from "
                             "the run cache")
    parser.add_argument("--no-run-cache", action="store_true",
                        help="always run stages; never restore their outputs from the run cache")
    parser.add_argument("--dry", action="store_true",
                        help="print which stages would run and why; change nothing")


def run(args: Namespace, console: Console) -> int:
    from git_exp.commands.run import ConsoleEvents, render_plan
    from git_exp.errors import UsageError
    from git_exp.repo import discover
    if args.single_item and not args.stages:
        raise UsageError("-s/--single-item needs the stages to run",
                         hint="name them: git exp repro -s STAGE")
    if args.single_item and args.downstream:
        raise UsageError("-s and --downstream cannot be combined",
                         hint="-s runs the named stages alone; --downstream adds what follows them")
    repo = discover()
    if args.dry:
        if args.pull:
            raise UsageError("--dry cannot be combined with --pull: it changes nothing",
                             hint="preview with 'git exp repro --dry', then run 'git exp repro --pull'")
        from git_exp.pipeline.dryrun import plan
        render_plan(plan(repo, (), args.stages or None, args.downstream, single=args.single_item,
                         force=args.force, run_cache=not args.no_run_cache), console)
        return 0
    from git_exp.experiments.repro import reproduce
    from git_exp.ui.format import format_size
    from git_exp.ui.progress import ProgressLine
    progress = ProgressLine(console.stderr, "Fetching data", enabled=False if console.quiet else None)
    try:
        result = reproduce(repo, args.stages or None, single=args.single_item,
                           downstream=args.downstream, force=args.force,
                           run_cache=not args.no_run_cache, pull=args.pull,
                           events=ConsoleEvents(console), progress=progress)
    finally:
        progress.close()
    if result.pulled is not None:
        pulled = result.pulled
        if pulled.objects:
            console.info(f"Fetched {pulled.objects} data object(s), {format_size(pulled.bytes)}, "
                         f"from {pulled.location}.")
        if pulled.checked_out:
            console.info(f"Checked out {len(pulled.checked_out)} data path(s).")
        if not (pulled.objects or pulled.checked_out):
            console.info("Nothing to fetch: the data is here.")
    summary = result.summary
    counts = [(len(summary.ran), "ran"), (len(summary.restored), "restored from the run cache"),
              (len(summary.skipped), "up to date or frozen")]
    said = ", ".join(f"{n} {what}" for n, what in counts if n) or "no stage selected"
    if summary.ran or summary.restored:
        console.out(f"Reproduced: {said}. exp.lock is updated; commit it with your results.")
    else:
        console.out(f"Nothing to reproduce: {said}.")
    if result.metrics and not console.quiet:
        from git_exp.commands.run_report import metrics_line
        console.out(metrics_line(result.metrics))
    return 0
