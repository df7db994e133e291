"""The Git LFS Batch API and its `basic` transfer, over the standard library's HTTP.

One Session per endpoint, shared by the transfer threads:

  batch(operation, [(oid, size)])  POST <href>/objects/batch -> the server's entry per oid
  download(action, dest, hash)     GET the action's href, hashed on arrival (write_verified)
  upload(action, body, size)      PUT the bytes, hashed as they leave: the last block is
                                   held back until the whole object matched its name
  verify(action, oid, size)        POST the verify action after an upload

Every request retries on 429 and 5xx (honouring Retry-After) and on network
errors, with exponential backoff. An API request answered 401 is repeated
once with credentials from `git credential fill`; credentials the server
refuses are `git credential reject`ed and the error names where they came
from. Headers are never carried along by a redirect to another host.

Requests go through connections.py: kept-alive connections per thread and
host, or urllib when a proxy from the environment applies.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import ssl
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator
from urllib.parse import urlsplit

from git_exp import __version__
from git_exp.data.hashing import CHUNK_SIZE
from git_exp.errors import ExpError
from git_exp.remotes.base import ObjectMismatch, TransferCancelled, write_verified
from git_exp.remotes.lfs import connections
from git_exp.remotes.lfs.credentials import GitCredentials, expiry, ssh_authenticate
from git_exp.remotes.lfs.endpoint import Endpoint, strip_userinfo

if TYPE_CHECKING:
    from git_exp.config import Config

MEDIA_TYPE = "application/vnd.git-lfs+json"
BATCH_SIZE = 100          # objects per batch request, git-lfs's own default
MAX_TRIES = 5
TIMEOUT = 60              # seconds without a byte before a request is abandoned
_EARLY = 10               # seconds: an action closer than this to expiring is asked for again
_RETRY_STATUS = {429, 500, 502, 503, 504}
_MAX_ANSWER = 64 << 20    # bytes of a batch answer we are willing to parse
_MAX_WAIT = 120           # seconds: the longest Retry-After we honour
_USER_AGENT = f"git-exp/{__version__}"


@dataclass
class Action:
    href: str
    header: dict
    expires: float | None = None

    def fresh(self) -> bool:
        return self.expires is None or self.expires - _EARLY > time.time()

    @classmethod
    def parse(cls, raw: object) -> "Action | None":
        if not isinstance(raw, dict) or not isinstance(raw.get("href"), str):
            return None
        if not raw["href"].lower().startswith(("https://", "http://")):
            # urllib would also open file:// and ftp:// hrefs: a server must not reach those.
            raise ExpError(f"the LFS server answered an action whose URL is not http(s): "
                           f"'{raw['href'].split(':', 1)[0]}:...'")
        header = raw.get("header") or {}
        if not isinstance(header, dict):
            header = {}
        return cls(raw["href"], {str(k): str(v) for k, v in header.items()}, expiry(raw))


class ActionRefused(ExpError):
    """An action's href answered 401/403: its token most likely expired; ask the batch API again."""


