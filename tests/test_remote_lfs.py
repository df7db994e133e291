"""Git LFS stores as data remotes: endpoint discovery, and a real LFS server on loopback.

The server is giftless (PyPI) started by the tests with authentication
required; credentials reach git-exp only through a real Git credential
helper (`store`) configured in the test, as a user's would. The Git remote
for refs is a local bare repository; `remote.origin.lfsurl` points at the
server (the derivation of the URL from Git remote URLs is tested on its own,
and once against the server through an http remote URL).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests import lfs_server
from tests.conftest import Project, clone, init_bare
from tests.test_sharing import ml, model_objects  # noqa: F401  (ml is a fixture)

# -- endpoint discovery --------------------------------------------------------------

DERIVED = [
    # GitHub
    ("https://github.com/org/repo", "https://github.com/org/repo.git/info/lfs", None),
    ("https://github.com/org/repo.git", "https://github.com/org/repo.git/info/lfs", None),
    ("https://github.com/org/repo.git/", "https://github.com/org/repo.git/info/lfs", None),
    ("git@github.com:org/repo.git", "https://github.com/org/repo.git/info/lfs",
     ("git@github.com", None, "org/repo.git")),
    ("ssh://git@github.com/org/repo.git", "https://github.com/org/repo.git/info/lfs",
     ("git@github.com", None, "org/repo.git")),
    # GitLab, with subgroups
    ("https://gitlab.com/group/sub/deeper/repo.git", "https://gitlab.com/group/sub/deeper/repo.git/info/lfs", None),
    ("git@gitlab.com:group/sub/repo", "https://gitlab.com/group/sub/repo.git/info/lfs",
     ("git@gitlab.com", None, "group/sub/repo")),
    # Gitea / Forgejo: ssh on its own port, https on another
    ("ssh://git@gitea.example.org:2222/org/repo.git", "https://gitea.example.org/org/repo.git/info/lfs",
     ("git@gitea.example.org", "2222", "org/repo.git")),
    ("https://codeberg.org:8443/org/repo", "https://codeberg.org:8443/org/repo.git/info/lfs", None),
    # Bitbucket: user@ in an https URL stays for git credential, not in the label
    ("https://alice@bitbucket.org/team/repo.git", "https://alice@bitbucket.org/team/repo.git/info/lfs", None),
    ("git@bitbucket.org:team/repo.git", "https://bitbucket.org/team/repo.git/info/lfs",
     ("git@bitbucket.org", None, "team/repo.git")),
    # plain ssh, scp-like without a user, the bracketed port form, git://
    ("ssh://server/srv/git/repo", "https://server/srv/git/repo.git/info/lfs", ("server", None, "srv/git/repo")),
    ("server:repo.git", "https://server/repo.git/info/lfs", ("server", None, "repo.git")),
    ("[git@server:2222]:team/repo.git", "https://server/team/repo.git/info/lfs",
     ("git@server", "2222", "team/repo.git")),
    ("git://server/team/repo", "https://server/team/repo.git/info/lfs", None),
    ("http://127.0.0.1:8080/org/repo", "http://127.0.0.1:8080/org/repo.git/info/lfs", None),
]


@pytest.mark.parametrize("url, href, ssh", DERIVED)
def test_endpoint_is_derived_from_each_hosts_url_form(url, href, ssh):
    from git_exp.remotes.lfs.endpoint import derive
    endpoint = derive(url)
    assert endpoint.href == href
    if ssh is None:
        assert endpoint.ssh is None
    else:
        assert (endpoint.ssh.user_host, endpoint.ssh.port, endpoint.ssh.path) == ssh
    assert "password" not in endpoint.source


@pytest.mark.parametrize("url", ["/srv/repo.git", "./repo", "../repo", "file:///srv/repo.git",
                                 "repo", "hg::https://example.org/repo"])
def test_local_paths_and_remote_helpers_have_no_lfs_store(url):
    from git_exp.remotes.lfs.endpoint import derive
    assert derive(url) is None


def test_label_never_shows_a_password():
    from git_exp.remotes.lfs.endpoint import derive, strip_userinfo
    endpoint = derive("https://alice:s3cret@example.org/org/repo")
    assert "s3cret" not in endpoint.source
    assert strip_userinfo(endpoint.href) == "https://example.org/org/repo.git/info/lfs"


def _resolve(project: Project, remote: str = "origin"):
    from git_exp.repo import discover
    from git_exp.remotes.location import resolve
    return resolve(discover(str(project.path)), remote)


def test_resolution_order_lfs_url_lfsurl_lfsconfig_then_derived(committed):
    from git_exp.remotes.lfs.remote import LFSRemote
    committed.git("remote", "add", "origin", "git@example.org:org/repo.git")
    found = _resolve(committed)
    assert isinstance(found, LFSRemote)
    assert found.url == "https://example.org/org/repo.git/info/lfs"
    assert "derived from git@example.org:org/repo.git" in found.description

    committed.git("config", "-f", ".lfsconfig", "remote.origin.lfsurl", "https://committed.example/lfs")
    assert _resolve(committed).url == "https://committed.example/lfs"
    committed.git("config", "-f", ".lfsconfig", "lfs.url", "https://committed-all.example/lfs")
    assert _resolve(committed).url == "https://committed-all.example/lfs"
    committed.git("config", "remote.origin.lfsurl", "https://mine.example/lfs")
    # Git config wins over .lfsconfig key by key; lfs.url before remote.<name>.lfsurl.
    assert _resolve(committed).url == "https://committed-all.example/lfs"
    committed.git("config", "lfs.url", "https://mine-all.example/lfs")
    assert "(lfs.url)" in _resolve(committed).description
    # An explicit data remote still comes first.
    committed.git("config", "remote.origin.expdata", str(committed.path / "data"))
    assert not isinstance(_resolve(committed), LFSRemote)



def test_an_upload_goes_to_the_lfs_store_of_the_push_url(committed):
    from git_exp.repo import discover
    from git_exp.remotes.location import resolve

    def store(push: bool):   # a fresh repository object: config is read once per command
        return resolve(discover(str(committed.path)), "origin", push=push)

    committed.git("remote", "add", "origin", "https://mirror.example/org/repo")
    committed.git("config", "remote.origin.pushurl", "git@push.example:org/repo.git")
    assert store(push=False).url == "https://mirror.example/org/repo.git/info/lfs"
    assert store(push=True).url == "https://push.example/org/repo.git/info/lfs"
    # pushInsteadOf rewrites only the push side, as Git's own push does.
    committed.git("config", "--unset", "remote.origin.pushurl")
    committed.git("config", "url.https://rw.example/.pushInsteadOf", "https://mirror.example/")
    assert store(push=True).url == "https://rw.example/org/repo.git/info/lfs"
    assert store(push=False).url == "https://mirror.example/org/repo.git/info/lfs"
    # The push-only keys, then the shared ones; a fetch never reads the push-only ones.
    committed.git("config", "-f", ".lfsconfig", "remote.origin.lfspushurl", "https://up.example/lfs")
    assert store(push=True).url == "https://up.example/lfs"
    committed.git("config", "lfs.pushurl", "https://mine-up.example/lfs")
    assert "(lfs.pushurl)" in store(push=True).description
    assert store(push=False).url == "https://mirror.example/org/repo.git/info/lfs"

def test_an_lfs_url_that_is_not_http_is_refused(committed):
    committed.git("remote", "add", "origin", "https://example.org/org/repo")
    committed.git("config", "remote.origin.lfsurl", "ftp://example.org/lfs")
    from git_exp.errors import ExpError
    with pytest.raises(ExpError, match=r"the LFS URL 'ftp://example.org/lfs' \(from remote.origin.lfsurl\)"):
        _resolve(committed)


# -- against giftless ------------------------------------------------------------------------

needs_giftless = pytest.mark.skipif(
    not lfs_server.available(),
    reason="giftless is not installed (pip install '.[test-lfs]'; .ci/run installs it)")


@pytest.fixture
def giftless(tmp_path):
    server = lfs_server.Giftless(tmp_path / "giftless")
    yield server
    server.stop()


def _credentials(project_or_home: Path, server, token: str) -> Path:
    """A `store` credential helper holding TOKEN for SERVER, in the user's global Git config."""
    store = Path(os.environ["HOME"]) / "git-credentials"
    store.write_text(f"{server.base.split(':')[0]}://_jwt:{token}@127.0.0.1:{server.port}\n")
    subprocess.run(["git", "config", "--global", "credential.helper", f"store --file {store}"],
                   check=True)
    return store


