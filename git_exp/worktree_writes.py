"""The one door through which git-exp writes into a work tree.

Whatever apply, checkout, the hooks, queue checkouts, the runner and plots
put under a work tree (files, symlinks, folders, removals) passes through
`WorkTree`, because the paths come from untrusted places: an experiment's
Git tree, its exp.lock, pointer files, directory manifests, plots data.

A path is refused when it is absolute, has a '..', '.' or empty part or a
NUL byte, or a '.git' part in any letter case (on macOS and Windows '.GIT'
is the same folder; Git refuses it in trees for that reason, CVE-2014-9390),
and when any folder on the way is a symlink: writing through one could put
bytes anywhere, `lnk -> .git` included. Missing folders are made here one at
a time, each looked at before the next. Files are written under a temporary
name beside the target (O_EXCL|O_NOFOLLOW) and renamed into place, so a
crash or Ctrl-C leaves the old file or the new one, never half of one. A
symlink that an experiment's tree holds is created as a symlink, as Git
does, and is never written through.

The checks are lstat()s, as Git's own (has_symlink_leading_path): they stop
hostile inputs, not another process racing us in a work tree it can write.
tests/test_worktree_door.py lists every function in git_exp that writes to
the filesystem, so a new writer has to come through here or say why not.
"""
from __future__ import annotations

import errno
import os
import stat

from git_exp.errors import ExpError
from git_exp.relpaths import path_problem

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Sequence

_HINT = "an experiment or record can never write outside the work tree, into .git or through a symlink"


def refuse_unsafe(relpath: str, what: str = "data path") -> str:
    """RELPATH itself, or ExpError when path_problem finds something."""
    problem = path_problem(relpath)
    if problem:
        raise ExpError(f"refusing the {what} {relpath!r}: {problem}", hint=_HINT)
    return relpath


