"""exp.yaml parsed into plain records: Pipeline, Stage and Output (records.py).

This module is the way in: which file, read how (the work tree or a
commit's files), and the symlink rule; parser.py does the checking.

The schema is dvc.yaml's (see the package docstring of `template` for the
`${...}` rules). Checking is strict and every error says where: the file,
line and column of the offending key or value, what is wrong and what is
allowed. Paths come out repo-relative and normalised (`paths.normalize`),
so nothing downstream has to think about `wdir` again.

Tracked params: keys of the default `params.yaml` (next to exp.yaml) that a
stage reads through `${...}` are added to that stage's `params`, as DVC
does, so changing them shows up as a params change of that stage.
"""
from __future__ import annotations

import os
import posixpath

from git_exp import bounded
from git_exp.errors import ExpError
from git_exp.pipeline.parser import PipelineParser
from git_exp.pipeline.records import Pipeline

TYPE_CHECKING = False   # typing's, without importing typing on run's path (mypy reads the name as True)
if TYPE_CHECKING:
    from git_exp.pipeline.records import Reader


def load_pipeline(root: str, relpath: str = "exp.yaml", read: Reader | None = None,
                  check_links: bool | None = None, checked: list | None = None) -> Pipeline:
    """Parse ROOT/RELPATH; READ(repo_relative_path) -> text or None replaces the work tree.

    With READ (e.g. files of a Git commit) symlinks in the work tree are not
    consulted, since they say nothing about that commit, unless CHECK_LINKS
    (READ then reads the work tree too, say to watch what is read). CHECKED,
    when given, collects the repo-relative paths whose parent folders were
    checked for symlinks (None for a path refused before we knew): with the
    files read, all the result or the error depends on, for callers that
    remember it (show's workspace row).
    """
    relpath = _clean_relpath(relpath)
    reader = read or work_tree_reader(root)
    text = reader(relpath)
    if text is None:
        raise ExpError(f"no {relpath} in {root}", hint="run 'git exp init' to create one")
    if check_links is None:
        check_links = read is None
    parser = PipelineParser(root, relpath, reader, check_links=check_links)
    if checked is not None:
        parser.checked = checked
    return parser.parse(text)


def parse_pipeline(text: str, root: str, relpath: str = "exp.yaml",
                   read: Reader | None = None) -> Pipeline:
    """Parse TEXT as the pipeline file RELPATH of the repository at ROOT."""
    relpath = _clean_relpath(relpath)
    return PipelineParser(root, relpath, read or work_tree_reader(root), check_links=read is None).parse(text)


def work_tree_reader(root: str) -> Reader:
    """READ for files in the work tree: text, or None when the file does not exist."""
    def read(path: str) -> str | None:
        full = os.path.join(root, *path.split("/"))
        try:
            # Size-capped (the file may come from someone else's experiment);
            # newlines translated as text mode did.
            text = bounded.read_file(full, path).decode("utf-8")
            return text.replace("\r\n", "\n").replace("\r", "\n")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            raise ExpError(f"'{path}' is a folder, not a file") from None
        except UnicodeDecodeError as exc:
            raise ExpError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise ExpError(f"cannot read '{path}': {exc.strerror}") from None
    return read


def _clean_relpath(relpath: str) -> str:
    return posixpath.normpath(relpath.replace(os.sep, "/"))