def _use_lfs(project: Project, server, repo: str = "org/repo") -> None:
    project.git("config", "remote.origin.lfsurl", server.lfs_url(repo))


@needs_giftless
def test_push_pull_apply_through_an_lfs_server(ml, tmp_path, giftless):  # noqa: F811
    origin = ml.add_bare_remote(tmp_path / "remote.git", push=("main",))
    _credentials(ml.path, giftless, lfs_server.token())
    _use_lfs(ml, giftless)

    proc = ml.exp("push", "origin", "first", "second", env={"GIT_TERMINAL_PROMPT": "0"})
    assert "Pushed 'first'" in proc.stdout and "Sent 7 data objects" in proc.stdout
    stored = giftless.objects()
    wanted = model_objects(ml, "first") | model_objects(ml, "second")
    for h in wanted:  # every object under its LFS oid, whole
        assert hashlib.sha256(stored[h[:64]]).hexdigest() == h[:64]
    # The directory manifests' size beacons are ordinary small objects beside them.
    assert len(stored) > len(wanted)
    assert not (origin / "exp" / "cache").exists(), "data went to the Git remote's directory"

    again = ml.exp("push", "origin", "first", "second")
    assert "Sent 7" not in again.stdout

    other = clone(origin, tmp_path / "other")
    _use_lfs(other, giftless)
    pulled = other.exp("pull", "origin", "first", "second", env={"GIT_TERMINAL_PROMPT": "0"})
    assert "Received 7 data objects" in pulled.stdout, pulled.stdout
    other.exp("apply", "second")
    assert other.read("model.txt") == "weights 0.2\n"
    assert (other.path / "models" / "a.bin").read_text() == "layer a 0.2\n"
    cache = other.path / ".git" / "exp" / "cache" / "files" / "sha256"
    for f in cache.rglob("*"):
        if f.is_file():
            assert hashlib.sha256(f.read_bytes()).hexdigest() == f.parent.name + f.name[:62]
    other.fsck()


