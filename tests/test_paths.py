"""Paths in exp.yaml become repo-relative and never leave the repository."""
from __future__ import annotations

import os

import pytest

from git_exp.errors import ExpError
from git_exp.pipeline.paths import normalize
from git_exp.pipeline.spec import load_pipeline

WHERE = ("exp.yaml", 7, 12)


def norm(path: str, wdir: str = ".", root: str = "/nonexistent-root", **kw) -> str:
    return normalize(path, wdir, root, "dep", WHERE, owner="stage 'train'", **kw)


def refusal(path: str, wdir: str = ".", root: str = "/nonexistent-root", **kw) -> ExpError:
    with pytest.raises(ExpError) as info:
        norm(path, wdir, root, **kw)
    return info.value


@pytest.mark.parametrize("path,wdir,expected", [
    ("models", ".", "models"),
    ("./models/", ".", "models"),
    ("data//raw/./x.csv", ".", "data/raw/x.csv"),
    ("x.csv", "sub/dir", "sub/dir/x.csv"),
    ("../shared/x", "sub", "shared/x"),
    ("src/../data", ".", "data"),
    (".", "sub", "sub"),
    (".", ".", "."),
    (".gitignore", ".", ".gitignore"),
    ("a.git/b", ".", "a.git/b"),
])
def test_paths_become_repo_relative(path, wdir, expected):
    assert norm(path, wdir) == expected


@pytest.mark.parametrize("path,wdir,problem", [
    ("../outside", ".", "is outside the repository"),
    ("../../x", "sub", "is outside the repository"),
    ("a/../../x", ".", "is outside the repository"),
    ("/etc/passwd", ".", "is an absolute path"),
    ("\\\\server\\share", ".", "is an absolute path"),
    ("C:/data", ".", "is an absolute path"),
    ("~/data", ".", "points into a home folder"),
    (".git/config", ".", "is inside a .git folder"),
    ("objects", ".git", "is inside a .git folder"),
    ("vendor/lib/.git/HEAD", ".", "is inside a .git folder"),
    (".GIT/hooks", ".", "is inside a .git folder"),
])
def test_escaping_paths_are_refused_with_their_location(path, wdir, problem):
    assert str(refusal(path, wdir)) == f"exp.yaml:7:12: dep '{path}' of stage 'train' {problem}"


def test_empty_path():
    assert str(refusal("  ")) == "exp.yaml:7:12: dep of stage 'train' is empty"


@pytest.fixture
def linked_repo(tmp_path):
    """A repository with `big` -> a folder outside it and `alias` -> a folder inside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    os.symlink(outside, repo / "big")
    os.symlink(repo / "data", repo / "alias")
    return repo


def test_a_symlinked_folder_pointing_outside_is_refused(linked_repo):
    error = refusal("big/models/w.pt", root=str(linked_repo))
    assert str(error) == ("exp.yaml:7:12: dep 'big/models/w.pt' of stage 'train' goes through the "
                          f"symlink 'big', which points outside the repository "
                          f"(to {os.path.realpath(linked_repo.parent / 'outside')})")


def test_a_symlink_deeper_in_the_chain_is_refused(linked_repo):
    os.symlink(linked_repo.parent / "outside", linked_repo / "data" / "ext")
    error = refusal("x.csv", wdir="data/ext", root=str(linked_repo))
    assert "goes through the symlink 'data/ext'" in str(error)


def test_symlinks_inside_the_repository_are_fine(linked_repo):
    assert norm("alias/x.csv", root=str(linked_repo)) == "alias/x.csv"


def test_the_path_itself_may_be_a_link(linked_repo):
    # Only the folders leading to a path are checked: `big` itself is a dep like any file.
    assert norm("big", root=str(linked_repo)) == "big"


def test_not_yet_existing_paths_are_fine(linked_repo):
    assert norm("new/deep/file", root=str(linked_repo)) == "new/deep/file"


def test_link_check_can_be_skipped_for_other_commits(linked_repo):
    assert norm("big/x", root=str(linked_repo), check_links=False) == "big/x"


def test_the_pipeline_reports_a_symlink_escape_at_its_line(linked_repo):
    (linked_repo / "exp.yaml").write_text("stages:\n  train:\n    cmd: run\n    outs:\n      - big/model.pt\n")
    with pytest.raises(ExpError, match=r"^exp\.yaml:5:9: out 'big/model\.pt' of stage 'train' goes "
                                       r"through the symlink 'big'"):
        load_pipeline(str(linked_repo))
