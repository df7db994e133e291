"""git exp push: share experiments (refs and data) with a Git remote."""
from __future__ import annotations

from git_exp.commands.argtypes import positive_int
from git_exp.errors import ExpError

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.sharing.pull import PullResult
    from git_exp.sharing.push import PushResult
    from git_exp.ui.console import Console

DESCRIPTION = """\
Pushes experiments to REMOTE (a remote's name, a path or a URL): each one's
ref, under the same name refs/exps/<baseline>/<name>, and the cached data it
records (the outs in its exp.lock, and any pointer files) to the data remote
paired with REMOTE.

The data goes first and the refs after, so an experiment never reaches the
remote before its data. Only the objects the data remote lacks are sent,
several at a time; each is checked against its hash when it arrives and
appears under its final name only when complete. If some data is neither in
your cache nor on the data remote, nothing is pushed, and the error names
the experiments and paths that lack it.

NAME is an experiment's name, a unique sha prefix or its full ref. Without
NAME (or with --all) the experiments of HEAD's commit are pushed; -A pushes
every experiment. For each experiment the result is printed: pushed, up to
date, or rejected when the remote has a different commit under that name
(a diverged experiment), which -f overwrites. An experiment named as NAME
has its data checked and sent even when its ref is up to date (say, after
its Git remote was paired with a new data remote); without NAME, up-to-date
experiments ask the data remote nothing. One experiment that cannot
be pushed - its ref names no commit, or its exp.lock cannot be read - is
reported as failed and left behind; the others are pushed, and the command
exits 1.

The refs go through your own `git push`, so credential helpers, SSH keys
and config, and proxies work exactly as for any push.

Each experiment's run log (git exp logs NAME, failed and interrupted runs
too) goes along as the ref refs/exp-logs/<experiment sha>, so `git exp
logs` works in the clones that pull it. Logs longer than 8 MiB are cut to
their last 8 MiB, which the log's first line says. A plain `git push` of
refs/exps/* sends no logs; add 'refs/exp-logs/*:refs/exp-logs/*' for them.

Notes and tags (git exp note, git exp tag) go along as the ref
refs/exp-notes/<experiment sha>, as a fast-forward: when the remote's
changed too, they are not sent and `git exp pull` merges them first. A
plain `git push origin 'refs/exp-notes/*:refs/exp-notes/*'` sends them too.
"""

EXAMPLES = [
    "git exp push origin",
    "git exp push origin bold-otter calm-heron",
    "git exp push -A origin",
    "git exp push -f origin bold-otter",
    "git config remote.origin.expdata /mnt/team/exp-data",
]

DATA_REMOTES = """\
Each Git remote is paired with a data location, found in this order:
remote.<name>.expdata, then exp.remote (in your Git config, then in the
committed .expconfig, which is the place for what a whole team shares).
A data location is one of:

  a directory (local disk, NFS, a mounted share) or a file:// URL
  s3://BUCKET/PREFIX    S3 or an S3-compatible store (pip install
                        'git-exp[s3]'); credentials, profile, region and
                        endpoint from the AWS variables (AWS_PROFILE,
                        AWS_ENDPOINT_URL, ...) and ~/.aws/config, credentials
  ssh://[user@]host[:port]/path or [user@]host:path
                        any machine with a POSIX shell, through your own ssh
                        (GIT_SSH_COMMAND, core.sshCommand, ~/.ssh/config)

When nothing is configured and the Git remote itself is a local path or a
file:// URL (a bare repository on a shared drive, say), the data is kept
inside that repository, in <its git dir>/exp/cache, so sharing needs no
setup at all. A Git remote over https or ssh (GitHub, GitLab, Gitea,
Bitbucket, any Git LFS server) keeps the data in its host's Git LFS store,
found as git-lfs finds it: lfs.url, remote.<name>.lfsurl (Git config, then
a committed .lfsconfig; these come before the local-path rule), else the
remote's URL + .git/info/lfs; an upload reads lfs.pushurl and
remote.<name>.lfspushurl first and derives from the push URL (pushurl,
pushInsteadOf). Credentials come from your Git credential
helper (https) or from git-lfs-authenticate over your ssh; Git's
http.sslCAInfo, http.sslVerify and http.extraHeader apply. For any other
Git remote, configure a location:

  git config remote.origin.expdata /mnt/team/exp-data
  git config -f .expconfig remote.origin.expdata /mnt/team/exp-data

Every kind has the layout of the cache (files/sha256/<2 hex>/<62 hex>, under
PREFIX or path). Objects are hashed on arrival and appear under their final
name only when whole: a temporary name renamed into place, an S3 PUT or a
completed multipart upload, an SSH batch moved into place after its last
object checked. An object already there is never rewritten, so a rerun after
an interruption sends only what is missing; what an interrupted push left on
the remote (temporary files, unfinished uploads) a later push removes.
"""