@needs_giftless
def test_refused_credentials_name_their_source_and_are_rejected(ml, tmp_path, giftless):  # noqa: F811
    origin = ml.add_bare_remote(tmp_path / "remote.git", push=("main",))
    store = _credentials(ml.path, giftless, lfs_server.token(key="not-the-servers-key-0123456789abcd"))
    _use_lfs(ml, giftless)

    proc = ml.exp("push", "origin", "first", check=False, env={"GIT_TERMINAL_PROMPT": "0"})
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: the LFS store http://127.0.0.1:")
    assert "refused the credentials from git credential (credential.helper: store) (401" in proc.stderr
    assert "hint:" in proc.stderr and "Traceback" not in proc.stderr
    assert "_jwt:" not in proc.stderr and "eyJ" not in proc.stderr  # no secret printed
    assert store.read_text().strip() == "", "git credential reject did not remove the refused entry"
    assert "refs/exps/" not in ml.git("ls-remote", str(origin)), "a ref went out without its data"


@needs_giftless
def test_no_credentials_at_all_is_a_clear_error(ml, tmp_path, giftless):  # noqa: F811
    ml.add_bare_remote(tmp_path / "remote.git")
    _use_lfs(ml, giftless)
    proc = ml.exp("push", "origin", "first", check=False, env={"GIT_TERMINAL_PROMPT": "0"})
    assert proc.returncode == 1
    assert "error: no credentials for the LFS store http://127.0.0.1:" in proc.stderr
    assert "hint:" in proc.stderr and "Traceback" not in proc.stderr


