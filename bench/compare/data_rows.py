"""`add` and `checkout` of many small files and of one big file, beside
`sha256sum`, `md5sum` (DVC's hash) and `cp -r` of the same data.

Each round starts from a fresh repository with the data copied in (untimed),
so every `add` hashes and stores everything, as a first `add` does. Then the
pointer is committed and the data deleted, and `checkout` restores it from
the cache; a second `checkout` has nothing to do. Both tools use their
default link type (reflink, else copy: a copy on ext4). The data was just
written, so every command reads it from the page cache: these rows compare
hashing and copying, not disks.

What a round of many small files replaces (the last round's repository, the
deleted data, the last copy) is moved aside into a trash folder, emptied
once the rows are measured, instead of being deleted just before the timed
command: on ext4
without a journal (as here) creating a file steps over every inode freed
nearby in the last minute, so a deletion of 10,000 files made each tool's
next 10,000 creations cost 0.1-0.5 ms more each, by a different amount in
every round (add figures ranged 4x within one run).
"""
from __future__ import annotations

import itertools
import os
import shutil
import time

from compare import projects
from compare.measure import Step, alternate
from compare.rows import Context, Entry, Goal, Row, dvc_cell, step_for

# git-exp's stat memo does not record a file younger than this (data/state.py,
# RACY_NS), so the first no-op after a checkout re-hashes everything once. The
# no-op row measures the steady state: it waits this long and runs one untimed
# checkout first, for both tools.
SETTLE_SECONDS = 2.2


def data(ctx: Context) -> list[Row]:
    s = ctx.sizes
    src = ctx.folder("data", "src")
    ctx.log(f"data: making {s.files:,} × {s.file_kb} KiB files and one {s.big_mb:,} MiB file")
    many, big = projects.data_source(src, s.files, s.file_kb, s.big_mb)
    rows = []
    cases = [("many", many, f"{s.files:,} × {s.file_kb} KiB files")]
    if s.big_mb:  # --tiny leaves the big file out: the same code path, half the time
        cases.append(("big", big, f"one {_size(s.big_mb)} file"))
    for tag, source, what in cases:
        rows += _rows_for(ctx, tag, source, what)
    shutil.rmtree(ctx.folder("data"), ignore_errors=True)
    return rows


def _size(mb: int) -> str:
    return f"{mb // 1024} GiB" if mb >= 1024 and mb % 1024 == 0 else f"{mb:,} MiB"


