"""`git exp remote`: each Git remote, its data remote, and the setting that chose it."""
from __future__ import annotations

import json
import subprocess

from tests.conftest import Project, init_bare


def test_each_remote_with_its_data_remote_and_why(committed, tmp_path, sealed_env):
    p: Project = committed
    origin = p.add_bare_remote(tmp_path / "origin.git")
    p.git("remote", "add", "team", "https://git.example.com/team/project.git")
    p.git("remote", "add", "mirror", "git@example.com:team/project.git")
    p.git("remote", "add", "shared", str(tmp_path / "shared.git"))
    init_bare(tmp_path / "shared.git")
    p.git("config", "remote.team.expdata", str(tmp_path / "team-data"))
    p.gen({".expconfig": f"[remote \"shared\"]\n\texpdata = {tmp_path / 'from-expconfig'}\n"})
    proc = p.exp("remote")
    lines = proc.stdout.splitlines()
    # As `git remote` lists them (sorted), each followed by its data line.
    assert [l.split("\t")[0] for l in lines[::2]] == ["mirror", "origin", "shared", "team"]
    blocks = {lines[i].split("\t")[0]: (lines[i], lines[i + 1]) for i in range(0, len(lines), 2)}
    assert blocks["origin"] == (f"origin\t{origin}", f"\tdata: {origin}/exp/cache\t(local path)")
    assert blocks["team"] == ("team\thttps://git.example.com/team/project.git",
                              f"\tdata: {tmp_path / 'team-data'}\t(remote.team.expdata (.git/config))")
    assert blocks["mirror"][0] == "mirror\tgit@example.com:team/project.git"
    # An ssh remote with nothing configured pairs with its host's Git LFS store.
    assert blocks["mirror"][1] == ("\tdata: https://example.com/team/project.git/info/lfs\t"
                                   "(LFS store of git@example.com:team/project.git)")
    assert blocks["shared"] == (f"shared\t{tmp_path / 'shared.git'}",
                                f"\tdata: {tmp_path / 'from-expconfig'}\t"
                                "(remote.shared.expdata (.expconfig))")

    # A default for every remote, in the user's global config; a remote's own key still wins.
    subprocess.run(["git", "config", "--global", "exp.remote", str(tmp_path / "everyone")], check=True)
    found = {r["name"]: r for r in json.loads(p.exp("remote", "--json").stdout)}
    assert found["mirror"]["data_remote"] == str(tmp_path / "everyone")
    assert found["mirror"]["reason"] == "exp.remote (~/.gitconfig)"
    assert found["origin"]["reason"] == "exp.remote (~/.gitconfig)"
    assert found["team"]["reason"] == "remote.team.expdata (.git/config)"
    assert found["team"]["reachable"] is None   # no probe without -v


def test_verbose_probes_each_data_remote(committed, tmp_path):
    p: Project = committed
    origin = p.add_bare_remote(tmp_path / "origin.git")
    p.git("remote", "add", "gone", str(tmp_path / "gone.git"))
    p.git("remote", "add", "odd", "https://git.example.com/odd.git")
    p.git("config", "remote.odd.expdata", "s3s://bucket/prefix")   # no such kind
    (tmp_path / "origin.git" / "exp" / "cache").mkdir(parents=True)
    proc = p.exp("remote", "-v")
    assert proc.returncode == 0
    out = proc.stdout
    assert f"\tdata: {origin}/exp/cache\t(local path)\n\treachable\n" in out
    assert "gone\t" in out and "is not a Git repository" in out
    found = {r["name"]: r for r in json.loads(p.exp("remote", "-v", "--json").stdout)}
    assert found["origin"]["reachable"] is True and found["origin"]["probe"] == "reachable"
    assert found["gone"]["data_remote"] is None and found["gone"]["reachable"] is None
    assert found["odd"]["reachable"] is None and "is not supported" in found["odd"]["error"]


def test_empty_directory_data_remote_is_reported_as_such(committed, tmp_path):
    p: Project = committed
    p.add_bare_remote(tmp_path / "origin.git")
    proc = p.exp("remote", "-v")
    assert "reachable (empty: the directory does not exist yet)" in proc.stdout


def test_no_remotes(committed):
    proc = committed.exp("remote")
    assert proc.returncode == 0 and proc.stdout == ""
    assert "No Git remotes" in proc.stderr
    assert json.loads(committed.exp("remote", "--json").stdout) == []


def test_a_push_url_elsewhere_shows_where_uploads_go(committed, tmp_path):
    """`git exp push` uploads to the push URL's store (as `git push` does): shown beside the fetch side."""
    p: Project = committed
    origin = p.add_bare_remote(tmp_path / "origin.git")
    up = init_bare(tmp_path / "up.git")
    assert "data (push)" not in p.exp("remote").stdout     # one store for both: one line
    p.git("config", "remote.origin.pushurl", str(up))
    out = p.exp("remote").stdout
    assert f"\tdata: {origin}/exp/cache\t(local path)\n\tdata (push): {up}/exp/cache\t(local path)\n" in out
    p.git("config", "remote.origin.pushurl", "https://git.example.com/team/project.git")
    found = {r["name"]: r for r in json.loads(p.exp("remote", "--json").stdout)}["origin"]
    assert found["data_remote"] == f"{origin}/exp/cache"
    assert found["push_data_remote"] == "https://git.example.com/team/project.git/info/lfs"
    assert found["push_reason"] == "LFS store of https://git.example.com/team/project.git"
    p.git("config", "remote.origin.pushurl", str(tmp_path / "nothing-here"))
    out = p.exp("remote").stdout
    assert "\tdata (push): none - Git remote 'origin'" in out and "is not a Git repository" in out
    # A data remote set for the remote is where both go.
    p.git("config", "remote.origin.expdata", str(tmp_path / "shared"))
    found = {r["name"]: r for r in json.loads(p.exp("remote", "--json").stdout)}["origin"]
    assert found["push_data_remote"] is None and found["push_error"] is None


def test_verbose_probes_the_upload_store_too_when_it_is_another(committed, tmp_path):
    p: Project = committed
    origin = p.add_bare_remote(tmp_path / "origin.git")
    up = init_bare(tmp_path / "up.git")
    (origin / "exp" / "cache").mkdir(parents=True)
    p.git("config", "remote.origin.pushurl", str(up))
    out = p.exp("remote", "-v").stdout
    assert (f"\tdata: {origin}/exp/cache\t(local path)\n\treachable\n"
            f"\tdata (push): {up}/exp/cache\t(local path)\n\treachable (empty:") in out
    p.git("config", "remote.origin.pushurl", "https://127.0.0.1:9/team/project.git")   # nobody listens
    found = {r["name"]: r for r in json.loads(p.exp("remote", "-v", "--json").stdout)}["origin"]
    assert found["reachable"] is True and found["push_reachable"] is False
    assert found["push_probe"] and found["push_data_remote"] == "https://127.0.0.1:9/team/project.git/info/lfs"