@needs_giftless
def test_store_derived_from_an_http_git_remote_url(committed, tmp_path, giftless):
    """Zero configuration: remote URL http://host/org/repo -> http://host/org/repo.git/info/lfs."""
    from git_exp.repo import discover
    from git_exp.remotes.location import resolve
    _credentials(committed.path, giftless, lfs_server.token())
    committed.git("remote", "add", "origin", f"{giftless.base}/team/project")
    repo = discover(str(committed.path))
    store = resolve(repo, "origin")
    assert store.url == giftless.lfs_url("team/project")
    data = os.urandom(3 << 20)
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "blob").write_bytes(data)
    assert store.has_many([digest]) == set()
    assert store.put(digest, str(tmp_path / "blob")) == len(data)
    assert store.put(digest, str(tmp_path / "blob")) == 0  # never sent twice
    assert giftless.objects("team/project")[digest] == data

    fresh = resolve(repo, "origin")
    fresh.expect_sizes({digest: len(data)})
    assert fresh.has_many([digest, "0" * 64]) == {digest}
    assert fresh.get(digest, str(tmp_path / "back")) == len(data)
    assert (tmp_path / "back").read_bytes() == data
    with pytest.raises(Exception, match="cannot list its objects"):
        fresh.list()


@needs_giftless
def test_remote_v_really_asks_the_lfs_store(committed, tmp_path, giftless):
    """The probe of `git exp remote -v` sends a batch request: a store that is
    up answers, one nobody serves or that refuses us is unreachable (has_many
    alone sends nothing for an object whose size is unknown)."""
    committed.git("remote", "add", "origin", f"{giftless.base}/team/project")
    probe = {r["name"]: r for r in json.loads(committed.exp("remote", "-v", "--json").stdout)}["origin"]
    assert probe["reachable"] is False and probe["probe"].startswith("no credentials for the LFS store"), probe
    _credentials(committed.path, giftless, lfs_server.token())
    probe = {r["name"]: r for r in json.loads(committed.exp("remote", "-v", "--json").stdout)}["origin"]
    assert probe["reachable"] is True, probe
    committed.git("remote", "set-url", "origin", "http://127.0.0.1:9/team/project")   # nobody listens
    probe = {r["name"]: r for r in json.loads(committed.exp("remote", "-v", "--json").stdout)}["origin"]
    assert probe["reachable"] is False and "cannot reach" in probe["probe"], probe


@needs_giftless
def test_http_extraheader_authenticates_as_it_does_for_git(committed, tmp_path, giftless):
    """CI systems (GitHub Actions' checkout) give Git a token as http.<url>.extraHeader."""
    import base64
    from git_exp.repo import discover
    from git_exp.remotes.location import resolve
    basic = base64.b64encode(f"_jwt:{lfs_server.token()}".encode()).decode()
    committed.git("config", f"http.{giftless.base}/.extraheader", f"AUTHORIZATION: basic {basic}")
    committed.git("config", "remote.origin.lfsurl", giftless.lfs_url())
    data = b"from CI\n"
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "blob").write_bytes(data)
    store = resolve(discover(str(committed.path)), "origin")  # no credential helper at all
    assert store.put(digest, str(tmp_path / "blob")) == len(data)
    assert giftless.objects()[digest] == data


