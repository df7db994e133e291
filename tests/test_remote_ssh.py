"""SSH data remotes against a real OpenSSH server started on a loopback port.

The server is Debian's /usr/sbin/sshd with a generated host key and a
generated client key; the client is the real `ssh`, given its options the
way a user gives them to Git (GIT_SSH_COMMAND or core.sshCommand).
"""
from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import clone
from tests.remote_common import (assert_whole, big_file, cache_objects, free_port, ml,  # noqa: F401
                                 objects_under, stop, wait_for_port)  # (ml is a fixture)

SSHD = "/usr/sbin/sshd"
pytestmark = pytest.mark.skipif(
    not (os.path.exists(SSHD) and shutil.which("ssh") and shutil.which("ssh-keygen")),
    reason="needs OpenSSH's server and client (apt-get install openssh-server openssh-client; "
           ".ci/run installs them)")


class Server:
    def __init__(self, port: int, key: Path, user: str):
        self.port, self.key, self.user = port, key, user

    def ssh_command(self, key: Path | None = None) -> str:
        return (f"ssh -F /dev/null -i {key or self.key} -o IdentitiesOnly=yes -o BatchMode=yes "
                "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")

    def url(self, path: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sshd")
    for name in ("host", "client", "stranger"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)],
                       check=True)
    (folder / "authorized_keys").write_bytes((folder / "client.pub").read_bytes())
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host'}\n"
                      f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'pid'}\n"
                      "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                      "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n")
    os.makedirs("/run/sshd", exist_ok=True) if os.geteuid() == 0 else None
    log = open(folder / "log", "wb")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
    try:
        wait_for_port(port, proc)
        yield Server(port, folder / "client", getpass.getuser())
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def env(sshd, monkeypatch):
    monkeypatch.setenv("GIT_SSH_COMMAND", sshd.ssh_command())
    return sshd


@pytest.fixture
def shared(ml, tmp_path, env):
    """A bare Git remote 'origin' by path, its data in an ssh:// data remote (committed .expconfig)."""
    data = tmp_path / "server-data"
    ml.git("config", "-f", ".expconfig", "remote.origin.expdata", env.url(data))
    ml.commit("data remote", ".expconfig")
    return ml.add_bare_remote(tmp_path / "origin.git", push=("main",)), data


def test_push_and_pull_round_trip_over_ssh(ml, shared, tmp_path):
    origin, data = shared
    proc = ml.exp("push", "origin", "first")
    assert "Sent 22 data objects" in proc.stdout, proc.stdout
    assert "\r" not in proc.stderr  # no progress line on a pipe
    on_server = objects_under(data)
    assert set(on_server) <= set(cache_objects(ml)) and len(on_server) == 22
    assert_whole(on_server)
    assert not any((data / "tmp").iterdir())  # the put's folder is gone

    work = clone(origin, tmp_path / "clone")
    proc = work.exp("pull", "origin", "first")
    assert "Received 22 data objects" in proc.stdout
    work.exp("apply", "first")
    assert work.read("model.txt") == "weights 0.1\n"
    assert work.read("models/part3.bin") == "layer 3 0.1\n"
    work.fsck()

    # A rerun moves only what is missing: 'second' shares part objects with 'first'.
    proc = ml.exp("push", "-q", "origin", "second")
    assert "Sent 7 data objects" in proc.stdout and proc.stderr == ""  # model, 5 parts, manifest


def test_scp_like_location_and_core_ssh_command(ml, sshd, tmp_path, monkeypatch):
    monkeypatch.delenv("GIT_SSH_COMMAND", raising=False)
    ml.add_bare_remote(tmp_path / "origin.git")
    data = tmp_path / "scp-data"
    ml.git("config", "core.sshCommand", sshd.ssh_command() + f" -p {sshd.port}")
    ml.git("config", "remote.origin.expdata", f"{sshd.user}@127.0.0.1:{data}")
    ml.exp("push", "origin", "-A")
    assert len(objects_under(data)) == 29
    assert_whole(objects_under(data))