class WorkTree:
    """Checked writes under ROOT. Relative paths use '/'.

    CACHE_ROOT, when given, is the data cache: a path that is a symlink into
    it (how the 'symlink' link type checks data out) may be replaced.
    One WorkTree per operation remembers the folders it found to be real
    folders, so each is looked at once however many files it holds.
    """

    def __init__(self, root: str, cache_root: str | None = None, real_dirs: set | None = None):
        self.root = os.path.abspath(root)
        self.cache_root = os.path.normpath(cache_root) if cache_root else None
        # REAL_DIRS: a set shared by callers that check paths before writing.
        self._real_dirs: set[str] = real_dirs if real_dirs is not None else set()

    def abs(self, rel: str) -> str:
        """ROOT/REL without any check: for reading and messages only."""
        return self.root + os.sep + (rel if os.sep == "/" else rel.replace("/", os.sep))

    # -- checks ----------------------------------------------------------------

    def path(self, rel: str, what: str = "path", replace_link: bool = False) -> str:
        """The absolute path of REL once no folder on the way is a symlink.

        REL itself may be a symlink only when REPLACE_LINK (the caller will
        swap or unlink the link, never follow it) or when it points into the
        cache. Folders that do not exist yet are fine: make_parents makes them.
        """
        refuse_unsafe(rel, what)
        parts = rel.split("/")
        current = self.root
        for i, part in enumerate(parts[:-1]):
            current = current + os.sep + part
            if current in self._real_dirs:
                continue
            try:
                st = os.lstat(current)
            except (FileNotFoundError, NotADirectoryError):
                break  # nothing further down exists yet, so no link can be in the way
            if stat.S_ISLNK(st.st_mode):
                raise self._through_link("/".join(parts[:i + 1]), rel, what)
            if not stat.S_ISDIR(st.st_mode):
                break  # a file where a folder should be: the write itself will fail and say so
            self._real_dirs.add(current)
        full = self.abs(rel)
        if not replace_link and os.path.islink(full) and not self.into_cache(full):
            raise self._through_link(rel, rel, what)
        return full

    def _through_link(self, link: str, rel: str, what: str) -> ExpError:
        on_the_way = f" on the way to {what} '{rel}'" if link != rel else f" at {what} '{rel}'"
        return ExpError(f"refusing to follow the symlink '{link}'{on_the_way}",
                        hint=f"remove the link '{link}' (or replace it with a real folder) and try again; "
                             + _HINT)

    def into_cache(self, link: str) -> bool:
        if not self.cache_root:
            return False
        try:
            target = os.readlink(link)
        except OSError:
            return False
        target = os.path.normpath(os.path.join(os.path.dirname(link), target))
        return target.startswith(self.cache_root + os.sep)

    # -- folders -----------------------------------------------------------------

    def make_parents(self, rel: str, what: str = "path") -> str:
        """Check REL and make its missing folders (never through a link); its absolute path."""
        full = self.path(rel, what, replace_link=True)
        self._make_folders(rel, rel.split("/")[:-1], what)
        return full

    def mkdir(self, rel: str) -> str:
        """REL as a real folder (made with its parents when missing); its absolute path."""
        full = self.path(rel, replace_link=True)
        self._make_folders(rel, rel.split("/"), "folder")
        return full

    def _make_folders(self, rel: str, parts: list, what: str) -> None:
        current = self.root
        for i, part in enumerate(parts):
            current = current + os.sep + part
            if current in self._real_dirs:
                continue
            try:
                os.mkdir(current)
            except FileExistsError:
                pass
            st = os.lstat(current)  # made by us or found: either way, look before going in
            where = "/".join(parts[:i + 1])
            if stat.S_ISLNK(st.st_mode):
                raise self._through_link(where, rel, what)
            if not stat.S_ISDIR(st.st_mode):
                raise ExpError(f"cannot write '{rel}': '{where}' is a file, not a folder",
                               hint=f"move '{where}' away and try again")
            self._real_dirs.add(current)

    def rmdir(self, rel: str) -> bool:
        """Remove the folder REL if it is empty; True when it was removed."""
        full = self.path(rel)
        try:
            os.rmdir(full)
        except OSError:
            return False
        self._real_dirs.discard(full)
        return True

    def remove_empty_parents(self, rel: str) -> None:
        """Remove REL's folders that are now empty, deepest first, up to ROOT."""
        parent = rel.rpartition("/")[0]
        while parent and self.rmdir(parent):
            parent = parent.rpartition("/")[0]

    # -- files -------------------------------------------------------------------

    def place(self, temp: str, rel: str, what: str = "path") -> str:
        """Rename the finished file TEMP to REL (a link there is swapped, not followed).
        TEMP is gone afterwards either way: moved to REL, or removed when that fails."""
        try:
            full = self.make_parents(rel, what)
            if os.path.isdir(full) and not os.path.islink(full):
                raise ExpError(f"cannot write '{rel}': a folder is there", hint=f"move '{rel}' away and try again")
            try:
                os.replace(temp, full)
            except OSError as err:
                if err.errno != errno.EXDEV:
                    raise
                # TEMP was made on another filesystem: copy it beside REL first.
                beside = self._temp_beside(full)
                import shutil   # here: hooks with nothing to write do not load it (bz2, lzma)
                try:
                    shutil.copy2(temp, beside)
                    os.replace(beside, full)
                except BaseException:
                    _discard(beside)
                    raise
                _discard(temp)
        except BaseException:
            _discard(temp)
            raise
        return full

    def write(self, rel: str, data: bytes | str, mode: int | None = None, what: str = "path") -> str:
        """REL holding DATA (mode MODE, else the old file's, else 0o666 & ~umask), atomically."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        full = self.make_parents(rel, what)
        if mode is None:
            try:
                st = os.lstat(full)
                mode = stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None
            except FileNotFoundError:
                pass
        if mode is None:
            mode = 0o666 & ~_umask()
        temp = self._temp_beside(full)
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(temp, mode)
            # Inside the try: a Ctrl-C between the chmod and place() must not leave TEMP.
            return self.place(temp, rel, what)
        except BaseException:
            _discard(temp)
            raise

    def symlink(self, rel: str, target: str, what: str = "path") -> str:
        """REL as a symlink to TARGET (the link is made, never followed), atomically."""
        temp = self._temp_beside(self.make_parents(rel, what))
        try:
            os.symlink(target, temp)
            return self.place(temp, rel, what)
        except BaseException:   # a Ctrl-C between the two as well: no hidden link left
            _discard(temp)
            raise

    def link_from_cache(self, src: str, rel: str, kinds: Sequence[str], *, executable: bool | None = None,
                        expected_hash: str | None = None) -> str:
        """REL holding cache object SRC (reflink, hardlink, symlink or copy); the kind used."""
        from git_exp.data.links import link_to_temp
        full = self.make_parents(rel, "data path")
        temp, kind = link_to_temp(src, full, kinds, executable=executable, expected_hash=expected_hash)
        self.place(temp, rel, "data path")
        return kind

    def set_executable(self, rel: str, executable: bool) -> None:
        full = self.path(rel)
        st = os.lstat(full)
        if not stat.S_ISREG(st.st_mode):
            return  # os.chmod would follow a link
        mode = stat.S_IMODE(st.st_mode)
        mode = mode | (0o111 & ~_umask()) if executable else mode & ~0o111
        os.chmod(full, mode)

    def remove(self, rel: str, what: str = "path") -> bool:
        """Remove the file, symlink (never followed) or whole folder at REL; True if one was there."""
        full = self.path(rel, what, replace_link=True)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            import shutil
            shutil.rmtree(full)  # unlinks the symlinks inside, never follows them
            for gone in [d for d in self._real_dirs if d == full or d.startswith(full + os.sep)]:
                self._real_dirs.discard(gone)
        else:
            os.unlink(full)
        return True

    @staticmethod
    def _temp_beside(full: str) -> str:
        head, tail = os.path.split(full)
        return os.path.join(head, f".{tail[:200]}.{os.urandom(6).hex()}.tmp")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def _umask() -> int:
    from git_exp.data.links import current_umask
    return current_umask()


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
