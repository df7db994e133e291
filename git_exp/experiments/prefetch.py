"""What `git exp run` asks Git before its first stage, asked while Python still imports.

`run` spends most of its own time before a stage importing (YAML, the
pipeline, the runner) and only then asks Git what it needs; Git answers each
question in a process of its own, on another core. So one thread asks, as
soon as the repository is known, the questions that do not depend on
exp.yaml, and the run takes the answers when it gets to them:

- every experiment ref and the names queued entries hold (one `for-each-ref`,
  read by the caller's queue.entries.names_in_use: the queue is above us);
- HEAD's commit, through a `cat-file --batch` left open for the baseline's
  params files (record.baseline_and_blobs reads them through it);
- the files the snapshot would take from the work tree (snapshot.changed_files)
  for run.check_sizes - run.py uses them only when no .gitignore changed since;
- the settings (repo.config: `git config --list`, and .expconfig), last: the
  run reads exp.maxCommitFileSize and exp.cache.type only after it has taken
  the answers above, so after this thread has ended; cli.py's color decision
  asks for them earlier only on a terminal, and then read_once shares them.

Each answer is exactly what the caller would have got by asking at that
moment; an error is raised in the caller's thread when it takes the answer,
as if it had asked itself. The thread writes no file; besides waiting on Git
it only imports what it calls (catfile, snapshot), which the run needs anyway.
"""
from __future__ import annotations

import threading

from git_exp.errors import ExpError
from git_exp.git import git

# queue.entries.NAMES_LISTING, spelled out so the thread can ask before that
# module is imported; tests/test_run_path.py checks they agree.
NAMES_LISTING = ["for-each-ref", "--format=%(objectname) %(refname)", "refs/exps/",
                 "refs/exps-queue/", "refs/exps-running/"]

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Any, Callable

    from git_exp.experiments.refs import ExpRef
    from git_exp.git.catfile import CatFile
    from git_exp.repo import Repository

    NamesInUse = Callable[[Repository, bytes], tuple[list[ExpRef], set[str]]]


class Prefetch:
    """`early = Prefetch(repo, names_in_use)`; later `early.names()`, `early.head()`,
    `early.changed()`; `early.close()`."""

    def __init__(self, repo: Repository, names_in_use: NamesInUse, changed: bool = True) -> None:
        """NAMES_IN_USE: queue.entries.names_in_use, which reads the listing.
        CHANGED: also list the work tree's changes (the check for oversized files wants them)."""
        self._repo = repo
        self._names_in_use = names_in_use
        self._objects: CatFile | None = None
        self._answers: dict[str, object] = {}
        self._errors: dict[str, BaseException] = {}
        self._parsed: dict[str, tuple[list[ExpRef], set[str]]] = {}
        steps: list[tuple[str, Callable[[], object]]] = [("names", lambda: git(NAMES_LISTING, cwd=repo.root).stdout)]
        if changed:
            steps.append(("changed", self._changed))
        steps.append(("head", self._read_head))
        # Sets repo._config. Should the main thread ask before this ran (it does not:
        # see the docstring), it reads the same settings itself; a failure here is met
        # again there, where it shows.
        steps.append(("config", lambda: repo.config))
        # Started before anything else is imported: the thread imports what it
        # calls while this one goes on importing the runner.
        self._thread = threading.Thread(target=self._ask, args=(steps,), name="git-exp-prefetch",
                                        daemon=True)
        self._thread.start()

    def _ask(self, steps: list[tuple[str, Callable[[], object]]]) -> None:
        for key, step in steps:
            try:
                self._answers[key] = step()
            except BaseException as exc:   # raised again in the caller's thread
                self._errors[key] = exc

    def _read_head(self) -> str | None:
        from git_exp.git.catfile import CatFile
        self._objects = CatFile(self._repo.root)
        head = self._objects.read("HEAD^{commit}")
        return head.oid if head is not None and head.type == "commit" else None

    def _changed(self) -> list[str]:
        from git_exp.worktree.snapshot import changed_files
        return changed_files(self._repo)

    def _take(self, key: str) -> Any:
        self._thread.join()
        if key in self._errors:
            raise self._errors[key]
        return self._answers.get(key)

    def names(self) -> tuple[list[ExpRef], set[str]]:
        """(every experiment ref, the names queued and running entries hold)."""
        if "names" not in self._parsed:
            self._parsed["names"] = self._names_in_use(self._repo, self._take("names"))
        return self._parsed["names"]

    def head(self) -> tuple[str | None, CatFile]:
        """(HEAD's commit or None when there is none, the open `cat-file --batch` that read it).
        The caller reads on through it; close() ends it."""
        head = self._take("head")
        if self._objects is None:
            raise ExpError("internal: the prefetched cat-file is closed")
        return head, self._objects

    def changed(self) -> list[str] | None:
        """snapshot.changed_files(repo) as it was when asked; None when not asked."""
        return self._take("changed")

    def close(self) -> None:
        self._thread.join()
        objects, self._objects = self._objects, None
        if objects is not None:
            objects.close()
