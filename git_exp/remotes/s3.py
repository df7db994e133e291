"""s3://BUCKET/PREFIX: objects in an S3 bucket or any S3-compatible store, through boto3.

Settings come from where the AWS tools keep them, read by boto3 itself: the
AWS_* environment variables (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for
MinIO, Ceph, R2, ...), ~/.aws/config and ~/.aws/credentials, SSO and
instance roles. boto3 is the optional extra git-exp[s3] (chosen by
measurement, see bench/bench_s3_clients.py) and is imported only here.

Layout: PREFIX/files/sha256/<2 hex>/<62 hex>, the cache's own layout.
A PUT is atomic (an object appears under its key whole or not at all), and
a multipart upload appears only when completed, so nothing half-written is
ever visible under a final key. Uploads are hashed before they leave (and a
single PUT carries its SHA-256, which S3 checks); downloads are hashed on
arrival by write_verified before they enter the cache.
"""
from __future__ import annotations

import base64
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, Iterable, Iterator
from urllib.parse import urlsplit

from git_exp.data.cachefiles import STALE_TEMP_SECONDS
from git_exp.data.hashing import CHUNK_SIZE, is_valid_hash
from git_exp.errors import ExpError
from git_exp.remotes.base import (DataRemote, ObjectMismatch, RemoteUnavailable,
                                  TransferCancelled, check_hash, write_verified)

if TYPE_CHECKING:
    from types import ModuleType

# Objects at least this big go up in parts, several at once (S3's 5 GiB
# single-PUT limit, and a failed part is retried alone).
MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024
# has_many: a shard with this many wanted objects is listed (1 request per
# 1,000 keys) rather than asked object by object (1 HEAD each).
_LIST_SHARD_FROM = 4
# ... but first, for more than this many wanted objects, the whole store is
# listed if that takes at most this many pages (of 1,000 keys): on a new or
# small prefix one request answers thousands.
_WHOLE_LISTING_FROM = 64
_WHOLE_LISTING_PAGES = 5
_THREADS = 16
_AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
               "InvalidToken", "TokenRefreshRequired", "403", "AllAccessDisabled"}
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
# botocore's names for where credentials came from, as a user knows them.
_CREDENTIAL_SOURCES = {
    "env": "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
    "shared-credentials-file": "~/.aws/credentials",
    "config-file": "~/.aws/config",
    "sso": "AWS SSO (~/.aws/config)",
    "assume-role": "an assumed role (~/.aws/config)",
    "custom-process": "credential_process (~/.aws/config)",
    "iam-role": "the instance's IAM role",
    "container-role": "the container's IAM role",
}


def _boto3() -> ModuleType:
    try:
        import boto3
        import botocore  # noqa: F401
    except ModuleNotFoundError as err:
        missing = "" if err.name == "boto3" else f" (its module {err.name} is missing)"
        raise ExpError(f"s3 data remotes need boto3, which is not installed{missing}",
                       hint="install the extra: pip install 'git-exp[s3]'") from None
    return boto3


def parse_url(url: str) -> tuple[str, str]:
    """'s3://bucket/some/prefix/' -> ('bucket', 'some/prefix')."""
    parts = urlsplit(url)
    bucket = parts.netloc
    if parts.scheme != "s3" or not bucket or "@" in bucket:
        raise ExpError(f"'{url}' is not an S3 location", hint="write it s3://BUCKET/PREFIX")
    return bucket, parts.path.strip("/")


class _Reader:
    """A file object for put_object that reports bytes read and stops on cancel."""

    def __init__(self, f: IO[bytes], remote: S3Remote, hash: str) -> None:
        self.f, self.remote, self.hash = f, remote, hash

    def read(self, n: int = -1) -> bytes:
        if self.remote.stop.is_set():
            raise TransferCancelled()
        block = self.f.read(n)
        self.remote.report_bytes(self.hash, len(block))
        return block

    def seek(self, *args: int) -> int:
        return self.f.seek(*args)

    def tell(self) -> int:
        return self.f.tell()