@needs_giftless
def test_a_corrupt_object_on_the_server_never_enters_the_cache(committed, tmp_path, giftless):
    from git_exp.repo import discover
    from git_exp.remotes.base import ObjectMismatch
    from git_exp.remotes.location import resolve
    _credentials(committed.path, giftless, lfs_server.token())
    committed.git("config", "remote.origin.lfsurl", giftless.lfs_url())
    data = b"the real bytes\n" * 1000
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "blob").write_bytes(data)
    store = resolve(discover(str(committed.path)), "origin")
    store.put(digest, str(tmp_path / "blob"))
    stored = next(p for p in giftless.storage.rglob(digest))
    stored.write_bytes(data.replace(b"real", b"fake"))  # same size: the server cannot tell
    dest = tmp_path / "cache" / "obj"
    with pytest.raises(ObjectMismatch):
        store.get(digest, str(dest))
    assert not dest.exists() and not [p for p in dest.parent.iterdir()]


@needs_giftless
def test_an_upload_whose_source_changed_sends_no_whole_object(committed, tmp_path, giftless):
    from git_exp.repo import discover
    from git_exp.remotes.base import ObjectMismatch
    from git_exp.remotes.location import resolve
    _credentials(committed.path, giftless, lfs_server.token())
    committed.git("config", "remote.origin.lfsurl", giftless.lfs_url())
    data = os.urandom(5 << 20)
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "blob").write_bytes(data[:-1] + b"\0")  # the cache copy went bad
    store = resolve(discover(str(committed.path)), "origin")
    with pytest.raises(ObjectMismatch):
        store.put(digest, str(tmp_path / "blob"))
    kept = giftless.objects().get(digest)
    assert kept is None or len(kept) < len(data)  # the last block was held back


@needs_giftless
def test_503_and_429_are_retried_with_retry_after(committed, tmp_path):
    server = lfs_server.Giftless(tmp_path / "flaky", flaky=True)
    try:
        from git_exp.repo import discover
        from git_exp.remotes.location import resolve
        _credentials(committed.path, server, lfs_server.token())
        committed.git("config", "remote.origin.lfsurl", server.lfs_url())
        data = b"retry me\n" * 100
        digest = hashlib.sha256(data).hexdigest()
        (tmp_path / "blob").write_bytes(data)
        store = resolve(discover(str(committed.path)), "origin")
        assert store.put(digest, str(tmp_path / "blob")) == len(data)
        store.expect_sizes({digest: len(data)})
        assert store.get(digest, str(tmp_path / "back")) == len(data)
        assert (tmp_path / "back").read_bytes() == data
        log = server.log_text()
        # The batches, the upload, the verify and the download were each refused once first.
        assert len(re.findall(r'" (503|429) ', log)) >= 4, log
        assert '" 429 ' in log and '" 503 ' in log
    finally:
        server.stop()


@needs_giftless
def test_expiring_actions_are_asked_for_again(committed, tmp_path):
    """Actions that expire in 1 s (giftless's action_lifetime) are renewed, never sent stale."""
    server = lfs_server.Giftless(tmp_path / "short", lifetime=1)
    try:
        from git_exp.repo import discover
        from git_exp.remotes.location import resolve
        _credentials(committed.path, server, lfs_server.token())
        committed.git("config", "remote.origin.lfsurl", server.lfs_url())
        data = b"short-lived\n"
        digest = hashlib.sha256(data).hexdigest()
        (tmp_path / "blob").write_bytes(data)
        store = resolve(discover(str(committed.path)), "origin")
        store.put(digest, str(tmp_path / "blob"))
        store.expect_sizes({digest: len(data)})
        assert store.has_many([digest]) == {digest}   # carries a download action
        batches = server.log_text().count("/objects/batch")
        assert store.get(digest, str(tmp_path / "back")) == len(data)
        assert server.log_text().count("/objects/batch") == batches + 1  # renewed before use
    finally:
        server.stop()


# -- ssh: git-lfs-authenticate over a real OpenSSH server ------------------------------------