def test_remote_interface_in_bulk(env, tmp_path, monkeypatch):
    """has_many for many hashes and list are one command each; get verifies on arrival."""
    import hashlib
    from git_exp.remotes.location import open_location
    remote = open_location(env.url(tmp_path / "bulk"), str(tmp_path), "test")
    hashes = []
    for i in range(300):
        src = tmp_path / "src" / f"{i}"
        src.parent.mkdir(exist_ok=True)
        src.write_bytes(b"object %d\n" % i)
        hashes.append(hashlib.sha256(src.read_bytes()).hexdigest())
    calls = []
    real = remote._start
    monkeypatch.setattr(remote, "_start", lambda script, **kw: calls.append(1) or real(script, **kw))
    sources = [(h, str(tmp_path / "src" / f"{i}")) for i, h in enumerate(hashes)]
    assert remote.put_batch(sources[::2]) == sum(len(b"object %d\n" % i) for i in range(0, 300, 2))
    assert remote.has_many(hashes) == set(hashes[::2])
    assert sorted(remote.list()) == sorted(hashes[::2])
    assert len(calls) == 3
    got = remote.get_batch([(h, str(tmp_path / "got" / h)) for h in hashes[:10:2]])
    assert got == sum(len(b"object %d\n" % i) for i in range(0, 10, 2))


def test_a_corrupt_object_on_the_server_is_refused(ml, shared, tmp_path):
    origin, data = shared
    ml.exp("push", "origin", "first")
    import hashlib
    model = hashlib.sha256(b"weights 0.1\n").hexdigest()
    obj = data / "files" / "sha256" / model[:2] / model[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"bit rot\n")
    work = clone(origin, tmp_path / "clone")
    proc = work.exp("pull", "origin", "first", check=False)
    assert proc.returncode == 1 and "refusing it" in proc.stderr
    assert model not in cache_objects(work)
    assert_whole(cache_objects(work))


def test_an_interrupted_put_publishes_nothing_and_leaves_no_temp_folder(env, tmp_path):
    from git_exp.remotes.base import TransferCancelled
    from git_exp.remotes.location import open_location
    import hashlib
    remote = open_location(env.url(tmp_path / "cut"), str(tmp_path), "test")
    data = big_file(tmp_path / "big", 64)
    h = hashlib.sha256(data).hexdigest()
    moved = []

    def receiver(hash, n):
        moved.append(n)
        if sum(moved) > 8 << 20:
            remote.cancel()  # Ctrl-C in the middle of the object

    remote.on_bytes(receiver)
    with pytest.raises(TransferCancelled):
        remote.put_batch([(h, str(tmp_path / "big"))])
    assert objects_under(tmp_path / "cut") == {}
    for _ in range(100):  # the server's trap runs when it notices the closed stream
        if not any((tmp_path / "cut" / "tmp").iterdir()):
            break
        threading.Event().wait(0.05)
    assert list((tmp_path / "cut" / "tmp").iterdir()) == []

    # A folder a SIGKILLed put left a day ago goes with the next put.
    old = tmp_path / "cut" / "tmp" / "put-0-0-dead"
    old.mkdir()
    (old / h).write_bytes(data[:100])
    subprocess.run(["touch", "-t", "200001010000", str(old)], check=True)
    fresh = open_location(env.url(tmp_path / "cut"), str(tmp_path), "test")
    assert fresh.put(h, str(tmp_path / "big")) == len(data)
    assert not old.exists()
    assert objects_under(tmp_path / "cut") == {h: data}


def test_progress_moves_while_one_large_object_streams(env, tmp_path, monkeypatch):
    from git_exp.data.cache import Cache
    from git_exp.remotes import transfer
    from git_exp.remotes.location import open_location
    import hashlib
    monkeypatch.setattr(transfer._Meter, "TICK", 0.005)
    cache = Cache(str(tmp_path / "exp"))
    data = big_file(tmp_path / "big", 32)
    h = hashlib.sha256(data).hexdigest()
    dest = Path(cache.object_path(h))
    dest.parent.mkdir(parents=True)
    dest.write_bytes(data)
    remote = open_location(env.url(tmp_path / "prog"), str(tmp_path), "test")
    calls = []
    stats = transfer.send(cache, remote, [h], progress=lambda *a: calls.append(a), jobs=1)
    assert stats.objects == 1 and stats.bytes == len(data)
    partial = [c for c in calls if c[0] == 0 and 0 < c[2] < len(data)]
    assert len(partial) >= 2, calls[:5]
    assert calls[-1] == (1, 1, len(data), len(data))