SECTIONS = [
    ("Data remotes", DATA_REMOTES),
    ("Plain git push", """\
`git push origin 'refs/exps/*:refs/exps/*'` shares experiments too. With the
hooks installed (git exp install), the pre-push hook uploads the data the
pushed commits need before Git sends them, and stops the push when some of
it is missing. A push of commits that change no exp.lock, exp.yaml or
pointer file asks the data remote nothing. When pushed commits record data
and no data location is paired with the remote, the push stops and names
the config to set; `git push --no-verify` pushes without the hook.
"""),
    ("Environment", """\
GIT_EXP_DATA_SENT=1 makes the pre-push hook skip its data upload; git exp
push sets it for the `git push` it runs, having sent the data itself.
"""),
]


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("remote", metavar="REMOTE", help="the Git remote: a name, a path or a URL")
    parser.add_argument("experiments", nargs="*", metavar="NAME",
                        help="experiments to push (default: those of HEAD's commit)")
    parser.add_argument("--all", action="store_true", help="push every experiment of HEAD's commit")
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="push every experiment of every commit")
    parser.add_argument("-f", "--force", action="store_true",
                        help="overwrite experiments of the same name that differ on the remote")
    parser.add_argument("--no-data", dest="data", action="store_false",
                        help="push only the refs, not the cached data")
    parser.add_argument("-j", "--jobs", type=positive_int, metavar="N",
                        help="objects transferred at once (default: 8)")


def render_refs(result: PushResult | PullResult, console: Console, verb: str, place: str,
                data_line: str | None = None) -> None:
    """One line per experiment; shared with pull. -q: one line for all, with
    DATA_LINE (what data went where) on it."""
    if console.quiet:
        done = sum(1 for r in result.refs if r.status in ("pushed", "fetched", "forced"))
        console.out(f"{verb} {done} experiment{'s' if done != 1 else ''} {place}"
                    + (f", {len(result.refs) - done} not." if done < len(result.refs) else ".")
                    + (f" {data_line}" if data_line else ""))
        return
    for r in result.refs:
        name = f"'{r.exp.name}' ({r.exp.sha[:7]})"
        if r.status in ("pushed", "fetched"):
            console.out(f"{verb} {name} {place}.")
        elif r.status == "forced":
            console.out(f"{verb} {name} {place} (forced).")
        elif r.status == "up to date":
            console.out(f"Up to date: {name}.")
        elif r.status == "diverged":
            console.out(f"Rejected {name}: a different commit has that name"
                        + (f" ({r.detail})." if r.detail else "."))
        else:
            console.out(f"Failed {name}: {r.detail}.")


def run(args: Namespace, console: Console) -> int:
    from git_exp.repo import discover
    from git_exp.ui.format import format_size, plural
    from git_exp.ui.progress import ProgressLine
    from git_exp.sharing.push import push
    from git_exp.remotes.transfer import DEFAULT_JOBS

    progress = ProgressLine(console.stderr, "Sending data", enabled=False if console.quiet else None)
    try:
        result = push(discover(), args.remote, args.experiments, all_of_head=args.all,
                      all_commits=args.all_commits, force=args.force, with_data=args.data,
                      jobs=args.jobs or DEFAULT_JOBS, progress=progress)
    finally:
        progress.close()
    data = result.data
    data_line = None
    if data.skipped:
        data_line = "Data not sent (--no-data)."
    elif data.sent.objects:
        data_line = (f"Sent {plural(data.sent.objects, 'data object')}, {format_size(data.sent.bytes)}, "
                     f"to {data.location}.")
    elif data.location:
        data_line = f"Sent no data: {data.location} already has all {plural(data.objects, 'object')}."
    elif any(r.status != "up to date" for r in result.refs):
        data_line = "Sent no data: these experiments record no cached data."
    if data_line:
        console.detail(data_line)
    render_refs(result, console, "Pushed", f"to {args.remote}", data_line)
    if result.logs:
        console.detail(f"Sent {plural(result.logs, 'run log')} (refs/exp-logs/).")
    if result.notes:
        console.detail(f"Sent the notes and tags of {plural(result.notes, 'experiment')} (refs/exp-notes/).")
    if result.notes_diverged:
        console.warn(f"the notes and tags of {plural(len(result.notes_diverged), 'experiment')} changed on "
                     f"'{args.remote}' too, so they were not sent; 'git exp pull {args.remote}' "
                     "merges them, then push again")
    diverged = [r for r in result.failed if r.status == "diverged"]
    if diverged:   # said by cli.py, as every error, after the report above
        names = " ".join(r.exp.name for r in diverged)
        raise ExpError(f"{plural(len(diverged), 'experiment')} rejected: '{args.remote}' has a different "
                       "commit under the same name",
                       hint=f"to replace the remote's version: git exp push -f {args.remote} {names}")
    if result.failed:
        raise ExpError(f"{plural(len(result.failed), 'experiment')} could not be pushed")
    return 0