# The server side of git-lfs-authenticate, as Git hosts implement it (gitlab-shell,
# gitolite): the key's forced command sees what the client asked for in
# SSH_ORIGINAL_COMMAND, answers git-lfs-authenticate with an href and a header,
# and runs Git's own commands (receive-pack, upload-pack) as asked.
FORCED_COMMAND = """\
import json, os, shlex, sys
asked = os.environ.get("SSH_ORIGINAL_COMMAND", "")
words = shlex.split(asked)
if words and words[0] == "git-lfs-authenticate" and os.path.exists({no_lfs!r}):
    sys.exit("sh: 1: git-lfs-authenticate: not found")  # a plain SSH server
if words and words[0] == "git-lfs-authenticate":
    with open({log!r}, "a") as log:
        log.write(asked + "\\n")
    print(json.dumps({{"href": {href!r}, "header": {{"Authorization": {auth!r}}},
                      "expires_in": 3600}}))
elif words and words[0] in ("git-receive-pack", "git-upload-pack"):
    os.execvp(words[0], words)
else:
    sys.exit("unexpected command: " + asked)
"""


class Sshd:
    def __init__(self, root: Path, forced: str):
        import socket
        root.mkdir(parents=True)
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)],
                           check=True)
        script = root / "forced.py"
        script.write_text(forced)
        public = (root / "client_key.pub").read_text().strip()
        (root / "authorized_keys").write_text(
            f'command="{sys.executable} {script}",no-pty,no-port-forwarding {public}\n')
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        (root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root / 'host_key'}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\nPidFile {root / 'sshd.pid'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\nPermitRootLogin yes\n")
        os.makedirs("/run/sshd", exist_ok=True)
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(root / "sshd_config")],
                                     stderr=open(root / "sshd.log", "wb"))
        self.ssh_command = (f"ssh -F /dev/null -i {root / 'client_key'} -o BatchMode=yes "
                            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                            "-o LogLevel=ERROR")
        deadline = time.time() + 10
        while time.time() < deadline:
            probe = subprocess.run(["sh", "-c", f"{self.ssh_command} -p {self.port} "
                                    f"{self.user}@127.0.0.1 git-upload-pack /nonexistent"],
                                   capture_output=True, text=True)
            if "Connection refused" not in probe.stderr:
                return
            time.sleep(0.2)
        raise RuntimeError((root / "sshd.log").read_text())

    @property
    def user(self) -> str:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


needs_sshd = pytest.mark.skipif(not (os.path.exists("/usr/sbin/sshd") and shutil.which("ssh")
                                     and os.geteuid() == 0),
                                reason="needs Debian's openssh-server and root "
                                       "(.ci/run runs as root; apt-get install openssh-server)")


@needs_giftless
@needs_sshd
def test_ssh_remote_gets_its_lfs_access_from_git_lfs_authenticate(ml, tmp_path, giftless):  # noqa: F811
    """An ssh:// Git remote with no data setting at all: refs over ssh, data over the
    href and header git-lfs-authenticate answered; no credential helper is set."""
    import base64
    auth = "Basic " + base64.b64encode(f"_jwt:{lfs_server.token()}".encode()).decode()
    log = tmp_path / "lfs-authenticate.log"
    no_lfs = tmp_path / "no-lfs"
    sshd = Sshd(tmp_path / "sshd", FORCED_COMMAND.format(log=str(log), href=giftless.lfs_url(),
                                                          auth=auth, no_lfs=str(no_lfs)))
    try:
        origin = init_bare(tmp_path / "remote.git")
        url = f"ssh://{sshd.user}@127.0.0.1:{sshd.port}{origin}"
        ml.git("remote", "add", "origin", url)
        env = {"GIT_SSH_COMMAND": sshd.ssh_command, "GIT_TERMINAL_PROMPT": "0"}
        proc = ml.exp("push", "origin", "first", env=env)
        assert "Pushed 'first'" in proc.stdout, proc.stdout + proc.stderr
        asked = log.read_text().splitlines()
        assert f"git-lfs-authenticate {str(origin)[1:]} download" in asked
        assert f"git-lfs-authenticate {str(origin)[1:]} upload" in asked
        assert set(h[:64] for h in model_objects(ml, "first")) <= set(giftless.objects())

        other = tmp_path / "other"
        subprocess.run(["git", "clone", "-q", url, str(other)], check=True,
                       env={**os.environ, **env})
        other = Project(other)
        # core.sshCommand is honoured as well as GIT_SSH_COMMAND.
        other.git("config", "core.sshCommand", sshd.ssh_command)
        other.exp("pull", "origin", "first", env={"GIT_TERMINAL_PROMPT": "0"})
        other.exp("apply", "first")
        assert other.read("model.txt") == "weights 0.1\n"

        # A plain SSH server (no git-lfs-authenticate, no https): a prompt, clear error.
        no_lfs.write_text("")
        proc = ml.exp("push", "origin", "second", env=env, check=False)
        assert proc.returncode == 1
        assert "error: no Git LFS store answers for this SSH remote: 'ssh " in proc.stderr
        assert "git-lfs-authenticate: not found" in proc.stderr
        assert "hint: an SSH server without Git LFS needs a data remote" in proc.stderr
    finally:
        sshd.stop()


