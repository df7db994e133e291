"""git exp status: which stages would run, which data differs from its record."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console
    from git_exp.worktree.status import StatusReport

DESCRIPTION = """\
Shows, without changing anything, which stages of exp.yaml would run and
why (a dep, param or command changed, an out is missing or modified), and
which tracked data paths (pointer files and the cached outs in exp.lock)
differ from their record: modified in the work tree, not in the work tree,
or with objects missing from the cache.

Hashes of unchanged files come from a memo of their size, inode and
modification time, so a second status is quick even on large data.
"""

EXAMPLES = ["git exp status", "git exp status --json"]

SECTIONS = [("JSON output", """\
--json prints one object: "stages", a list of {"name", "reasons", "frozen"}
(an empty reasons list means up to date), "stages_error" (the message when
the pipeline could not be checked, else null), and "data", a list of
{"path", "hash", "size", "nfiles", "state", "missing_objects", "error"}
where state is one of "ok", "modified", "not in work tree", "refused".
""")]


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the status as JSON")


def as_json(report: StatusReport) -> str:
    import json
    data = {
        "stages": [{"name": s.name, "reasons": s.reasons, "frozen": s.frozen} for s in report.stages],
        "stages_error": report.stages_error,
        "data": [{"path": d.path, "hash": d.info.hash, "size": d.info.size, "nfiles": d.info.nfiles,
                  "state": d.state, "missing_objects": d.missing_objects, "error": d.error}
                 for d in report.data],
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def run(args: Namespace, console: Console) -> int:
    from git_exp.worktree.status import status
    from git_exp.repo import discover
    report = status(discover())
    if args.json:
        console.out(as_json(report))
        return 0
    if report.stages_error:
        console.warn(f"cannot check the pipeline: {report.stages_error}")
    changed = [s for s in report.stages if s.reasons]
    if changed:
        console.out("Stages that would run:")
        for stage in changed:
            console.out(f"  {console.paint(stage.name, 'yellow')}: {', '.join(stage.reasons)}")
    differ = [d for d in report.data if d.state != "ok" or d.missing_objects]
    if differ:
        console.out("Data that differs from its record:")
        for d in differ:
            if d.state != "ok":
                detail = f" ({d.error})" if d.error else ""
                console.out(f"  {console.paint(f'{d.state}:'.ljust(18), 'red')}{d.path}{detail}")
            if d.missing_objects:
                from git_exp.ui.format import plural
                console.out(f"  {console.paint('not in cache:'.ljust(18), 'red')}{d.path} "
                            f"({plural(len(d.missing_objects), 'object')}; fetch with 'git exp fetch')")
    if not changed and not differ and not report.stages_error:
        what = " and ".join(w for w, has in (("stages", report.stages), ("data", report.data)) if has)
        console.out(f"Everything is up to date{' (' + what + ')' if what else ''}.")
    return 0
