"""Notes and tags on experiments: one ref per experiment, `refs/exp-notes/<experiment sha>`.

An experiment's commit is its identity (its sha names it everywhere, and
its data, params and metrics are fixed by it), so a note or a tag added
later cannot go into it. Git's own way to attach text to a commit after the
fact is `git notes`, one notes ref for every commit. We keep Git notes'
shape - a small commit history of annotations, next to the commit it
annotates - but one ref per experiment, as run logs do
(sharing/logs.py):

- two clones annotating different experiments never conflict: each push
  moves only the refs of the experiments it touched, where a single
  `refs/notes/exps` would reject every concurrent push as non-fast-forward
  and need `git notes merge` and a retry;
- a pull brings the annotations of just the experiments it brings;
- a plain `git push origin 'refs/exps/*:refs/exps/*' 'refs/exp-notes/*:refs/exp-notes/*'`
  (and `git fetch` of the same) carries them, with nothing but Git.

The ref names a commit whose tree holds up to two files: `note` (UTF-8
text) and `tags` (one tag a line, sorted). Every change is a new commit on
top of the previous one, made with the user's identity, so
`git log -p refs/exp-notes/<sha>` is the history of who annotated what, an
update pushes as a fast-forward, and removing the last tag or the note
leaves a commit with an empty tree (the removal travels too). When two
clones changed the same experiment's annotations, `git exp pull` merges
them (merge.py's rule: tags three-way as sets, a note changed on one side
taken, a note changed on both kept as both, ours first).

Annotations that arrive are untrusted (see `accept_fetched`): the tree must
hold only `note` and `tags` blobs, a note at most MAX_NOTE bytes of UTF-8, at
most MAX_TAGS tags each matching TAG_RULE. `show` reads them with the same
bounds, so one fetched by plain `git fetch` cannot flood it either.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from git_exp.errors import ExpError
from git_exp.git import git
from git_exp.repo import Repository

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable

    from git_exp.experiments.refs import ExpRef
    from git_exp.git.catfile import GitObject

PREFIX = "refs/exp-notes/"
PATTERN = PREFIX + "*"
INCOMING = "refs/exp-notes-incoming/"   # where pull puts them before they are checked
MAX_NOTE = 64 * 1024
MAX_TAGS = 64
MAX_TAGS_BYTES = MAX_TAGS * 65
TAG_RULE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


@dataclass(frozen=True)
class Annotation:
    note: str = ""
    tags: tuple = ()

    @property
    def empty(self) -> bool:
        return not self.note and not self.tags


def notes_ref(sha: str) -> str:
    return PREFIX + sha


def check_tag(tag: str) -> str:
    if not TAG_RULE.match(tag):
        raise ExpError(f"invalid tag '{tag}'",
                       hint="a tag is 1 to 64 letters, digits, '_', '.', '+' or '-', "
                            "not starting with '.', '+' or '-'")
    return tag


def check_note(text: str) -> str:
    if len(text.encode("utf-8", "surrogateescape")) > MAX_NOTE:
        raise ExpError(f"the note has {len(text.encode('utf-8', 'surrogateescape'))} bytes; "
                       f"at most {MAX_NOTE} are kept", hint="keep long reports in a file of the experiment")
    return text


# ------------------------------------------------------------------ reading

def list_refs(root: str, prefix: str = PREFIX) -> dict[str, str]:
    """experiment sha -> annotation commit, for every annotation ref under PREFIX."""
    out = git(["for-each-ref", "--format=%(objectname) %(refname)", prefix], cwd=root).stdout
    found = {}
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        obj, _, ref = line.partition(" ")
        sha = ref[len(prefix):]
        if _SHA.match(sha):
            found[sha] = obj
    return found


def parse(note: bytes | None, tags: bytes | None) -> tuple[Annotation, list[str]]:
    """An Annotation from the two blobs' bytes (None: absent), and what was wrong with them."""
    problems = []
    text = ""
    if note is not None:
        if len(note) > MAX_NOTE:
            problems.append(f"a note of {len(note)} bytes (at most {MAX_NOTE})")
        else:
            try:
                text = note.decode("utf-8")
            except UnicodeDecodeError:
                problems.append("a note that is not UTF-8 text")
    found: list[str] = []
    if tags is not None:
        if len(tags) > MAX_TAGS_BYTES:
            problems.append(f"a tags file of {len(tags)} bytes")
        else:
            for line in tags.decode("utf-8", "replace").splitlines():
                if TAG_RULE.match(line):
                    found.append(line)
                elif line:
                    problems.append(f"an invalid tag {line[:70]!r}")
            if len(found) > MAX_TAGS:
                problems.append(f"{len(found)} tags (at most {MAX_TAGS})")
                found = found[:MAX_TAGS]
    return Annotation(text, tuple(sorted(set(found)))), problems