@needs_giftless
def test_a_manifest_counts_as_present_only_with_all_its_size_beacons(committed, tmp_path, giftless):
    """A directory's manifest has no recorded size; its beacons tell it, and a put cut off
    before the last beacon leaves the manifest missing, so the next push sends it again."""
    from git_exp.repo import discover
    from git_exp.remotes.lfs.remote import beacon
    from git_exp.remotes.location import resolve
    _credentials(committed.path, giftless, lfs_server.token())
    committed.git("config", "remote.origin.lfsurl", giftless.lfs_url())
    manifest = b'[{"exec":false,"hash":"' + b"a" * 64 + b'","path":"x","size":7}]'
    digest = hashlib.sha256(manifest).hexdigest() + ".dir"
    (tmp_path / "manifest").write_bytes(manifest)
    repo = discover(str(committed.path))
    resolve(repo, "origin").put(digest, str(tmp_path / "manifest"))
    bits = [bit for bit in range(40) if len(manifest) >> bit & 1]
    stored = giftless.objects()
    assert all(hashlib.sha256(beacon(digest[:64], b)).hexdigest() in stored for b in bits)

    fresh = resolve(repo, "origin")  # knows nothing: no size told, nothing cached locally
    assert fresh.has_many([digest]) == {digest}
    assert fresh.get(digest, str(tmp_path / "back")) == len(manifest)
    assert (tmp_path / "back").read_bytes() == manifest

    last = hashlib.sha256(beacon(digest[:64], bits[-1])).hexdigest()
    next(giftless.storage.rglob(last)).unlink()  # as if the put stopped before it
    again = resolve(repo, "origin")
    assert again.has_many([digest]) == set()
    again.put(digest, str(tmp_path / "manifest"))
    assert resolve(repo, "origin").has_many([digest]) == {digest}


@needs_giftless
@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")
def test_https_with_a_private_certificate_authority_as_git_does(committed, tmp_path, monkeypatch):
    from git_exp.errors import ExpError
    monkeypatch.delenv("GIT_SSL_CAINFO", raising=False)  # it overrides http.sslCAInfo, as in Git
    monkeypatch.delenv("GIT_SSL_NO_VERIFY", raising=False)
    from git_exp.repo import discover
    from git_exp.remotes.location import resolve
    server = lfs_server.Giftless(tmp_path / "tls", tls=True)
    try:
        _credentials(committed.path, server, lfs_server.token())
        committed.git("config", "remote.origin.lfsurl", server.lfs_url())
        data = b"over tls\n" * 1000
        digest = hashlib.sha256(data).hexdigest()
        (tmp_path / "blob").write_bytes(data)
        with pytest.raises(ExpError, match="TLS certificate cannot be trusted") as refused:
            resolve(discover(str(committed.path)), "origin").put(digest, str(tmp_path / "blob"))
        assert "http.sslCAInfo" in refused.value.hint
        committed.git("config", "http.sslCAInfo", str(server.cert))
        store = resolve(discover(str(committed.path)), "origin")
        assert store.url.startswith("https://127.0.0.1:")
        assert store.put(digest, str(tmp_path / "blob")) == len(data)
        assert store.get(digest, str(tmp_path / "back")) == len(data)
        assert (tmp_path / "back").read_bytes() == data
    finally:
        server.stop()


