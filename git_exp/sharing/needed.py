"""Which cached objects the commits being pushed refer to, found cheaply.

The commits a push adds are `rev-list <tips> --not <what the remote has>`.
A commit can only refer to data its first parent does not if it changes a
file that records data (exp.lock, exp.yaml which says which outs are cached,
a `*.exp` pointer) or carries Exp-Data trailers, or is a root commit. Every
other new commit refers to exactly its first parent's data, which is either
on the remote already or checked through that parent. So a push of plain
code commits costs two `git` calls and asks the data remote nothing.

Experiment commits (refs/exps/) are always checked in full: they are what
sharing is for, and checking all of an experiment's data, not only what
changed since its baseline, means a baseline whose data never reached the
remote cannot leave the experiment unreproducible there.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.names import LOCK_FILE, PIPELINE_FILE
from git_exp.remotes.needs import Needs
from git_exp.repo import Repository

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.data.cache import Cache
    from git_exp.data.hashing import HashInfo

DATA_FILES = (LOCK_FILE, PIPELINE_FILE)
POINTER_SUFFIX = ".exp"
_MARK = "\x01"
_READ_THREADS = 8


@dataclass
class Commit:
    sha: str
    parents: list[str]
    has_data_trailer: bool


def data_at(repo: Repository, sha: str) -> dict[str, HashInfo]:
    """path -> HashInfo of the cached data commit SHA records.

    worktree/records.py is the one place that knows (pointer files and exp.lock outs).
    """
    from git_exp.worktree.records import data_at as read
    return read(repo, sha)


def new_commits(root: str, tips: list[str], remote_has: list[str],
                remote_name: str | None) -> list[Commit]:
    """Commits reachable from TIPS that the remote does not have, as far as we know.

    REMOTE_HAS are commits known to be there (they must exist locally);
    REMOTE_NAME adds its remote-tracking refs, as git-lfs does.
    """
    if not tips:
        return []
    # --ignore-missing: a remote sha we never fetched is simply not excluded.
    args = ["rev-list", "--parents", f"--format={_MARK}%(trailers:key=Exp-Data,valueonly,separator=%x2c)",
            "--ignore-missing", "--stdin"]
    if remote_name:
        # For a remote given as a path or URL the pattern matches nothing.
        args += ["--not", f"--remotes={remote_name}"]
    # Revisions read from --stdin are not affected by --not: "^sha" negates.
    lines = list(dict.fromkeys(tips)) + [f"^{sha}" for sha in dict.fromkeys(remote_has)]
    out = git(args, cwd=root, input=("\n".join(lines) + "\n").encode()).stdout
    commits: list[Commit] = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        if line.startswith("commit "):
            shas = line.split()[1:]
            commits.append(Commit(shas[0], shas[1:], False))
        elif line.startswith(_MARK) and commits:
            commits[-1].has_data_trailer = bool(line[1:].strip())
    return commits


def _is_data_file(path: str) -> bool:
    name = path.rpartition("/")[2]
    return name in DATA_FILES or name.endswith(POINTER_SUFFIX)


def touching_data(root: str, commits: list[Commit]) -> set[str]:
    """The commits whose data may differ from their first parent's, in one `git` call."""
    changed = {c.sha for c in commits if c.has_data_trailer or not c.parents}
    rest = [c for c in commits if c.sha not in changed]
    if not rest:
        return changed
    # "<commit> <parent>" compares the commit with that one parent only;
    # --always prints the header even for a commit that changes nothing, so
    # the output can be split in input order.
    stdin = "".join(f"{c.sha} {c.parents[0]}\n" for c in rest)
    out = git(["diff-tree", "--stdin", "--always", "-r", "-z", "--name-only", "--no-renames"],
              cwd=root, input=stdin.encode()).stdout.decode("utf-8", "surrogateescape")
    tokens = out.split("\0")
    order = iter(rest)
    current = None
    expected = next(order, None)
    for token in tokens:
        token = token.strip("\n")
        if expected is not None and token.startswith(expected.sha):
            current, expected = expected, next(order, None)
            continue
        if current is not None and token and _is_data_file(token):
            changed.add(current.sha)
    return changed


