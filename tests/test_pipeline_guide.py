"""gitexp-pipeline(7) stays true to the parser: every key it accepts is named in
the right section, every example parses with the real loader (and makes the
stages and commands it says), and `git exp help pipeline` shows the page."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from git_exp import manpage
from git_exp.pipeline import lock, parser
from git_exp.pipeline.graph import build_graph
from git_exp.pipeline.spec import load_pipeline
from tests.conftest import ROOT


def _sections() -> dict[str, str]:
    _, blocks = manpage.guide_blocks("pipeline")
    assert all(isinstance(body, str) for _, body in blocks), "the pipeline guide is text only"
    return dict(blocks)


def _parser_literal_keys() -> set[str]:
    """Keys parser.py tests for by name in a stage body (foreach, do, matrix...)."""
    source = (ROOT / "git_exp" / "pipeline" / "parser.py").read_text()
    keys = set(re.findall(r'"(\w+)" (?:not )?in body\b', source))
    keys |= set(re.findall(r'body(?:\.get\(|\[)"(\w+)"', source))
    for group in re.findall(r"key not in \(([^)]*)\)", source):
        keys |= set(re.findall(r'"(\w+)"', group))
    return keys


def _named(key: str, text: str) -> bool:
    """KEY written as a key in prose (`key`), not just as an English word."""
    return f"`{key}`" in text


def test_the_scan_of_parser_keys_is_not_stale():
    assert {"foreach", "do", "matrix", "cmd", "wdir", "vars"} <= _parser_literal_keys()


@pytest.mark.parametrize("section, keys", [
    ("Top level", lambda: parser.TOP_KEYS),
    ("Stages", lambda: parser.STAGE_KEYS),
    ("Stages", lambda: sorted(_parser_literal_keys() - set(parser.STAGE_KEYS))),
    ("Outputs", lambda: parser.OUT_OPTIONS),
    ("Plots", lambda: parser.PLOT_PROPS),
    ("Foreach and matrix", lambda: ("foreach", "do", "matrix")),
])
def test_every_key_the_parser_accepts_is_documented(section, keys):
    text = _sections()[section]
    missing = [k for k in keys() if not _named(k, text)]
    assert missing == [], f"gitexp-pipeline(7), section {section!r}, does not name: {missing}"


def test_the_limits_are_the_ones_the_reader_enforces():
    from git_exp import bounded
    text = " ".join(_sections()["Limits"].split())
    assert f"larger than {bounded.MAX_FILE_SIZE // (1024 * 1024)} MiB" in text
    assert f"more than {bounded.MAX_DEPTH} mappings or lists deep" in text
    assert f"more than {bounded.MAX_ALIAS_NODES:,} extra values" in text


def _examples() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(section, block, [(file, text) of the section's other files]) per exp.yaml example."""
    found = []
    lock_blocks = []
    for title, text in _sections().items():
        files = []
        for block in text.split("\n\n"):
            block = block.strip("\n")
            lines = block.splitlines()
            if not lines or not all(line.startswith("  ") for line in lines):
                continue
            body = "\n".join(line[2:] for line in lines) + "\n"
            head = re.match(r"# (\S+)\n", body)
            assert head, f"an example in {title!r} does not start with '# FILE':\n{body}"
            files.append((head.group(1), body))
        for name, body in files:
            if name == "exp.yaml":
                found.append((title, body, [f for f in files if f[0] != "exp.yaml"]))
            elif name == "exp.lock":
                lock_blocks.append(body)
    return found + [("exp.lock", body, []) for body in lock_blocks]


def test_the_guide_has_examples_in_every_section_that_needs_one():
    titled = {title for title, _, _ in _examples()}
    assert {"Description", "Top level", "Stages", "Params", "Outputs", "Plots", "Templating",
            "Foreach and matrix", "exp.lock"} <= titled


@pytest.mark.parametrize("title, body, others", _examples(), ids=lambda v: v if isinstance(v, str) and
                         "\n" not in v else "")
def test_every_example_parses_as_the_guide_says(tmp_path, title, body, others):
    if title == "exp.lock":
        stages = lock.parse_lock(body)
        assert stages and all(s.cmd for s in stages.values())
        return
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for name, text in others:
        (tmp_path / name).write_text(text)
    (tmp_path / "exp.yaml").write_text(body)
    pipeline = load_pipeline(str(tmp_path))
    build_graph(pipeline)   # what run checks next: no overlapping outs, no stage reading its own
    said = re.search(r"^# gives stages: (.*(?:\n#   .*)*)$", body, re.M)
    assert said, f"the example in {title!r} does not say which stages it makes"
    assert list(pipeline.stages) == [n.strip("# \n") for n in said.group(1).split(",")]
    for stage, command in re.findall(r"^# (\S+) runs: (.*)$", body, re.M):
        assert pipeline.stages[stage].cmd == [command]


def test_help_pipeline_shows_the_guide(project):
    out = project.exp("help", "pipeline").stdout
    assert out.startswith("gitexp-pipeline - the exp.yaml pipeline file\n")
    for title in ("TOP LEVEL", "STAGES", "PARAMS", "OUTPUTS", "PLOTS", "PATHS", "TEMPLATING",
                  "FOREACH AND MATRIX", "WHEN A STAGE RUNS", "EXP.LOCK", "LIMITS"):
        assert f"\n{title}\n" in out
    assert "FUNCTIONS" not in out   # a text-only guide has no empty Functions block
    assert "foreach: [train, test]" in out
    page = ROOT / "man" / "gitexp-pipeline.7"
    assert page.read_text() == manpage.guide_page("pipeline")
    assert ".SH FUNCTIONS" not in page.read_text()
    if shutil.which("man"):
        proc = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert "FOREACH AND MATRIX" in proc.stdout


def test_help_lists_the_pipeline_guide(project):
    proc = project.exp("help", "no-such-thing", check=False)
    assert proc.returncode == 1 and "guides: api, pipeline" in proc.stderr, proc.stderr


@pytest.mark.skipif(shutil.which("man") is None, reason="man(1) is not installed")
def test_git_help_exp_pipeline_opens_the_page(project, tmp_path):
    # As installed (setup.cfg: share/man/man7): Git asks man for gitexp-pipeline.
    folder = tmp_path / "share" / "man" / "man7"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "man" / "gitexp-pipeline.7", folder)
    proc = subprocess.run(["git", "help", "exp-pipeline"], cwd=project.path, capture_output=True, text=True,
                          env={**os.environ, "MANPATH": str(folder.parent),
                               "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "gitexp-pipeline - the exp.yaml pipeline file" in proc.stdout
