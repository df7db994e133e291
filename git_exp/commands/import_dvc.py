"""git exp import-dvc: convert a DVC project, its cache and its experiments."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.dvcimport.plan import ImportResult
    from git_exp.ui.console import Console

DESCRIPTION = """\
Converts the DVC 3.x project at the top of this work tree to git-exp:

  dvc.yaml      -> exp.yaml (the same schema; keys git-exp does not support
                   are listed with file, line and column, never dropped silently)
  dvc.lock      -> exp.lock (every MD5 turned into the SHA-256 git-exp uses)
  PATH.dvc      -> PATH.exp pointers, with .gitignore entries as 'git exp add'
                   writes them
  .dvc/cache    -> .git/exp/cache: each object read once, checked against its
                   MD5 (a corrupt one is reported, not imported) and stored
                   under its SHA-256; objects DVC's cache lacks are listed
  experiments   -> experiments with the same name and baseline commit, their
                   params and metrics intact (DVC's own refs stay)
  .dvc/config   -> the default DVC remote becomes exp.remote in .expconfig when
                   it is a directory, s3:// or ssh://; the others are named

The result is staged (git add) for you to review and commit; nothing is
committed for you. Params files are not touched. Running it again changes
nothing. --dry-run prints the whole plan and changes nothing at all.

--remove-dvc also takes DVC's files out of Git and the work tree (dvc.yaml,
dvc.lock, *.dvc, .dvcignore, .dvc/config): only those whose content Git
already has, so nothing is lost; a modified one is kept and named. DVC's
cache folder is never deleted: remove it yourself once you no longer need it.
"""

EXAMPLES = ["git exp import-dvc --dry-run", "git exp import-dvc", "git exp import-dvc --remove-dvc"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--remove-dvc", action="store_true",
                        help="also remove DVC's files (not its cache) from Git and the work tree")


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.dvcimport.plan import import_dvc
    from git_exp.repo import discover
    result = import_dvc(discover(), dry_run=args.dry_run, remove_dvc=args.remove_dvc)
    render(result, console)
    return 0


def render(result: ImportResult, console: Console) -> None:
    from git_exp.ui.format import format_size, plural
    would = result.dry_run
    if console.quiet and not result.changes_nothing:   # one line; warnings still follow
        files = sum(1 for _, action in result.files if action != "unchanged")
        exps = sum(1 for plan in result.experiments if plan.action == "import")
        console.out(f"{'Would import' if would else 'Imported'}: {plural(files, 'file')}, "
                    f"{plural(result.objects.imported, 'object')}, {plural(exps, 'experiment')}.")
    if result.changes_nothing:
        console.out("Nothing to import: the DVC project was imported already." if result.files
                    or result.experiments else "Nothing to import.")
    for path, action in result.files:
        if action != "unchanged":
            console.detail(f"{'Would write' if would else 'Wrote'} {path}")
    for gitignore, line in result.ignores:
        console.detail(f"{'Would add' if would else 'Added'} {line} to {gitignore}")
    report = result.objects
    if report.imported:
        console.detail(f"{'Would import' if would else 'Imported'} {plural(report.imported, 'object')}, "
                    f"{format_size(report.imported_bytes)}, from {result.dvc_cache}"
                    + (f" ({report.present} already in the cache)" if report.present else ""))
    for plan in result.experiments:
        exp = plan.source
        if plan.action == "import":
            console.detail(f"{'Would import' if would else 'Imported'} experiment {exp.name} "
                        f"(baseline {exp.baseline[:7]})")
        elif plan.action == "name taken":
            console.warn(f"experiment {exp.name} of {exp.baseline[:7]}: that name is taken by an "
                         "experiment the import did not write; skipped (rename yours and run again)")
        elif plan.action == "name refused":
            console.warn(f"experiment {exp.name}: not a valid git-exp name; skipped")
    for key, value in result.settings:
        console.detail(f"{'Would set' if would else 'Set'} {key} = {value} in .expconfig")
    for path in result.removed:
        console.detail(f"{'Would remove' if would else 'Removed'} {path}")
    for path in result.kept:
        console.warn(f"{path} has changes Git does not have: kept (remove it yourself once reviewed)")
    for md5, path in sorted(report.missing.items(), key=lambda item: item[1]):
        console.warn(f"{path}: object {md5} is not in DVC's cache; not imported (fetch it with "
                     "'dvc pull' and import again)")
    for md5, why in sorted(report.corrupt.items()):
        console.warn(f"DVC object {md5} is corrupt ({why}); not imported")
    for note in result.notes:
        console.warn(note)
    if result.staged and not result.changes_nothing:
        console.info("Staged for you to review: git diff --cached; then git commit")
    if result.removed:
        console.info(f"DVC's cache is still in {result.dvc_cache}; delete it when you no longer need it.")