@needs_giftless
def test_bench_lfs_still_runs_on_tiny_sizes():
    """Not a benchmark: bench/bench_lfs.py end to end on the smallest sizes, figures printed."""
    from tests.conftest import ROOT
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_lfs.py"), "--small", "5",
                           "--big-mb", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"small: .*\n  push \(cold\) +[\d.]+ s wall", proc.stdout), proc.stdout
    assert "Received 6 data objects" in proc.stdout  # 5 files and their directory's manifest
    assert "Received 1 data object, 1.00 MiB" in proc.stdout


# -- the client alone, against a plain HTTP server ---------------------------------------------

@pytest.fixture
def recording_server():
    """A loopback HTTP server answering every PUT 200; the Authorization header of each is kept."""
    import http.server
    seen: list = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with _serving(Handler) as server:
        server.seen = seen   # what the handler kept, for the test
        yield server


@contextlib.contextmanager
def _serving(handler: type) -> Iterator[Any]:
    """An http.server on a free loopback port answering with HANDLER, stopped at the end."""
    import http.server
    import threading
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_credentials_rejected_meanwhile_are_not_lent_to_an_action(committed, recording_server):
    """Another thread's reject() (its API request got 401) can land between the check that
    credentials were filled and reading them: the action then goes without Authorization
    (the server's 401 makes the caller ask again), never with None, on which http.client fails."""
    from git_exp.config import Config
    from git_exp.remotes.lfs.batch import Action, Session
    from git_exp.remotes.lfs.credentials import GitCredentials
    from git_exp.remotes.lfs.endpoint import Endpoint

    class RejectedMeanwhile(GitCredentials):
        def header(self):   # the other thread's reject lands just before this read
            self._filled = None
            return super().header()

    base = f"http://127.0.0.1:{recording_server.server_port}"
    session = Session(Endpoint(f"{base}/org/repo.git/info/lfs", "test"), str(committed.path), Config({}))
    credentials = RejectedMeanwhile(session.endpoint.href, str(committed.path))
    credentials._filled = b"protocol=http\nhost=127.0.0.1\nusername=u\npassword=p\n"
    session.credentials = credentials
    session.upload(Action(f"{base}/objects/abc", {}), b"data", 4, "upload of abc")
    assert recording_server.seen == [None]


def test_a_redirect_off_http_is_refused_on_the_proxy_path_too(monkeypatch):
    """Through a proxy (urllib), as without one: an LFS server's redirect to ftp:// is refused,
    with no connection to where it points. urllib would follow it, and its answer has no
    status (None), on which every status check fails."""
    import http.client
    import http.server
    import socket

    from git_exp.remotes.lfs import connections

    ftp = socket.socket()
    ftp.bind(("127.0.0.1", 0))
    ftp.listen(4)
    ftp.settimeout(0.5)
    ftp_port = ftp.getsockname()[1]

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:   # the proxied request: the server sends it away from http
            if self.path.endswith("/missing"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(302)
            self.send_header("Location", f"ftp://127.0.0.1:{ftp_port}/object")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with _serving(Proxy) as proxy, contextlib.closing(ftp):
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.server_port}")
        for name in ("no_proxy", "NO_PROXY", "ftp_proxy", "FTP_PROXY"):
            monkeypatch.delenv(name, raising=False)
        with pytest.raises(http.client.InvalidURL, match="not an http"):
            connections.request("GET", "http://lfs.example/objects/abc", None, {}, 5,
                                connections.ssl_context())
        with pytest.raises(socket.timeout):
            ftp.accept()[0].close()   # nobody was sent there
        # An http answer still comes back with its status (urllib raises it as an HTTPError).
        resp = connections.request("GET", "http://lfs.example/missing", None, {}, 5,
                                   connections.ssl_context())
        assert resp.status == 404
        resp.close()
