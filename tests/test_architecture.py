"""The layering rule from the README, kept true by a test.

The core (everything but cli.py, commands/, ui/ and manpage.py) never parses
argv, never colors, never imports the CLI: it returns data and raises ExpError.
"""
from __future__ import annotations

import ast

from tests.conftest import ROOT

FORBIDDEN = {"argparse", "colorama", "git_exp.cli", "git_exp.commands", "git_exp.ui"}
OUTSIDE_CORE = {"cli.py", "manpage.py", "__main__.py"}


def core_modules():
    package = ROOT / "git_exp"
    for path in package.rglob("*.py"):
        rel = path.relative_to(package)
        # example/ is the user's project that `init --example` copies, not git-exp.
        if rel.parts[0] in ("commands", "ui", "example") or str(rel) in OUTSIDE_CORE:
            continue
        yield path


def imported_names(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_core_never_imports_the_cli_or_presentation():
    offenders = []
    for path in core_modules():
        for name in imported_names(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_core_never_prints():
    offenders = []
    for path in core_modules():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


# -- one door to Git -----------------------------------------------------------------------
#
# Only git_exp/git/ starts `git`; everything else calls its functions (run.git for one
# command, catfile for reading objects, commits for commit-tree and ref transactions).
# GIT_SPAWNERS names the door's two primitives that really start the process; a `git`
# started anywhere else fails the test, and a name here that no longer starts git is stale.

GIT_SPAWNERS = {
    "git/run.git": "the door: one `git` command, output captured (or streamed into a file)",
    "git/run.git_process": "the door: a long-lived `git` talking through pipes (cat-file --batch)",
}

_SPAWN = {"run", "Popen", "call", "check_call", "check_output"}


def _spawns_git(call: ast.Call) -> bool:
    """subprocess.run(["git", ...]) and the like: an argv whose first word is "git"."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in _SPAWN or not call.args:
        return False
    argv = call.args[0]
    return (isinstance(argv, (ast.List, ast.Tuple)) and bool(argv.elts)
            and isinstance(argv.elts[0], ast.Constant) and argv.elts[0].value == "git")


def _spawners_in(source: str, module: str) -> set[str]:
    found: set[str] = set()

    def visit(node, names):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, [*names, child.name])
                continue
            if isinstance(child, ast.Call) and _spawns_git(child):
                found.add(".".join([module, *names]))
            visit(child, names)

    visit(ast.parse(source), [])
    return found


def git_spawners() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "git_exp").rglob("*.py"):
        rel = path.relative_to(ROOT / "git_exp").with_suffix("")
        if rel.parts[0] == "example":
            continue
        found |= _spawners_in(path.read_text(encoding="utf-8"), "/".join(rel.parts))
    return found


def test_git_is_spawned_only_through_the_door():
    found = git_spawners()
    new = sorted(found - set(GIT_SPAWNERS))
    assert not new, (f"these start `git` themselves: {new}; run it through git_exp.git "
                     "(the door to Git: git.run.git, git.catfile, git.commits)")
    stale = sorted(set(GIT_SPAWNERS) - found)
    assert not stale, f"GIT_SPAWNERS names functions that no longer start git: {stale}"


def test_the_git_census_sees_what_it_must():
    source = ("import subprocess\n"
              "def a(x):\n    subprocess.run(['git', 'status'])\n"
              "class B:\n    def c(self):\n        return subprocess.Popen(('git', *self.args))\n"
              "def d():\n    subprocess.run(['gitk'])\n    subprocess.run(['ls', 'git'])\n")
    assert _spawners_in(source, "m") == {"m.a", "m.B.c"}


# -- no console in the core ------------------------------------------------------------------
#
# Only cli.py, commands/, ui/ and web/ talk to the user. The core returns data and
# raises ExpError: it imports no git_exp.ui.console, takes no `console` argument and
# writes to no sys.stdout/sys.stderr (print() is test_core_never_prints' job). The
# modules below still do, each with why. New ones fail the test.

PRESENTATION = ("cli.py", "manpage.py", "__main__.py", "commands/", "ui/", "web/", "example/")

CONSOLE_IN_CORE: dict[str, str] = {}


def _console_uses(path) -> list[str]:
    uses = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module == "git_exp.ui":
                names += [f"git_exp.ui.{a.name}" for a in node.names]
            if any(n == "git_exp.ui.console" for n in names):
                uses.append(f"{node.lineno}: imports git_exp.ui.console")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            params = node.args.args + node.args.kwonlyargs
            if any(a.arg == "console" for a in params):
                uses.append(f"{node.lineno}: {node.name}() takes a console")
        elif (isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr")
              and isinstance(node.value, ast.Name) and node.value.id == "sys"):
            uses.append(f"{node.lineno}: sys.{node.attr}")
    return uses


def test_no_console_in_the_core():
    package = ROOT / "git_exp"
    found = {}
    for path in package.rglob("*.py"):
        rel = path.relative_to(package).as_posix()
        if rel.startswith(PRESENTATION):
            continue
        uses = _console_uses(path)
        if uses:
            found[rel] = uses
    new = {rel: uses for rel, uses in found.items() if rel not in CONSOLE_IN_CORE}
    assert not new, (f"the core talks to the user here: {new}; return data or raise ExpError and "
                     "let commands/ render it (or name the module in CONSOLE_IN_CORE with why)")
    stale = sorted(set(CONSOLE_IN_CORE) - set(found))
    assert not stale, f"CONSOLE_IN_CORE names modules that no longer use the console: {stale}"


def test_the_console_census_sees_what_it_must(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import sys\nfrom git_exp.ui import console\n"
                    "def f(repo, console=None):\n    sys.stderr.write('x')\n"
                    "def g(repo):\n    return sys.stdin.read()\n")
    assert _console_uses(path) == ["2: imports git_exp.ui.console", "3: f() takes a console", "4: sys.stderr"]


# -- ranks: a lower package never imports a higher one ---------------------------------------
#
# The package map (README's architecture section), lowest first: a module may import
# modules of its own rank or lower, never higher. Every import counts, a lazy one inside
# a function and one under `if TYPE_CHECKING:` too: each is an edge someone has to reason
# about. Keys are paths under git_exp/ (a package or a module, no ".py"); the longest key
# that is a prefix of a module's path gives its rank. A module no key covers fails the
# test: a new top-level module or package is placed here on purpose.

RANKS = {
    # 0 foundation: tiny, pure, imported everywhere
    "__init__": 0, "errors": 0, "bounded": 0, "atomic": 0, "procs": 0,
    "crashlog": 0, "logtail": 0, "pathmap": 0, "live": 0, "filewatch": 0, "names": 0,
    "plainclass": 0,
    "relpaths": 0,
    # 1 the door to Git: git/ (the only code that starts `git`), the repository, and
    # its config (read with `git config`, so above the door rather than in the foundation)
    "git": 1, "repo": 1, "config": 1,
    # 2 params files
    "params": 2,
    # 3 data: pure storage (hashing, cache, links, stat memo, pointer format, run cache)
    "data": 3,
    # 4 remotes: data transport (data remotes, transfers, the on-demand fetch)
    "remotes": 4,
    # 5 the work-tree door and ignore rules
    "worktree_writes": 5, "ignore": 5,
    # 6 the pipeline
    "pipeline": 6,
    # 7 worktree/: records, add, status, sync, checkout, backups
    "worktree": 7,
    # 8-12 the core packages above it
    "experiments": 8, "sharing": 9, "queue": 10, "distributed": 11, "show": 12,
    # 13 upkeep: gc, gcscope, fsck; plots
    "upkeep": 13, "plots": 13,
    # 14 applications built on the core
    "api": 14, "dvcimport": 14, "scaffold": 14, "scaffold_example": 14, "scaffold_text": 14,
    "hooks": 14,
    # 15 presentation; cli.py (and __main__) on top, so no command imports the CLI
    "ui": 15, "web": 15, "commands": 15, "manpage": 15,
    "cli": 16, "__main__": 16,
}

def _module_path(path) -> str:
    """git_exp/data/cache.py -> "data/cache"; a package is named by its folder."""
    parts = list(path.relative_to(ROOT / "git_exp").with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return "/".join(parts)


def rank_of(module: str) -> int | None:
    parts = module.split("/")
    for end in range(len(parts), 0, -1):
        key = "/".join(parts[:end])
        if key in RANKS:
            return RANKS[key]
    return None


def _target(dotted: str, package) -> str | None:
    """The git_exp module a dotted name imports (the longest prefix that is one), or None."""
    parts = dotted.split(".")
    if parts[0] != "git_exp":
        return None
    parts = parts[1:]
    for end in range(len(parts), 0, -1):
        base = package.joinpath(*parts[:end])
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return "/".join(parts[:end])
    return "__init__"


def imports_of(source: str, module: str, package=None) -> dict[str, int]:
    """module imported -> first line, for every import in SOURCE (lazy ones too) of MODULE."""
    package = package or ROOT / "git_exp"
    found: dict[str, int] = {}
    is_package = (package / module / "__init__.py").is_file()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:   # relative: resolved against the importing module's package
                here = ["git_exp", *module.split("/")]
                here = here[:len(here) - node.level + (1 if is_package else 0)]
                base = ".".join(here + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names]
            names.append(base)
        else:
            continue
        targets = {t for t in (_target(n, package) for n in names) if t is not None}
        for target in targets:
            if any(other.startswith(target + "/") for other in targets):
                continue   # `from git_exp.queue import claims`: the edge is to queue/claims
            found.setdefault(target, node.lineno)
    return found


def back_edges() -> tuple[dict[str, str], list[str]]:
    """("module -> module": where, ...) for every import of a higher rank; modules without a rank."""
    package = ROOT / "git_exp"
    edges, unranked = {}, []
    for path in sorted(package.rglob("*.py")):
        module = _module_path(path)
        if module.startswith("example/"):
            continue
        rank = rank_of(module)
        if rank is None:
            unranked.append(module)
            continue
        for target, line in imports_of(path.read_text(encoding="utf-8"), module, package).items():
            theirs = rank_of(target)
            if theirs is None:
                unranked.append(target)
            elif theirs > rank:
                edges[f"{module} -> {target}"] = f"{module}.py:{line} imports {target} ({rank} < {theirs})"
    return edges, sorted(set(unranked))


def test_a_lower_rank_never_imports_a_higher_one():
    edges, unranked = back_edges()
    assert not unranked, (f"modules with no rank: {unranked}; place them in RANKS in "
                          "tests/test_architecture.py (and README's architecture map)")
    assert not edges, (f"back edges: {sorted(edges.values())}; import only your own rank or lower "
                       "(move what both need down, or let the caller pass it in)")


def test_the_rank_check_sees_a_planted_back_edge(tmp_path):
    package = tmp_path / "git_exp"
    for folder in ("data", "queue", "show"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    for module in ("show/pending", "queue/entries", "data/cache", "errors"):
        (package / f"{module}.py").write_text("")
    source = ("from __future__ import annotations\nimport os\nfrom git_exp.errors import ExpError\n"
              "def f():\n    from git_exp.show.pending import Pending\n"
              "    from git_exp.queue import entries\n    import git_exp.data.cache\n"
              "    from . import cache\n    from git_exp import __version__\n")
    assert imports_of(source, "data/hashing", package) == {
        "errors": 3, "show/pending": 5, "queue/entries": 6, "data/cache": 7, "__init__": 9}
    assert [rank_of(m) for m in ("data/hashing", "show/pending", "upkeep/gc", "remotes/lfs/batch")] \
        == [3, 12, 13, 4]
    assert rank_of("newpackage/module") is None


# -- only cli.py says `error:` -------------------------------------------------------------------
#
# A command that fails raises ExpError (or Interrupted, exit 130) after printing its
# report; cli.py says every error the same way, with `hint:` lines, and picks the exit
# code. Several failures of one command travel together (errors.raise_all).

def _error_calls(source: str) -> list[int]:
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "error" and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "console"]


def test_only_the_cli_prints_errors():
    offenders = []
    for path in sorted((ROOT / "git_exp" / "commands").rglob("*.py")):
        offenders += [f"{path.relative_to(ROOT)}:{line}" for line in _error_calls(path.read_text())]
    assert offenders == [], f"raise ExpError instead of console.error(): {offenders}"


def test_the_error_census_sees_what_it_must():
    assert _error_calls("def run(args, console):\n    console.error('x')\n    console.warn('y')\n") == [2]
