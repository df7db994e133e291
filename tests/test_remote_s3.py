"""S3 data remotes against a real S3 API server (moto in server mode) on a loopback port.

The client side is what users run: boto3 configured by the standard AWS
environment variables (AWS_ENDPOINT_URL points it at the server), and real
`git exp push` / `git exp pull` between two clones of a bare Git remote.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import clone
from tests.remote_common import (assert_whole, big_file, cache_objects, free_port, ml,  # noqa: F401
                                 stop, wait_for_port)  # (ml is a fixture)

boto3 = pytest.importorskip("boto3", reason="needs the s3 extra: pip install 'git-exp[s3]' "
                                            "(.ci/run installs it with the test extra)")
pytest.importorskip("moto.server", reason="needs an S3 API server: pip install 'moto[server]' "
                                          "(.ci/run installs it with the test extra)")

BUCKET = "exp-data"
PREFIX = "team/project"
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
         "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=log)
    try:
        wait_for_port(port, proc, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def s3(moto, monkeypatch):
    """A fresh bucket; the AWS variables set as a user would set them."""
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    client = boto3.client("s3")
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=BUCKET):
        for item in page.get("Contents", ()):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    return client


def bucket_objects(client, prefix: str = PREFIX) -> dict[str, bytes]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", ()):
            key = item["Key"]
            name = key.split("/files/sha256/")[1].replace("/", "")
            found[name] = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return found


@pytest.fixture
def origin(ml, tmp_path, s3):
    ml.git("config", "-f", ".expconfig", "remote.origin.expdata", f"s3://{BUCKET}/{PREFIX}")
    ml.commit("data remote", ".expconfig")
    return ml.add_bare_remote(tmp_path / "origin.git", push=("main",))


def test_push_and_pull_round_trip_through_s3(ml, origin, s3, tmp_path):
    proc = ml.exp("push", "origin", "first")
    assert "Sent 22 data objects" in proc.stdout and f"to s3://{BUCKET}/{PREFIX}" in proc.stdout
    assert "\r" not in proc.stderr  # no progress line on a pipe
    stored = bucket_objects(s3)
    assert len(stored) == 22 and set(stored) <= set(cache_objects(ml))
    assert_whole(stored)

    work = clone(origin, tmp_path / "clone")
    proc = work.exp("pull", "origin", "first")
    assert "Received 22 data objects" in proc.stdout

    # A rerun sends only what is missing: 'second' shares 15 parts with 'first'.
    proc = ml.exp("push", "-q", "origin", "second")
    assert "Sent 7 data objects" in proc.stdout and proc.stderr == ""
    proc = work.exp("pull", "-j", "2", "origin", "second")
    assert "Received 7 data objects" in proc.stdout

    work.exp("apply", "first")
    assert work.read("model.txt") == "weights 0.1\n"
    assert work.read("models/part3.bin") == "layer 3 0.1\n"
    work.fsck()


def test_a_corrupt_object_in_the_bucket_is_refused(ml, origin, s3, tmp_path):
    ml.exp("push", "origin", "first")
    model = hashlib.sha256(b"weights 0.1\n").hexdigest()
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/files/sha256/{model[:2]}/{model[2:]}", Body=b"rot\n")
    work = clone(origin, tmp_path / "clone")
    proc = work.exp("pull", "origin", "first", check=False)
    assert proc.returncode == 1 and f"object {model}" in proc.stderr and "refusing it" in proc.stderr
    assert model not in cache_objects(work)
    assert_whole(cache_objects(work))


def test_large_objects_go_up_in_parts_with_moving_progress(s3, tmp_path, monkeypatch):
    from git_exp.data.cache import Cache
    from git_exp.remotes import transfer
    from git_exp.remotes.location import open_location
    monkeypatch.setattr(transfer._Meter, "TICK", 0.005)
    cache = Cache(str(tmp_path / "exp"))
    data = big_file(tmp_path / "big", 70)  # over the 64 MiB multipart threshold
    h = hashlib.sha256(data).hexdigest()
    dest = Path(cache.object_path(h))
    dest.parent.mkdir(parents=True)
    dest.write_bytes(data)
    remote = open_location(f"s3://{BUCKET}/big", str(tmp_path), "test")
    calls = []
    stats = transfer.send(cache, remote, [h], progress=lambda *a: calls.append(a), jobs=1)
    assert stats.bytes == len(data)
    assert len([c for c in calls if c[0] == 0 and 0 < c[2] < len(data)]) >= 2
    head = s3.head_object(Bucket=BUCKET, Key=f"big/files/sha256/{h[:2]}/{h[2:]}")
    assert "-" in head["ETag"]  # a multipart upload's ETag

    other = Cache(str(tmp_path / "other"))
    calls.clear()
    got, lacking = transfer.download(other, remote, [h], progress=lambda *a: calls.append(a),
                                     sizes={h: len(data)})
    assert lacking == set() and Path(other.object_path(h)).read_bytes() == data
    assert len([c for c in calls if c[0] == 0 and 0 < c[2] < len(data)]) >= 2

    # An upload an interrupted push left half done is aborted by the next push's clean-up.
    s3.create_multipart_upload(Bucket=BUCKET, Key=f"big/files/sha256/{h[:2]}/x")
    assert remote.clean_temp(max_age=0) == 1
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_has_many_in_bulk_and_list(s3, tmp_path, monkeypatch):
    from git_exp.remotes.location import open_location
    remote = open_location(f"s3://{BUCKET}/bulk/", str(tmp_path), "test")
    assert remote.url == f"s3://{BUCKET}/bulk"
    hashes = []
    for i in range(600):
        src = tmp_path / f"{i}"
        src.write_bytes(b"object %d\n" % i)
        hashes.append(hashlib.sha256(src.read_bytes()).hexdigest())
        if i % 3 == 0:
            assert remote.put(hashes[-1], str(src)) == len(src.read_bytes())
    assert remote.has_many(hashes) == set(hashes[::3])   # the whole store listed at once
    assert remote.has_many(hashes[1:3]) == set()
    from git_exp.remotes import s3 as s3_module
    monkeypatch.setattr(s3_module, "_WHOLE_LISTING_PAGES", 0)  # as if too big to list whole
    assert remote.has_many(hashes) == set(hashes[::3])   # listed shards and HEADs both
    assert remote.has_many(hashes[:40]) == set(hashes[:40:3])
    assert sorted(remote.list()) == sorted(hashes[::3])


def test_errors_name_the_remote_and_what_to_do(ml, origin, s3, moto, tmp_path):
    url = f"s3://{BUCKET}/{PREFIX}"
    proc = ml.exp("push", "origin", "first", check=False,
                  env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"error: cannot ask the data remote '{url}': no AWS credentials found" in proc.stderr
    assert "hint: set AWS_ACCESS_KEY_ID" in proc.stderr

    ml.git("config", "remote.origin.expdata", "s3://no-such-bucket/x")
    proc = ml.exp("push", "origin", "first", check=False)
    assert proc.returncode == 1
    assert "bucket 'no-such-bucket' does not exist" in proc.stderr and "aws s3 mb" in proc.stderr
    from git_exp.remotes.base import RemoteUnavailable
    from git_exp.remotes.location import open_location
    open_location(url, str(tmp_path), "test").probe()
    with pytest.raises(RemoteUnavailable) as err:
        open_location("s3://no-such-bucket/x", str(tmp_path), "test").probe()
    assert "bucket 'no-such-bucket' does not exist" in err.value.message

    ml.git("config", "--unset", "remote.origin.expdata")
    closed = f"http://127.0.0.1:{free_port()}"
    proc = ml.exp("push", "origin", "first", check=False,
                  env={"AWS_ENDPOINT_URL": closed, "AWS_MAX_ATTEMPTS": "2"})
    assert proc.returncode == 1
    assert f"cannot ask the data remote '{url}' (after retries)" in proc.stderr
    assert "AWS_ENDPOINT_URL" in proc.stderr


def test_a_missing_extra_names_the_pip_command(ml, origin, tmp_path):
    # An interpreter without boto3: a package of that name that fails to import, as a
    # missing one does.
    fake = tmp_path / "without-boto3" / "boto3"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'boto3'\", "
                                      "name='boto3')\n")
    proc = ml.exp("push", "origin", "first", check=False,
                  env={"PYTHONPATH": str(fake.parent)})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "error: s3 data remotes need boto3, which is not installed" in proc.stderr
    assert "hint: install the extra: pip install 'git-exp[s3]'" in proc.stderr


@pytest.fixture(scope="module")
def moto_with_auth(tmp_path_factory):
    """A second server that checks credentials (moto's IAM enforcement from the first request)."""
    import os
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto-auth") / "log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=log,
                            env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0"))
    try:
        wait_for_port(port, proc, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()


def test_refused_credentials_name_where_they_came_from(moto_with_auth, sealed_env, tmp_path,
                                                      monkeypatch):
    from git_exp.remotes.base import RemoteUnavailable
    from git_exp.remotes.location import open_location
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_with_auth)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONG")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(RemoteUnavailable) as err:
        open_location(f"s3://{BUCKET}/x", str(tmp_path), "test").has_many(["a" * 64])
    assert f"the data remote 's3://{BUCKET}/x' refused access" in err.value.message
    assert "the credentials from the environment (AWS_ACCESS_KEY_ID" in err.value.message
    assert "~/.aws/credentials" in err.value.hint

    # The same keys from a profile in ~/.aws/credentials: the error says so.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    (sealed_env / ".aws").mkdir()
    (sealed_env / ".aws" / "credentials").write_text(
        "[team]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n")
    monkeypatch.setenv("AWS_PROFILE", "team")
    with pytest.raises(RemoteUnavailable) as err:
        open_location(f"s3://{BUCKET}/x", str(tmp_path), "test").probe()
    assert "the credentials from ~/.aws/credentials (profile 'team')" in err.value.message