class S3Remote(DataRemote):
    def __init__(self, url: str, jobs: int = 32):
        super().__init__()
        self.bucket, self.prefix = parse_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self._base = (self.prefix + "/" if self.prefix else "") + "files/sha256/"
        self._jobs = jobs
        self._lock = threading.Lock()
        self._client: Any = None   # boto3's: see client
        self._session: Any = None   # a boto3 Session (no type hints either)

    # -- connection and errors -------------------------------------------------

    # Any: boto3 ships no type hints; its clients' methods are made at run time from
    # the service's JSON model.
    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                boto3 = _boto3()
                from botocore.config import Config
                self._session = boto3.session.Session()
                config = Config(max_pool_connections=self._jobs,
                                retries={"max_attempts": 6, "mode": "standard"},
                                connect_timeout=10, read_timeout=60)
                with self._errors("connect to"):
                    self._client = self._session.client("s3", config=config)
            return self._client

    def _credential_source(self) -> str:
        try:
            creds = self._session.get_credentials() if self._session else None
        except Exception:  # a broken profile: say so below rather than fail here
            creds = None
        if creds is None:
            return "no credentials were found"
        method = getattr(creds, "method", "") or "an unknown source"
        profile = self._session.profile_name if self._session else None
        where = _CREDENTIAL_SOURCES.get(method, method)
        if method in ("shared-credentials-file", "config-file", "sso", "assume-role",
                      "custom-process") and profile:
            where += f" (profile '{profile}')"
        return f"the credentials from {where}"

    def _endpoint(self) -> str:
        try:
            return self.client.meta.endpoint_url
        except ExpError:
            return "?"

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn boto3's exceptions into errors that name the remote and what to do."""
        from botocore import exceptions as bx
        try:
            yield
        except (ExpError, KeyboardInterrupt):
            raise
        except bx.NoCredentialsError:
            raise RemoteUnavailable(
                f"cannot {doing} the data remote '{self.url}': no AWS credentials found",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
                     "or run 'aws configure'") from None
        except (bx.ProfileNotFound, bx.PartialCredentialsError, bx.NoRegionError) as err:
            raise RemoteUnavailable(f"cannot {doing} the data remote '{self.url}': {err}",
                                    hint="check AWS_PROFILE and ~/.aws/config") from None
        except (bx.EndpointConnectionError, bx.ConnectionClosedError,
                bx.ConnectTimeoutError, bx.ReadTimeoutError) as err:
            raise RemoteUnavailable(
                f"cannot {doing} the data remote '{self.url}' (after retries): {err}",
                hint="check the network and the endpoint (AWS_ENDPOINT_URL, endpoint_url in "
                     "~/.aws/config); rerun the command to send or fetch the rest") from None
        except bx.ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket" or (code == "404" and doing == "contact"):
                raise RemoteUnavailable(
                    f"the data remote '{self.url}': bucket '{self.bucket}' does not exist at "
                    f"{self._endpoint()}",
                    hint=f"create it (aws s3 mb s3://{self.bucket}) or correct "
                         "remote.<name>.expdata") from None
            if code in _AUTH_CODES:
                raise RemoteUnavailable(
                    f"the data remote '{self.url}' refused access ({code}) to "
                    f"{self._credential_source()}",
                    hint="check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, "
                         "~/.aws/credentials) and the bucket's permissions") from None
            raise RemoteUnavailable(f"cannot {doing} the data remote '{self.url}': {err}") from None
        except bx.BotoCoreError as err:
            raise RemoteUnavailable(f"cannot {doing} the data remote '{self.url}': {err}") from None

    def key(self, hash: str) -> str:
        check_hash(hash)
        return self._base + hash[:2] + "/" + hash[2:]

    # -- the interface ---------------------------------------------------------

    def has_many(self, hashes: Iterable[str]) -> set[str]:
        """Which of HASHES are here, in as few requests as the bucket's size allows.

        A small store (or a new prefix) is listed whole: a page of 1,000 keys
        per request answers everything. A store bigger than a few pages is
        asked shard by shard instead: a listing of each 2-hex prefix many
        wanted objects share, a HEAD for the others, 16 at a time.
        """
        wanted = set(hashes)
        for h in wanted:
            check_hash(h)
        if not wanted:
            return set()
        if len(wanted) > _WHOLE_LISTING_FROM:
            with self._errors("ask"):
                whole = self._list_all(_WHOLE_LISTING_PAGES)
            if whole is not None:
                return whole & wanted
        shards: dict[str, set[str]] = {}
        for h in wanted:
            shards.setdefault(h[:2], set()).add(h)
        listed = [s for s, hs in shards.items() if len(hs) >= _LIST_SHARD_FROM]
        headed = [h for s, hs in shards.items() if len(hs) < _LIST_SHARD_FROM for h in hs]
        with self._errors("ask"), ThreadPoolExecutor(_THREADS) as pool:
            found = set()
            for names in pool.map(lambda s: set(self._list_keys(self._base + s + "/")), listed):
                found |= names & wanted
            for h, there in zip(headed, pool.map(self._exists, headed)):
                if there:
                    found.add(h)
        return found

    def _list_all(self, max_pages: int) -> set[str] | None:
        """Every object here if listing takes at most MAX_PAGES requests, else None."""
        found: set[str] = set()
        paginator = self.client.get_paginator("list_objects_v2")
        for n, page in enumerate(paginator.paginate(Bucket=self.bucket, Prefix=self._base)):
            if n >= max_pages:
                return None
            for item in page.get("Contents", ()):
                name = self._name(item["Key"])
                if name:
                    found.add(name)
        return found

    def _name(self, key: str) -> str | None:
        rest = key[len(self._base):]
        name = rest.replace("/", "", 1)
        return name if len(rest) > 3 and rest[2] == "/" and is_valid_hash(name) else None

    def _exists(self, hash: str) -> bool:
        from botocore.exceptions import ClientError
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(hash))
            return True
        except ClientError as err:
            if str(err.response.get("Error", {}).get("Code", "")) in _MISSING_CODES:
                return False
            raise

    def _list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                name = self._name(item["Key"])
                if name:
                    yield name

    def put(self, hash: str, path: str) -> int:
        """Upload PATH as HASH (always: the caller asked has_many in bulk first)."""
        digest, size = _sha256_of(path, self.stop)
        if digest.hexdigest() != hash[:64]:
            raise ObjectMismatch(hash, digest.hexdigest(), path)
        key = self.key(hash)
        with self._errors("send to"):
            if size < MULTIPART_THRESHOLD:
                with open(path, "rb") as f:
                    self.client.put_object(
                        Bucket=self.bucket, Key=key, Body=_Reader(f, self, hash),
                        ContentLength=size,
                        ChecksumSHA256=base64.b64encode(digest.digest()).decode())
            else:
                from boto3.s3.transfer import TransferConfig

                def callback(n: int) -> None:
                    if self.stop.is_set():
                        raise TransferCancelled()
                    self.report_bytes(hash, n)

                self.client.upload_file(path, self.bucket, key, Callback=callback,
                                        Config=TransferConfig(multipart_threshold=MULTIPART_THRESHOLD,
                                                              multipart_chunksize=PART_SIZE,
                                                              max_concurrency=4))
        return size

    def get(self, hash: str, dest: str) -> int:
        from botocore.exceptions import ClientError
        with self._errors("fetch from"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self.key(hash))
            except ClientError as err:
                if str(err.response.get("Error", {}).get("Code", "")) in _MISSING_CODES:
                    raise ExpError(f"object {hash} is not in the data remote '{self.url}'") from None
                raise
            body = response["Body"]
            try:
                return write_verified(body.iter_chunks(CHUNK_SIZE), dest, hash,
                                      source=f"{self.url}/{self.key(hash)[len(self._base):]}",
                                      replace=True, stop=self.stop, progress=self.report_bytes)
            finally:
                body.close()

    def list(self) -> Iterator[str]:
        with self._errors("list"):
            yield from self._list_keys(self._base)

    def probe(self) -> None:
        with self._errors("contact"):
            self.client.head_bucket(Bucket=self.bucket)

    def clean_temp(self, max_age: float = STALE_TEMP_SECONDS) -> int:
        """Abort multipart uploads an interrupted push left (S3 keeps and bills their parts)."""
        import datetime
        cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=max_age)
        aborted = 0
        with self._errors("clean"):
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._base):
                for upload in page.get("Uploads", ()):
                    if upload["Initiated"] < cutoff:
                        self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                           UploadId=upload["UploadId"])
                        aborted += 1
        return aborted


def _sha256_of(path: str, stop: threading.Event) -> tuple[hashlib._Hash, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            if stop.is_set():
                raise TransferCancelled()
            block = f.read(CHUNK_SIZE)
            if not block:
                return digest, size
            digest.update(block)
            size += len(block)