def read_commits(root: str, commits: dict[str, str]) -> dict[str, tuple[Annotation, list[str]]]:
    """key -> (Annotation, problems) for annotation COMMITS (key -> commit), through one cat-file.

    Blob sizes are bounded before their bytes are read (CatFile's max_blob),
    and a tree with anything but the two files is a problem.
    """
    if not commits:
        return {}
    from git_exp.git.catfile import CatFile, parse_tree
    keys = list(commits)
    out = {}
    with CatFile(root, max_blob=MAX_NOTE + 1) as objects:
        heads = objects.read_many([f"{commits[k]}^{{tree}}" for k in keys])
        wanted = []
        for tree in heads:
            entries = parse_tree(tree.data, len(tree.oid) // 2) if tree and tree.type == "tree" else None
            wanted.append(entries)
        specs = []
        for entries in wanted:
            for name in ("note", "tags"):
                entry = (entries or {}).get(name)
                specs.append(entry[1] if entry and entry[0].startswith("100") else "")
        blobs = objects.read_many([s or "0" * 40 for s in specs])
        for i, (key, entries) in enumerate(zip(keys, wanted)):
            if entries is None:
                out[key] = (Annotation(), ["not a commit"])
                continue
            note, tags = blobs[2 * i], blobs[2 * i + 1]
            extra = sorted(set(entries) - {"note", "tags"})
            problems = [f"unexpected entries {', '.join(extra[:5])}"] if extra else []
            for name, obj in (("note", note), ("tags", tags)):
                if name in entries and (obj is None or obj.type != "blob"):
                    problems.append(f"'{name}' is not a file")
            for name, obj in (("note", note), ("tags", tags)):
                if obj is not None and obj.too_large:
                    problems.append(f"a {name} file of {obj.size} bytes")
            annotation, more = parse(_bytes(note), _bytes(tags))
            out[key] = (annotation, problems + more)
    return out


def _bytes(obj: GitObject | None) -> bytes | None:
    if obj is None or obj.type != "blob" or obj.too_large:
        return None
    return obj.data


def read_all(root: str) -> dict[str, Annotation]:
    """experiment sha -> its annotation (the valid parts of it), for every annotated experiment."""
    refs = list_refs(root)
    return {sha: a for sha, (a, _) in read_commits(root, refs).items() if not a.empty}


def read_one(root: str, sha: str) -> tuple[Annotation, str | None]:
    """The annotation of experiment SHA and the commit holding it (None: none yet)."""
    proc = git(["rev-parse", "--verify", "-q", notes_ref(sha) + "^{commit}"], cwd=root, check=False)
    if proc.returncode != 0:
        return Annotation(), None
    commit = proc.stdout.decode().strip()
    annotation, _ = read_commits(root, {sha: commit})[sha]
    return annotation, commit


# ------------------------------------------------------------------ writing

def make_commit(root: str, annotation: Annotation, parents: list[str], subject: str) -> str:
    """A commit holding ANNOTATION (an empty tree when it is empty) on top of PARENTS."""
    entries = []
    if annotation.note:
        entries.append(("note", _blob(root, annotation.note.encode("utf-8", "surrogateescape"))))
    if annotation.tags:
        entries.append(("tags", _blob(root, "".join(t + "\n" for t in annotation.tags).encode())))
    listing = "".join(f"100644 blob {oid}\t{name}\n" for name, oid in entries)
    tree = git(["mktree"], cwd=root, input=listing.encode()).stdout.decode().strip()
    args = ["commit-tree", tree, "-m", subject]
    for parent in parents:
        args += ["-p", parent]
    return git(args, cwd=root).stdout.decode().strip()


def _blob(root: str, data: bytes) -> str:
    return git(["hash-object", "-w", "--stdin"], cwd=root, input=data).stdout.decode().strip()


def move(root: str, ref: str, new: str, old: str | None) -> None:
    """REF from OLD (None: must not exist) to NEW, compare-and-swap."""
    from git_exp.experiments.refs import ZERO
    proc = git(["update-ref", "-m", "git exp annotate", ref, new, old or ZERO], cwd=root,
               check=False)
    if proc.returncode != 0:
        raise ExpError(f"{ref} changed while it was being updated; nothing was written",
                       hint="run the command again")


def update(repo: Repository, spec: str, change: Callable[[Annotation], Annotation],
           subject: str) -> tuple[ExpRef, Annotation, Annotation]:
    """Apply CHANGE (Annotation -> Annotation) to the experiment SPEC names; (experiment, before, after)."""
    from git_exp.experiments.resolve import resolve
    exp = resolve(repo, spec)
    before, commit = read_one(repo.root, exp.sha)
    after = change(before)
    if after != before:
        check_note(after.note)
        if len(after.tags) > MAX_TAGS:
            raise ExpError(f"experiment '{exp.name}' would have {len(after.tags)} tags; "
                           f"at most {MAX_TAGS} are allowed")
        new = make_commit(repo.root, after, [commit] if commit else [], f"{subject}\n\nexperiment {exp.sha}")
        move(repo.root, notes_ref(exp.sha), new, commit)
    return exp, before, after


def set_note(repo: Repository, spec: str, text: str | None,
             append: bool = False) -> tuple[ExpRef, Annotation, Annotation]:
    """Set (or with APPEND add a paragraph to) the note; TEXT None or empty removes it."""
    text = (text or "").strip("\n")
    check_note(text)

    def change(a: Annotation) -> Annotation:
        note = (a.note.rstrip("\n") + "\n\n" + text if append and a.note and text
                else a.note if append and not text else text)
        return Annotation(note, a.tags)
    return update(repo, spec, change, "note: " + ("append" if append else "set" if text else "remove"))


def edit_tags(repo: Repository, spec: str, tags: list[str],
              delete: bool = False) -> tuple[ExpRef, Annotation, Annotation]:
    for tag in tags:
        check_tag(tag)

    def change(a: Annotation) -> Annotation:
        now = set(a.tags) - set(tags) if delete else set(a.tags) | set(tags)
        return Annotation(a.note, tuple(sorted(now)))
    return update(repo, spec, change, ("untag: " if delete else "tag: ") + " ".join(tags))


# ------------------------------------------------------------------ merging

def merged(base: Annotation, ours: Annotation, theirs: Annotation) -> Annotation:
    """Both sides' changes since BASE: tags as sets, a note changed on one side taken,
    changed on both to different texts kept as both (ours first)."""
    tags = (set(ours.tags) & set(theirs.tags)) | (set(ours.tags) - set(base.tags)) \
        | (set(theirs.tags) - set(base.tags))
    tags -= (set(base.tags) - set(ours.tags)) | (set(base.tags) - set(theirs.tags))
    if ours.note == theirs.note or theirs.note == base.note:
        note = ours.note
    elif ours.note == base.note:
        note = theirs.note
    else:
        note = "\n\n".join(n for n in (ours.note, theirs.note) if n)
    if len(note.encode("utf-8", "surrogateescape")) > MAX_NOTE:
        note = ours.note
    return Annotation(note, tuple(sorted(tags))[:MAX_TAGS])