class Session:
    def __init__(self, endpoint: Endpoint, root: str, config: Config,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoint = endpoint
        self.label = strip_userinfo(endpoint.href)
        self.config = config
        self.credentials = GitCredentials(endpoint.href, root)
        self._sleep = sleep
        self._ssh: dict[str, dict] = {}
        self._ssh_error: str | None = None
        self._lock = threading.Lock()
        # Git's own TLS settings, so a host with a private CA works as it does for git push.
        no_verify = os.environ.get("GIT_SSL_NO_VERIFY") or not config.get_bool("http.sslVerify", True)
        self._tls = connections.ssl_context(
            os.environ.get("GIT_SSL_CAINFO") or config.get("http.sslCAInfo"), not no_verify)
        self._extra = _extra_header(root, endpoint.href)

    # -- the batch API ------------------------------------------------------

    def _api(self, operation: str) -> tuple[str, dict]:
        """The href and headers for API requests: git-lfs-authenticate's answer for SSH remotes."""
        target = self.endpoint.ssh
        if target is None:
            return self.endpoint.href, {}
        with self._lock:
            answer = self._ssh.get(operation)
            if answer is None or (answer["expires"] and answer["expires"] - _EARLY < time.time()):
                try:
                    answer = ssh_authenticate(target, operation, self.config)
                except ExpError as err:
                    # As git-lfs does: carry on over https with the credential helper.
                    self._ssh_error = err.message
                    answer = {"href": None, "header": {}, "expires": None}
                self._ssh[operation] = answer
        return answer["href"] or self.endpoint.href, dict(answer["header"])

    def batch(self, operation: str, objects: list[tuple[str, int]]) -> dict[str, dict]:
        """oid -> the server's entry ({"actions": ...} or {"error": ...}) for each of OBJECTS.

        A download batch the server answers 404 or 422 as a whole (giftless does
        when none of the objects exists, or none has the size asked) means none
        of them can be downloaded: every entry is then an error.
        """
        href, headers = self._api(operation)
        body = json.dumps({"operation": operation, "transfers": ["basic"], "hash_algo": "sha256",
                           "objects": [{"oid": oid, "size": size} for oid, size in objects]
                           }).encode()
        headers.update({"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE})
        accept = (404, 422) if operation == "download" else ()
        resp = self._open("POST", href.rstrip("/") + "/objects/batch", lambda: body, headers,
                          api=True, what=f"{operation} batch", accept=accept)
        with resp:
            status = _status(resp)
            data = resp.read(_MAX_ANSWER + 1)
        if status in accept:
            message = _message(data) or "not found"
            return {oid: {"error": {"code": status, "message": message}} for oid, _ in objects}
        try:
            answer = json.loads(data.decode("utf-8")) if len(data) <= _MAX_ANSWER else None
        except (UnicodeDecodeError, ValueError):
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("objects"), list):
            raise ExpError(f"the LFS store {self.label} answered the {operation} batch with "
                           "something that is not a batch response")
        transfer = answer.get("transfer") or "basic"
        if transfer != "basic":
            raise ExpError(f"the LFS store {self.label} chose the '{transfer}' transfer; "
                           "git-exp speaks only 'basic'")
        entries = {}
        for entry in answer["objects"]:
            if isinstance(entry, dict) and isinstance(entry.get("oid"), str):
                entries[entry["oid"]] = entry
        return entries

    # -- transfers ------------------------------------------------------------

    def download(self, action: Action, dest: str, hash: str, size: int,
                 stop: threading.Event) -> int:
        """The object at ACTION into DEST, hashed on arrival; network errors are retried."""
        for attempt in range(1, MAX_TRIES + 1):
            resp = self._open("GET", action.href, None, action.header, api=False,
                              what=f"download of {hash[:12]}")
            try:
                with resp:
                    return write_verified(self._blocks(resp, size, hash), dest, hash,
                                          source=f"LFS store {self.label}", replace=True,
                                          stop=stop)
            except (OSError, http.client.HTTPException) as err:
                if attempt == MAX_TRIES:
                    raise ExpError(f"download of object {hash} from the LFS store {self.label} "
                                   f"failed after {attempt} tries: {_reason(err)}") from None
                self._sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    def _blocks(self, resp: connections.Response, size: int, hash: str) -> Iterator[bytes]:
        """The response body in blocks; never more than SIZE bytes (a server cannot fill the disk)."""
        left = size
        while True:
            block = resp.read(min(CHUNK_SIZE, left + 1))
            if not block:
                return
            left -= len(block)
            if left < 0:
                raise ExpError(f"the LFS store {self.label} sent more than the {size} bytes of "
                               f"object {hash}: refusing it")
            yield block

    def upload(self, action: Action, open_body: connections.Body, size: int, what: str) -> None:
        """PUT the bytes open_body() reads (called again for each try) to ACTION's href."""
        headers = {"Content-Type": "application/octet-stream", **action.header,
                   "Content-Length": str(size)}
        resp = self._open("PUT", action.href, open_body, headers, api=False, what=what)
        resp.close()

    def verify(self, action: Action, oid: str, size: int) -> None:
        body = json.dumps({"oid": oid, "size": size}).encode()
        headers = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE, **action.header}
        resp = self._open("POST", action.href, lambda: body, headers, api=False,
                          what=f"verify of {oid[:12]}")
        resp.close()

    # -- one request, with retries and authentication --------------------------

    def _open(self, method: str, url: str, body: connections.Body, headers: dict[str, str], api: bool,
              what: str, accept: tuple[int, ...] = ()) -> connections.Response:
        """An open response with a status below 400 (or in ACCEPT); ExpError otherwise."""
        attempt = 0
        while True:
            attempt += 1
            sent = {"User-Agent": _USER_AGENT, **headers}
            if api:
                sent.update(self._extra)
            used = self.credentials.header() if api else None  # None until filled
            if used:
                sent["Authorization"] = used
            elif not api and self._lends_credentials(url, headers):
                # As git-lfs does: an action on the API's own host that names no
                # authorization of its own gets the credentials the API took (never
                # asked for, or rejected, here: a 401 may mean an expired action).
                lent = self.credentials.header()
                if lent is not None:   # None: another thread rejected them since (its 401)
                    sent["Authorization"] = lent
            try:
                resp = connections.request(method, _without_userinfo(url), body, sent, TIMEOUT,
                                           self._tls)
            except ssl.SSLCertVerificationError as err:
                raise ExpError(f"cannot reach the LFS store {self.label}: its TLS certificate "
                               f"cannot be trusted ({err.verify_message})",
                               hint="if the host uses a private certificate authority, point Git at "
                                    "it as for git push: git config http.sslCAInfo /path/ca.pem"
                               ) from None
            except (OSError, http.client.HTTPException) as err:
                if api and self._ssh_error:
                    # A plain SSH server: no git-lfs-authenticate, and no https beside it.
                    raise ExpError(f"no Git LFS store answers for this SSH remote: "
                                   f"{self._ssh_error}, and {self.label} cannot be reached "
                                   f"({_reason(err)})",
                                   hint="an SSH server without Git LFS needs a data remote of its "
                                        "own: git config remote.<name>.expdata <location>"
                                   ) from None
                if attempt < MAX_TRIES:
                    self._sleep(_backoff(attempt))
                    continue
                raise ExpError(f"cannot reach the LFS store {self.label} ({what}): {_reason(err)}; "
                               f"gave up after {attempt} tries",
                               hint="check the network and the server, then run the command "
                                    "again: it sends only what is still missing") from None
            status = _status(resp)
            if status < 400 or status in accept:
                if used:
                    self.credentials.approve()
                return resp
            with resp:
                message = _message(resp.read(1 << 16))
            if api and status == 401:
                if not used:  # sent without credentials (another thread may have them by now)
                    self.credentials.fill()
                    attempt -= 1  # asking for credentials is not a failed try
                    continue
                source = self.credentials.source()
                if self._ssh_error:
                    source = f"ssh git-lfs-authenticate ({self._ssh_error}), then {source}"
                self.credentials.reject()
                raise ExpError(f"the LFS store {self.label} refused the credentials from {source}"
                               f" (401{': ' + message if message else ''})",
                               hint=self.credentials.hint())
            if not api and status in (401, 403):
                raise ActionRefused(f"the LFS store {self.label} refused the {what} ({status}"
                                    f"{': ' + message if message else ''})")
            if status in _RETRY_STATUS and attempt < MAX_TRIES:
                wait = _retry_after(resp)
                self._sleep(_backoff(attempt) if wait is None else wait)
                continue
            raise self._error(status, message, what, attempt)

    def _lends_credentials(self, url: str, headers: dict) -> bool:
        if not self.credentials.filled or any(k.lower() == "authorization" for k in headers):
            return False
        host = lambda u: urlsplit(u).netloc.rpartition("@")[2].lower()  # noqa: E731
        return urlsplit(url).scheme == urlsplit(self.label).scheme and host(url) == host(self.label)

    def _error(self, status: int, message: str, what: str, tries: int) -> ExpError:
        text = f"the LFS store {self.label} answered the {what} with {status}" + (
            f": {message}" if message else "")
        if status == 403:
            return ExpError(text, hint="your credentials may allow reading only; "
                                       "ask for write access to the repository")
        if status == 404:
            return ExpError(text, hint=f"check the LFS URL; it is {self.endpoint.source}")
        if status in _RETRY_STATUS:
            return ExpError(text + f" (after {tries} tries)",
                            hint="the server is failing or limiting requests; run the command "
                                 "again later: it sends only what is still missing")
        return ExpError(text)




class VerifyingReader:
    """The file at PATH for an upload body, checked against HASH as it is read.

    http.client asks for 8 KiB at a time; whole CHUNK_SIZE blocks are handed
    out instead (it sends whatever read() returns), or a 256 MiB object costs
    thirty thousand Python calls. The last block is returned only after the
    hash matched, so a server never receives a whole wrong object.
    """

    def __init__(self, path: str, hash: str, size: int, stop: threading.Event):
        self._file = open(path, "rb", buffering=0)
        self._path, self._hash, self._left, self._stop = path, hash, size, stop
        self._digest = hashlib.sha256()
        if size == 0:
            self._check()

    def read(self, _n: int = -1) -> bytes:
        if self._stop.is_set():
            self._file.close()
            raise TransferCancelled()
        if self._left <= 0:
            self._file.close()
            return b""
        block = self._file.read(min(CHUNK_SIZE, self._left))
        if not block:
            self._file.close()
            raise ExpError(f"'{self._path}' shrank while it was being sent")
        self._digest.update(block)
        self._left -= len(block)
        if self._left == 0:
            self._check()
        return block

    def _check(self) -> None:
        actual = self._digest.hexdigest()
        if actual != self._hash[:64]:
            self._file.close()
            raise ObjectMismatch(self._hash, actual, self._path)




def _extra_header(root: str, url: str) -> dict:
    """http.<url>.extraHeader, as Git sends it (CI systems put their tokens there)."""
    from git_exp.git import git
    proc = git(["config", "--get-urlmatch", "http.extraheader", url], cwd=root, check=False)
    name, colon, value = proc.stdout.decode("utf-8", "replace").strip().partition(":")
    return {name.strip(): value.strip()} if colon and name.strip() else {}


def _status(resp: connections.Response) -> int:
    return resp.status


def _without_userinfo(url: str) -> str:
    # user:password@ in a URL is for git credential; urllib would send it as part of the host.
    return strip_userinfo(url)


def _message(data: bytes) -> str:
    """The server's own words: the JSON "message" of an LFS error, else the first text line."""
    try:
        found = json.loads(data.decode("utf-8"))
        if isinstance(found, dict) and isinstance(found.get("message"), str):
            return found["message"][:300]
    except (UnicodeDecodeError, ValueError):
        pass
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:300] if text and not text.startswith("<") else ""


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None) or err
    return getattr(reason, "strerror", None) or str(reason) or type(err).__name__


def _backoff(attempt: int) -> float:
    return min(0.25 * 2 ** attempt, 8.0) * (0.5 + random.random() / 2)


def _retry_after(resp: connections.Response) -> float | None:
    value = (resp.headers.get("Retry-After") or "").strip() if resp.headers else ""
    if not value:
        return None
    if value.isdigit():
        return min(float(value), _MAX_WAIT)
    from email.utils import parsedate_to_datetime
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when - time.time(), _MAX_WAIT))