def read_data(repo: Repository, shas: list[str],
              errors: dict[str, ExpError] | None = None) -> dict[str, dict[str, HashInfo]]:
    """sha -> data_at(sha), read from a few threads (each read is `git` calls).

    With ERRORS, a commit whose data cannot be read (a hostile or broken
    exp.lock, say) is left out and its ExpError put there, so one bad
    experiment does not stop the others; without, the first error is raised.
    """
    def one(sha: str) -> dict[str, HashInfo] | ExpError:
        try:
            return data_at(repo, sha)
        except ExpError as exc:
            if errors is None:
                raise
            return exc

    if len(shas) <= 2:
        results = [one(sha) for sha in shas]
    else:
        _ = repo.config  # load once here, not racily from the threads
        with ThreadPoolExecutor(min(_READ_THREADS, len(shas))) as pool:
            results = list(pool.map(one, shas))
    found = {}
    for sha, data in zip(shas, results):
        if isinstance(data, ExpError):
            assert errors is not None  # one() raised otherwise
            errors[sha] = data
        else:
            found[sha] = data
    return found


def object_types(root: str, shas: list[str]) -> dict[str, str]:
    """sha -> its object type ("commit", "blob", ...; "missing"), in one `git` call.

    A ref under refs/exps/ that someone pointed at a blob or tree is not an
    experiment: callers report it and go on with the others.
    """
    wanted = list(dict.fromkeys(shas))
    if not wanted:
        return {}
    out = git(["cat-file", "--batch-check=%(objectname) %(objecttype)"], cwd=root,
              input=("\n".join(wanted) + "\n").encode()).stdout.decode("utf-8", "replace")
    types = {}
    for sha, line in zip(wanted, out.splitlines()):
        parts = line.split()
        types[sha] = parts[1] if len(parts) == 2 else "missing"
    return types


def needed_objects(repo: Repository, tips: dict[str, str], remote_has: list[str],
                   remote_name: str | None, cache: Cache | None = None,
                   errors: dict[str, ExpError] | None = None) -> Needs:
    """Objects the commits from TIPS (sha -> label) that the remote lacks refer to.

    REMOTE_HAS are commits the remote has (ones we lack are ignored), and
    REMOTE_NAME's tracking refs count as on the remote too. With ERRORS, a
    tip whose data cannot be read goes there (sha -> ExpError) instead of
    failing the whole call.
    """
    commits = new_commits(repo.root, list(tips), remote_has, remote_name)
    if not commits:
        return Needs()
    experiments = {sha for sha, label in tips.items() if label.startswith(_EXP_LABEL)}
    to_read = touching_data(repo.root, commits) | (experiments & {c.sha for c in commits})
    ordered = [c.sha for c in commits if c.sha in to_read]
    needs = Needs(checked=ordered)
    if not ordered:
        return needs
    if cache is None:
        from git_exp.data.cache import Cache
        cache = Cache(repo.exp_dir)
    found = read_data(repo, ordered, errors)
    if errors is not None:
        # Only an experiment's own commit can fail alone; a shared ancestor
        # that cannot be read concerns every tip above it.
        stray = [sha for sha in errors if sha not in tips]
        if stray:
            raise errors[stray[0]]
    for sha, data in found.items():
        label = tips.get(sha) or f"commit {sha[:7]}"
        for path, info in sorted(data.items()):
            for obj in cache.objects_of(info):
                needs.add(obj, label, path)
    return needs


_EXP_LABEL = "experiment "


def label_for(ref: str) -> str:
    """How messages name what a pushed ref holds."""
    from git_exp.experiments.refs import parse_ref
    parsed = parse_ref(ref, "")
    if parsed:
        return f"{_EXP_LABEL}'{parsed.name}'"
    for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
        if ref.startswith(prefix):
            return f"{kind} '{ref[len(prefix):]}'"
    return f"'{ref}'"
