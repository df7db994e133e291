"""git_exp.api: experiments, params, metrics and files from Python (notebooks, scripts).

Every function is a thin front end over the same core functions the
command line calls, so it returns exactly what the matching command shows:
`experiments()` is `git exp show --json`, row for row, read through the same
memo; names, sha prefixes and refs are understood as the commands understand
them, and errors are the commands' errors (ExpError and its subclasses, with
`.message` and `.hint`). Importing this module imports no command, no
terminal code and no YAML parser; each function imports what it needs.

The functions, their arguments and the keys of what they return are stable:
keys may be added, never removed or changed.
"""
from __future__ import annotations

import io
import os
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Iterator, Optional, Union

from git_exp.errors import ExpError, NotARepositoryError

if TYPE_CHECKING:
    import pandas

    from git_exp.repo import Repository
    from git_exp.show.collect import Row

__all__ = ["experiments", "dataframe", "params", "metrics", "open", "read",
           "ExpError", "PathNotFoundError", "NotARepositoryError", "RepoLike"]

# What every function's `repo` takes: a path inside the repository, or a Repository
# already opened (git_exp.repo.discover's; the commands pass theirs, not to look twice).
RepoLike = Union[str, "os.PathLike[str]", "Repository"]

WORKSPACE = "workspace"

SUMMARY = "the Python API: experiments, params, metrics and files from notebooks and scripts"

DESCRIPTION = """\
`import git_exp.api as exp` gives Python code what the commands show, without
running them: a notebook reads the table of experiments as a list of dicts
or a pandas DataFrame, the params and metrics of any experiment, and any file
of any experiment, commit or the work tree, data kept in the cache included.

Each function takes `repo`, a RepoLike: a path inside the repository (str
or os.PathLike; default: the current directory), or a
git_exp.repo.Repository already opened, as git_exp.repo.discover(path)
returns one. `rev` names an experiment (its name, a sha prefix or its
ref), any Git revision (HEAD~1, a branch, a tag), or None or "workspace" for
the work tree, as for `git exp diff`; an experiment's name wins over a
branch of the same name.

Errors raise git_exp.errors.ExpError (or a subclass) with the message and
hint the command would print: `exc.message`, `exc.hint`.
PathNotFoundError is also a FileNotFoundError. NotARepositoryError is raised
outside a Git work tree.

The functions, their arguments and the keys of what they return are stable:
keys may be added, never removed or changed. Importing git_exp.api is cheap:
it loads no command-line code, no YAML parser and no pandas.
"""

SECTIONS = [
    ("Examples", """\
  import git_exp.api as exp
  rows = exp.experiments()                 # HEAD's experiments, as show --json
  best = max((r for r in rows if r["kind"] == "experiment"),
             key=lambda r: r["metrics"].get("metrics.json", {}).get("acc", 0))
  exp.params(best["name"])                 # {"params.yaml": {"train.lr": 0.1, ...}}
  exp.metrics("HEAD~1")
  df = exp.dataframe(all_commits=True)     # needs pandas
  with exp.open("models/model.pkl", rev=best["name"], mode="rb") as fh:
      model = pickle.load(fh)
  text = exp.read("data/prepared/test.csv", rev="bold-otter")
"""),
    ("Data remote", """\
open() and read() find a data path (one `git exp add` tracks, or a stage's
cached out, or a file inside such a folder) through the commit's pointer
files and exp.lock, and read it from the cache in the Git directory. An
object that is not there is fetched first from the data remote paired with
the current branch's upstream remote (else origin), as `git exp pull` would
(remote.NAME.expdata, exp.remote, or the Git remote's own exp/cache for a
remote on a local path), verified by its SHA-256, and kept in the cache.
"""),
]


SEE_ALSO_MODULES = ["git_exp.live"]   # documented on the same page


class PathNotFoundError(ExpError, FileNotFoundError):
    """The path is neither a file nor data at that revision."""


# -- repository and revisions --------------------------------------------------

def _repository(repo: RepoLike) -> Repository:
    """A Repository for REPO: one already discovered, or a path inside one."""
    from git_exp.repo import Repository, discover
    if isinstance(repo, Repository):
        return repo
    path = os.fspath(repo)
    if not os.path.isdir(path):
        raise ExpError(f"cannot change to '{path}': No such file or directory")
    return discover(os.path.abspath(path))


def _is_workspace(rev: Optional[str]) -> bool:
    return rev is None or rev == WORKSPACE


def _row(repo: Repository, rev: Optional[str]) -> Row:
    """show's Row for REV (see DESCRIPTION), read through show's memo; a run in
    progress by its name when REV names nothing else."""
    from git_exp.show.commits import CommitReader
    from git_exp.show.diff import target
    try:
        row, _ = target(repo, None if _is_workspace(rev) else _text(rev, "rev"), CommitReader(repo))
    except ExpError:
        from git_exp.show.collect import collect
        running = [r for r in collect(repo, all_commits=True, hide_workspace=True).rows()
                   if r.kind == "experiment" and r.rev is None and r.name == rev]
        if not running:
            raise
        row = running[0]
    return row


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ExpError(f"{what} must be a non-empty string, not {value!r}")
    return value


