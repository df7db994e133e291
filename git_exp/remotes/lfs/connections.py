"""HTTP requests for the LFS client: kept-alive connections, one per thread and host.

Thousands of small objects mean thousands of requests; against a Git host
over https, opening a connection (TCP and TLS handshakes) for each would
cost more than the bytes. So each transfer thread keeps one connection per
host open (http.client), and a connection the server closed while idle is
reopened once, silently.

When a proxy applies (https_proxy, http_proxy, no_proxy in the environment),
the request goes through urllib instead, which knows how to use them; such
requests open a connection each.

Headers given here are never carried across a redirect to another host:
an action's token stays with the server it was meant for.
"""
from __future__ import annotations

import http.client
import ssl
import threading
import urllib.error
import urllib.request
from urllib.parse import urljoin, urlsplit

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import urllib.response
    from email.message import Message
    from types import TracebackType
    from typing import IO, Callable, Union

    from _typeshed import SupportsRead

    # What a request sends: nothing, bytes, or a callable that opens a fresh readable
    # (or gives the bytes) each time the request is sent (again, on a new connection).
    Body = Union[bytes, Callable[[], Union[SupportsRead[bytes], bytes]], None]
    # A pooled connection's key: the context itself, as an id() could be reused.
    PoolKey = tuple[str, str, Union[ssl.SSLContext, None]]
    Connection = Union[http.client.HTTPConnection, http.client.HTTPSConnection]

_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_REDIRECTS = 5

_local = threading.local()


def ssl_context(ca_file: str | None = None, verify: bool = True) -> ssl.SSLContext:
    """Git's http.sslCAInfo and http.sslVerify, as an SSL context."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _uses_proxy(url: str) -> bool:
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    return parts.scheme in proxies and not urllib.request.proxy_bypass(parts.hostname or "")


class Response:
    """A response whose connection goes back to the pool once its body was read to the end."""

    # An HTTPError (urllib's answer of status >= 400) for _UrllibResponse.
    _raw: http.client.HTTPResponse | urllib.response.addinfourl
    _conn: Connection | None
    status: int
    headers: Message

    def __init__(self, raw: http.client.HTTPResponse, conn: Connection, key: PoolKey) -> None:
        self._raw, self._conn, self._key = raw, conn, key
        self.status = raw.status
        self.headers = raw.headers

    def read(self, n: int = -1) -> bytes:
        return self._raw.read() if n is None or n < 0 else self._raw.read(n)

    def close(self) -> None:
        if self._conn is None:
            return
        raw = self._raw
        assert isinstance(raw, http.client.HTTPResponse)   # only a pooled response has a connection
        if not raw.isclosed():
            # Unread bytes would be taken for the next answer: this connection is done.
            self._raw.close()
            self._conn.close()
            _pool().pop(self._key, None)
        self._conn = None

    def __enter__(self) -> Response:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _UrllibResponse(Response):
    def __init__(self, raw: http.client.HTTPResponse | urllib.error.HTTPError) -> None:
        self._raw, self._conn = raw, None
        # Only http(s) answers come here (_HttpOnly refuses redirects elsewhere): an
        # error status is the HTTPError's code.
        self.status = raw.code if isinstance(raw, urllib.error.HTTPError) else raw.status
        self.headers = raw.headers

    def close(self) -> None:
        self._raw.close()


def _pool() -> dict[PoolKey, Connection]:
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    return pool


def _connection(scheme: str, netloc: str, timeout: float, fresh: bool,
                context: ssl.SSLContext | None) -> tuple[Connection, PoolKey, bool]:
    key = (scheme, netloc, context)  # the context itself: an id() could be reused
    pool = _pool()
    conn = None if fresh else pool.get(key)
    reused = conn is not None
    if conn is None:
        old = pool.pop(key, None)
        if old is not None:
            old.close()
        if scheme == "https":
            conn = http.client.HTTPSConnection(netloc, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(netloc, timeout=timeout)
        pool[key] = conn
    return conn, key, reused


def request(method: str, url: str, body: Body, headers: dict[str, str], timeout: float,
            context: ssl.SSLContext) -> Response:
    """Send one request; a response of any status, redirects followed.

    BODY is None, bytes, or a callable returning a fresh readable (called
    again if the request must be sent again on a new connection). Network
    failures raise OSError or http.client.HTTPException.
    """
    if _uses_proxy(url):
        return _via_urllib(method, url, body, headers, timeout, context)
    for _ in range(_MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise http.client.InvalidURL(f"not an http(s) URL: {parts.scheme}:")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        for fresh in (False, True):
            conn, key, reused = _connection(parts.scheme, parts.netloc, timeout, fresh, context)
            try:
                conn.request(method, target, body=body() if callable(body) else body,
                             headers=headers)
                raw = conn.getresponse()
                break
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                conn.close()
                _pool().pop(key, None)
                if not reused:
                    raise
                # The server closed this idle connection: once more on a new one.
            except BaseException:
                conn.close()  # in an unknown state: never reused
                _pool().pop(key, None)
                raise
        else:
            raise AssertionError("unreachable")
        response = Response(raw, conn, key)
        location = raw.getheader("Location")
        # 307 and 308 keep the method and body; the others turn a request into a GET,
        # which would be a different request altogether, so only GETs follow them.
        if location and (raw.status in (307, 308)
                         or (raw.status in _REDIRECTS and method in ("GET", "HEAD"))):
            response.read()
            response.close()
            new = urljoin(url, location)
            if urlsplit(new).netloc != parts.netloc:
                # Never carry credentials or tokens to another host: only what describes the body.
                headers = {k: v for k, v in headers.items()
                           if k.lower() in ("content-type", "content-length", "accept")}
            url = new
            continue
        return response
    raise http.client.HTTPException(f"more than {_MAX_REDIRECTS} redirects")


class _HttpOnly(urllib.request.HTTPRedirectHandler):
    """urllib follows a redirect to ftp:// too: refused, as request() refuses it without a proxy."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: http.client.HTTPMessage, newurl: str) -> urllib.request.Request | None:
        scheme = urlsplit(newurl).scheme
        if scheme.lower() not in ("http", "https"):
            fp.close()
            raise http.client.InvalidURL(f"not an http(s) URL: {scheme}:")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _via_urllib(method: str, url: str, body: Body, headers: dict[str, str], timeout: float,
                context: ssl.SSLContext) -> Response:
    req = urllib.request.Request(url, data=body() if callable(body) else body, method=method)
    for key, value in headers.items():
        req.add_unredirected_header(key, value)  # left behind by any redirect
    # urlopen(req, context=context)'s opener, but for where redirects may go.
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _HttpOnly())
    try:
        raw = opener.open(req, timeout=timeout)
    except urllib.error.HTTPError as err:
        raw = err
    return _UrllibResponse(raw)