class _Trash:
    """Where replaced trees go until the rows are measured (see the docstring).
    KEEP=False deletes at once: one big file frees one inode, and keeping
    gigabytes aside would only make every `sync` write them out."""

    def __init__(self, folder: str, keep: bool):
        self.folder, self.keep = folder, keep
        self._count = itertools.count()

    def discard(self, path: str) -> None:
        if not self.keep:
            projects.remove(path)
        elif os.path.lexists(path):
            os.rename(path, os.path.join(self.folder, str(next(self._count))))

    def empty(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class _Round:
    """One tool's add → checkout → checkout again, in a repository made anew each round."""

    def __init__(self, ctx: Context, tool, path: str, source: str, trash: _Trash):
        self.ctx, self.tool, self.path, self.source = ctx, tool, path, source
        self.trash = trash
        self.name = "data" if os.path.isdir(source) else "big.bin"
        self.expected = projects.count_files(source)[0]

    def fresh(self) -> None:
        dvc = projects.dvc_files(self.ctx.work, self.ctx.dvc.exe, self.ctx.env) \
            if self.tool.name == "dvc" else {}
        self.trash.discard(self.path)
        projects.init_repo(self.path, self.ctx.env, {"README": "data\n", **dvc})
        projects.run(["cp", "-r", self.source, os.path.join(self.path, self.name)],
                     self.path, self.ctx.env)

    def added(self):
        pointer = self.name + (".exp" if self.tool.name == "git-exp" else ".dvc")
        if not os.path.exists(os.path.join(self.path, pointer)):
            return f"no {pointer} written"
        return None

    def commit_and_delete(self) -> None:
        projects.git(["add", "-A"], self.path, self.ctx.env)
        projects.git(["commit", "-q", "-m", "track data"], self.path, self.ctx.env)
        self.trash.discard(os.path.join(self.path, self.name))

    def restored(self):
        target = os.path.join(self.path, self.name)
        got = projects.count_files(target)[0] if os.path.exists(target) else 0
        return None if got == self.expected else f"restored {got} of {self.expected} files"

    def settle(self) -> None:
        """The steady state a later no-op meets: files older than the racy window,
        and one untimed checkout that has seen them (and memoised their hashes)."""
        if self.ctx.sizes.settle:
            time.sleep(SETTLE_SECONDS)
        projects.run(self.tool.argv("checkout"), self.path, self.ctx.env)


def _rows_for(ctx: Context, tag: str, source: str, what: str) -> list[Row]:
    ctx.log(f"add and checkout of {what}")
    groups = []
    trash = _Trash(ctx.folder("data", f"trash-{tag}"), keep=tag == "many")
    for tool in ctx.tools():
        r = _Round(ctx, tool, ctx.folder("data", f"{tool.name}-{tag}"), source, trash)
        add = step_for(tool, ctx, f"{tool.name}:add", tool.argv("add", r.name), r.path, "add",
                       prepare=r.fresh, check=r.added)
        checkout = step_for(tool, ctx, f"{tool.name}:checkout", tool.argv("checkout"), r.path,
                            "checkout", prepare=r.commit_and_delete, check=r.restored)
        again = step_for(tool, ctx, f"{tool.name}:noop", tool.argv("checkout"), r.path,
                         "checkout", prepare=r.settle)
        if add.unavailable:  # checkout has nothing to restore without add
            checkout.unavailable = again.unavailable = checkout.unavailable or add.unavailable
        groups.append([add, checkout, again])
    # The physical limits, on a copy of the same data.
    limit = ctx.folder("data", f"limit-{tag}")
    name = os.path.basename(source)
    projects.run(["cp", "-r", source, os.path.join(limit, name)], limit, ctx.env)
    every_file = f"find {name} -type f -print0 | xargs -0 %s > /dev/null"
    copy = os.path.join(limit, "copy")
    groups.append([
        Step("sha256sum", ["sh", "-c", every_file % "sha256sum"], limit, ctx.env),
        Step("md5sum", ["sh", "-c", every_file % "md5sum"], limit, ctx.env),
        Step("cp", ["cp", "-r", name, "copy"], limit, ctx.env,
             prepare=lambda: trash.discard(copy)),
    ])
    res = alternate(groups, ctx.heavy_runs, log=ctx.log)
    trash.empty()
    sha = "sha256sum (every file)"
    cp = "cp -r (one copy of the data)"
    # Issue 20's goals: many small files are added at >= 3x DVC's speed and
    # checked out within 1.5x of `cp -r`; one big file checked out at >= 1.5x DVC.
    if tag == "many":
        add_goal = Goal("≥ 3× DVC", 3.0)
        checkout_goal = Goal("within 1.5× of cp -r (and ≥ 3× DVC)", 1 / 1.5, limit=cp)
    else:
        add_goal = Goal("≥ 0.8 of sha256sum's speed", 0.8, limit=sha)
        checkout_goal = Goal("≥ 1.5× DVC", 1.5)
    rows = [
        Row("data", f"`add` of {what}", [
            Entry("git-exp", f"git-exp add {_shown(tag)}", res["git-exp:add"]),
            Entry("dvc", f"dvc add {_shown(tag)}", dvc_cell(ctx, res.get("dvc:add"))),
            Entry("limit", sha, res["sha256sum"]),
            Entry("limit", "md5sum (every file; DVC's hash)", res["md5sum"]),
            Entry("limit", cp, res["cp"]),
        ], add_goal),
        Row("data", f"`checkout` of {what} (deleted from the work tree)", [
            Entry("git-exp", "git-exp checkout", res["git-exp:checkout"]),
            Entry("dvc", "dvc checkout", dvc_cell(ctx, res.get("dvc:checkout"))),
            Entry("limit", cp, res["cp"]),
        ], checkout_goal),
        Row("data", f"`checkout` of {what}, nothing to do", [
            Entry("git-exp", "git-exp checkout", res["git-exp:noop"]),
            Entry("dvc", "dvc checkout", dvc_cell(ctx, res.get("dvc:noop"))),
        ]),
    ]
    return rows


def _shown(tag: str) -> str:
    return "data" if tag == "many" else "big.bin"