def _revs(rev: Union[str, list, None]) -> list[str]:
    if rev is None:
        return []
    if isinstance(rev, str):
        return [rev]
    return [_text(r, "rev") for r in rev]


# -- experiments -----------------------------------------------------------------

def experiments(repo: RepoLike = ".", all_commits: bool = False,
                rev: Union[str, list, None] = None) -> list[dict]:
    """The rows of `git exp show --json` (with -A for ALL_COMMITS, --rev REV).

    One dict per row, in table order: the workspace, then each baseline
    followed by its experiments (running and queued ones first, then newest
    first). Keys: name, kind ("workspace", "baseline", "experiment"), rev,
    baseline, parent, created, state, message (run -m), note and tags (git
    exp note, git exp tag), params and metrics ({file: {key: value}}); see
    JSON OUTPUT in git-exp-show(1).
    """
    from git_exp.show.records import view_objects
    from git_exp.show.view import show
    view = show(_repository(repo), all_commits=all_commits, revs=_revs(rev))
    return view_objects(view)


def dataframe(repo: RepoLike = ".", all_commits: bool = False,
              rev: Union[str, list, None] = None) -> pandas.DataFrame:
    """experiments() as a pandas DataFrame: one row per row of the table.

    Columns: name, kind, rev, baseline, parent, created, state, message,
    note, tags (a list, as experiments() gives it), then one per metric and
    param, named as `git exp show` heads them (train.lr, or params.yaml:lr
    where two files share a key). Needs pandas.
    """
    try:
        import pandas
    except ImportError:
        raise ExpError("dataframe() needs pandas, which is not installed",
                       hint="pip install pandas  (or: pip install 'git-exp[pandas]')") from None
    from git_exp.show.columns import MISSING, values
    from git_exp.show.view import show
    view = show(_repository(repo), all_commits=all_commits, revs=_revs(rev))
    head = ["name", "kind", "rev", "baseline", "parent", "created", "state", "message", "note",
            "tags"]
    labels = [c.label for c in view.columns]
    records = []
    for row, line in zip(view.rows, values(view.columns, view.rows)):
        records.append([row.name, row.kind, row.rev, row.baseline, row.parent, row.created,
                        row.state, row.message, row.note or None, list(row.tags)]
                       + [None if v is MISSING else v for v in line])
    return pandas.DataFrame.from_records(records, columns=head + labels)


def params(rev: Optional[str] = None, repo: RepoLike = ".") -> dict:
    """{file: {flattened key: value}} of the params at REV (None: the work tree).

    REV may also name a run in progress or a queued run, as `git exp show`
    lists them: its values so far."""
    return _row(_repository(repo), rev).params


def metrics(rev: Optional[str] = None, repo: RepoLike = ".") -> dict:
    """{file: {flattened key: value}} of the metrics at REV (None: the work tree).

    REV may also name a run in progress: its latest metrics (and step)."""
    return _row(_repository(repo), rev).metrics


# -- files -----------------------------------------------------------------------

@contextmanager
def open(path: str, rev: Optional[str] = None, repo: RepoLike = ".", mode: str = "r",
         encoding: Optional[str] = None) -> Iterator[IO]:
    """A file of REV (None: the work tree), open for reading, as a context manager.

    PATH is relative to the top of the repository. It is read from Git when
    the commit holds it, else from the data cache when the commit's pointer
    files or exp.lock record it as data (a tracked file, or a file inside a
    tracked folder); data missing from the cache is fetched from the data
    remote first. MODE is "r" (text, ENCODING default UTF-8) or "rb".
    """
    handle = _open(path, rev, repo, mode, encoding)
    try:
        yield handle
    finally:
        handle.close()


def read(path: str, rev: Optional[str] = None, repo: RepoLike = ".", mode: str = "r",
         encoding: Optional[str] = None) -> Union[str, bytes]:
    """The whole content of PATH at REV, as open() finds it: text, or bytes with mode "rb"."""
    with open(path, rev, repo, mode, encoding) as fh:
        return fh.read()


def _open(path: str, rev: Optional[str], repo: RepoLike, mode: str, encoding: Optional[str]) -> IO:
    from git_exp.worktree.access import open_file
    if mode not in ("r", "rb", "rt"):
        raise ExpError(f"mode '{mode}' is not supported: files are opened for reading",
                       hint="use mode='r' for text or mode='rb' for bytes")
    binary = mode == "rb"
    if binary and encoding is not None:
        raise ExpError("encoding applies to text: it cannot be given with mode='rb'")
    found = _repository(repo)
    sha = None if _is_workspace(rev) else _commit(found, _text(rev, "rev"))
    raw = open_file(found, _text(path, "path"), sha, PathNotFoundError)
    if binary:
        return raw
    return io.TextIOWrapper(raw, encoding=encoding or "utf-8")


def _commit(repo: Repository, rev: str) -> str:
    from git_exp.experiments.resolve import resolve_revision
    return resolve_revision(repo, rev)[0]