def test_unreachable_and_refusing_servers_are_clear_errors(ml, shared, sshd, tmp_path):
    closed = free_port()
    ml.git("config", "remote.origin.expdata", f"ssh://{sshd.user}@127.0.0.1:{closed}/tmp/x")
    proc = ml.exp("push", "origin", "first", check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"error: the data remote 'ssh://{sshd.user}@127.0.0.1:{closed}/tmp/x' cannot be reached" \
        in proc.stderr
    assert "hint: check that" in proc.stderr and "Traceback" not in proc.stderr

    ml.git("config", "--unset", "remote.origin.expdata")
    stranger = sshd.key.parent / "stranger"
    proc = ml.exp("push", "origin", "first", check=False,
                  env={"GIT_SSH_COMMAND": sshd.ssh_command(stranger)})
    assert proc.returncode == 1
    assert "refused us" in proc.stderr and "Permission denied" in proc.stderr
    assert "GIT_SSH_COMMAND or core.sshCommand" in proc.stderr

    from git_exp.remotes.base import RemoteUnavailable
    from git_exp.remotes.location import open_location
    open_location(sshd.url(tmp_path / "probe"), str(tmp_path), "test").probe()
    with pytest.raises(RemoteUnavailable) as err:
        open_location(f"ssh://{sshd.user}@127.0.0.1:{closed}/x", str(tmp_path), "test").probe()
    assert "cannot be reached while trying to contact it" in err.value.message


def test_locations_that_ssh_would_read_as_options_are_refused(tmp_path):
    from git_exp.errors import ExpError
    from git_exp.remotes.location import open_location
    from git_exp.remotes.ssh import parse_url
    for url in ("ssh://-oProxyCommand=touch%20pwned/x", "-oProxyCommand=touch:x",
                "ssh://-l@host/x"):
        with pytest.raises(ExpError) as err:
            open_location(url, str(tmp_path), "test")
        assert "could be read as an ssh option" in err.value.message
    assert parse_url("ssh://me@host:2222/srv/data") == ("me@host", "2222", "/srv/data")
    assert parse_url("ssh://host/~/data") == ("host", None, "~/data")
    assert parse_url("me@host:data") == ("me@host", None, "data")
    assert not (tmp_path / "pwned").exists()


def test_a_connection_lost_mid_push_says_what_is_left_and_a_rerun_resumes(ml, shared, sshd, tmp_path):
    """The server becomes unreachable after the first batch; the rerun sends only the rest."""
    origin, data = shared
    closed = free_port()
    counter = tmp_path / "calls"
    counter.mkdir()
    wrapper = tmp_path / "flaky-ssh"
    # Real ssh each time: the first two connections reach the server, later ones a closed port.
    # Each call takes its number with an atomic mkdir: -j 2 starts two at once, and a
    # read-then-write counter let both read 2 and reach the server (seen in CI).
    wrapper.write_text(
        "#!/bin/sh\n"
        f'n=1; while ! mkdir "{counter}/$n" 2>/dev/null; do n=$((n + 1)); done\n'
        f'if [ $n -le 2 ]; then exec {sshd.ssh_command()} "$@"; fi\n'
        f'exec {sshd.ssh_command()} -o ConnectTimeout=5 -p {closed} "$@"\n')
    wrapper.chmod(0o755)
    proc = ml.exp("push", "-j", "2", "origin", "first", check=False,
                  env={"GIT_SSH_COMMAND": str(wrapper)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot be reached" in proc.stderr
    import re
    left = re.search(r"(\d+) of 22 object\(s\) were not sent", proc.stderr)
    assert left, proc.stderr
    landed = objects_under(data)
    assert_whole(landed)
    assert len(landed) == 22 - int(left.group(1))
    assert not any((data / "tmp").iterdir())

    proc = ml.exp("push", "origin", "first")
    assert f"Sent {int(left.group(1))} data object" in proc.stdout
    assert len(objects_under(data)) == 22


def test_a_terminal_gets_a_progress_line_and_q_silences_it(ml, shared, tmp_path):
    from tests.test_pty_progress import run_on_terminal

    def push_on_a_terminal(*args: str) -> str:
        code, _, shown = run_on_terminal(ml, "push", *args)
        assert code == 0, shown
        return shown

    shown = push_on_a_terminal("origin", "first")
    assert "\rSending data: 100% (22/22)" in shown and shown.rstrip().endswith(", done.")
    assert push_on_a_terminal("-q", "origin", "second") == ""
