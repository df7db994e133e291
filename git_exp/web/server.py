"""The HTTP server of `git exp ui`: routing, JSON in and out, the static page.

The standard library's threading HTTP server is all a single-user local app
needs (measured: a table of 10,000 rows is served in the time `show --json`
takes to build it); a web framework would add weight and nothing we use.
Reads run concurrently, each with its own git processes; actions run one at
a time. Answers are cached by the change key (changes.py), so a page that
polls while nothing happens costs two git calls and a few stats.
"""
from __future__ import annotations

import errno
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from git_exp.errors import ExpError
from git_exp.repo import Repository
from git_exp.web import actions, changes, reads, security

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from email.message import Message
    from typing import Any, Callable, TypeVar

    T = TypeVar("T")

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8",
                "index.html": "text/html; charset=utf-8"}
MAX_BODY = 64 * 1024
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'")
# The plots page is the offline page of `git exp plots`: its script and styles are inline.
PLOTS_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                "img-src data:; base-uri 'none'; form-action 'none'")


class Reply:
    def __init__(self, status: int, body: bytes, content_type: str = "application/json",
                 policy: str | None = None) -> None:
        self.status, self.body, self.content_type, self.policy = status, body, content_type, policy


def _json(status: int, data: object) -> Reply:
    return Reply(status, json.dumps(data, ensure_ascii=False, default=str).encode("utf-8"))


def _number(text: str) -> int | None:
    """A count a client sent (an offset, a Content-Length): ASCII digits, else None.
    (str.isdigit() takes '²', which int() refuses, and int() refuses 5,000 digits.)"""
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= 18 else 10 ** 18   # more than any log or body


def _error(status: int, message: str, hint: str | None = None) -> Reply:
    return _json(status, {"error": message, "hint": hint})


class App:
    """Everything but HTTP framing, so it reads (and is tested) as routes."""

    def __init__(self, repo: Repository, host: str, port: int, read_only: bool = False,
                 token: str | None = None) -> None:
        self.repo = repo
        self.read_only = read_only
        self.token = token or security.new_token()
        self.hosts = security.allowed_hosts(host, port)
        self.action_lock = threading.Lock()
        self._cache: dict = {}
        self._cache_lock = threading.Lock()
        self._computing: dict = {}
        self.watched: list[str] = []

    # -- entry ---------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Message, body: bytes) -> Reply:
        if not security.host_ok(headers.get("Host"), self.hosts):
            return _error(421, "this server answers only to the address it printed")
        url = urlsplit(target)
        query = parse_qs(url.query)
        path = url.path
        if method == "GET" and path == "/favicon.ico":
            return Reply(204, b"", "image/x-icon")
        if method == "GET" and (path == "/" or path.startswith("/static/")):
            return self._static("index.html" if path == "/" else path[len("/static/"):])
        given = headers.get(security.TOKEN_HEADER) or (query.get("token") or [""])[0]
        if not security.token_ok(given, self.token):
            return _error(403, "missing or wrong token", "open the URL that 'git exp ui' printed")
        try:
            if method == "GET":
                return self._get(path, query)
            if method == "POST" and path.startswith("/api/action/"):
                return self._post(path[len("/api/action/"):], headers, body)
        except ExpError as err:
            return _error(400, err.message, err.hint)
        return _error(404, f"no such page: {path}")

    def _static(self, name: str) -> Reply:
        if name not in STATIC_FILES:
            return _error(404, f"no such file: {name}")
        with open(os.path.join(STATIC_DIR, name), "rb") as fh:
            return Reply(200, fh.read(), STATIC_FILES[name], PAGE_POLICY)

    # -- reads ---------------------------------------------------------------------

    def _get(self, path: str, query: dict[str, list[str]]) -> Reply:
        one = lambda key, default=None: (query.get(key) or [default])[0]  # noqa: E731
        if path == "/api/state":
            return _json(200, {"key": self.key(), "read_only": self.read_only})
        if path == "/api/experiments":
            return Reply(200, self.experiments(one("all") == "1", one("where") or ""))
        if path == "/api/experiment":
            return _json(200, self._cached(("experiment", one("rev")),
                                           lambda: reads.experiment(self.repo, one("rev") or "workspace")))
        if path == "/api/compare":
            revs = query.get("rev") or []
            return _json(200, self._cached(("compare", tuple(revs)), lambda: reads.compare(self.repo, revs)))
        if path == "/api/queue":
            return _json(200, self._cached(("queue",), lambda: reads.queue(self.repo)))
        if path == "/api/queue-log":
            return _json(200, reads.queue_log(self.repo, one("id") or "", _number(one("offset", "0")) or 0))
        if path == "/plots":
            html = self._cached(("plots", tuple(query.get("rev") or [])),
                                lambda: reads.plots_page(self.repo, query.get("rev") or []))
            return Reply(200, html.encode("utf-8"), "text/html; charset=utf-8", PLOTS_POLICY)
        return _error(404, f"no such page: {path}")

    def experiments(self, all_commits: bool = False, where: str = "") -> bytes:
        """The table as JSON bytes: serialising 10,000 rows costs more than the poll, so the
        bytes are what is cached."""
        def compute() -> bytes:
            data = reads.experiments(self.repo, all_commits, where)
            self.watched = sorted({c["file"] for c in data["columns"]})
            return json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
        return self._cached(("experiments", all_commits, where), compute)

    def warm_up(self) -> None:
        """Read the default table before the browser asks, so its first paint does not wait."""
        try:
            self.experiments()
        except Exception:  # noqa: BLE001 - the page will ask again and show the error
            pass

    def key(self) -> str:
        return changes.state_key(self.repo, self.watched)

    def _cached(self, what: tuple, compute: Callable[[], T]) -> T:
        """COMPUTE's answer, reused while the change key stays the same; two requests for
        the same thing at once compute it once (the second waits for the first)."""
        with self._cache_lock:
            busy = self._computing.setdefault(what, threading.Lock())
        with busy:
            key = self.key()
            with self._cache_lock:
                hit = self._cache.get(what)
                if hit and hit[0] == key:
                    return hit[1]
            value = compute()
            with self._cache_lock:
                if len(self._cache) > 256:
                    self._cache.clear()
                    self._computing = {what: busy}
                self._cache[what] = (key, value)
            return value

    # -- actions ---------------------------------------------------------------------

    def _post(self, name: str, headers: Message, body: bytes) -> Reply:
        if self.read_only:
            return _error(403, "this server is read-only (git exp ui --read-only)")
        if not security.origin_ok(headers.get("Origin"), self.hosts):
            return _error(403, "a change must come from the page this server serves")
        if not (headers.get("Content-Type") or "").startswith("application/json"):
            return _error(415, "actions take a JSON body")
        action = actions.ACTIONS.get(name)
        if action is None:
            return _error(404, f"no such action: {name}")
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(data, dict):
            return _error(400, "the body must be a JSON object")
        with self.action_lock:
            result = action(self.repo, data)
        with self._cache_lock:
            self._cache.clear()
        return _json(200, result)


def _log_bug(repo: Repository) -> str:
    import traceback

    from git_exp import crashlog
    path, _ = crashlog.write(traceback.format_exc(), repo.exp_dir, prefix="crash-ui")
    return path or "no log (nothing writable)"


class PortUnavailable(ExpError):
    """The port is taken (or needs privileges): another one may do, the address is fine."""


class UiServer(ThreadingHTTPServer):
    """The server make_server binds: its App holds the repository and the token."""
    daemon_threads = True
    app: App


def make_server(repo: Repository, host: str = "127.0.0.1", port: int = 0,
                read_only: bool = False) -> UiServer:
    """A bound server (port 0: any free one) whose `app` holds the token; serve_forever() runs it."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "git-exp-ui"

        def _answer(self, method: str) -> None:
            length = _number(self.headers.get("Content-Length") or "0")
            if length is None or length > MAX_BODY:
                # The body is left unread: the connection cannot carry another request.
                self.close_connection = True
                reply = (_error(400, "Content-Length is not a number of bytes") if length is None
                         else _error(413, "request too large"))
            else:
                body = self.rfile.read(length) if length else b""
                try:
                    reply = httpd.app.handle(method, self.path, self.headers, body)
                except Exception:  # noqa: BLE001 - a bug: logged as the CLI logs one, the page told
                    reply = _error(500, f"internal error in git-exp (a bug); the traceback is in "
                                        f"{_log_bug(httpd.app.repo)}")
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")   # the token is in the URL
            self.send_header("X-Frame-Options", "SAMEORIGIN")
            if reply.policy:
                self.send_header("Content-Security-Policy", reply.policy)
            self.end_headers()
            self.wfile.write(reply.body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's names
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

        # Any: the arguments are http.server's, as its own signature declares them.
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: the terminal is the user's
            pass

    class Server(UiServer):
        address_family = __import__("socket").AF_INET6 if ":" in host else __import__("socket").AF_INET

    try:
        httpd = Server((host, port), Handler)
    except OSError as err:
        if err.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortUnavailable(f"cannot listen on {host}:{port}: {err.strerror}",
                                  hint="pick another port with --port N (0 for any free one)") from None
        # Not the port: the address (a name that does not resolve, one this machine lacks).
        raise ExpError(f"cannot listen on {host}: {err.strerror}",
                       hint="give --host an address of this machine: 127.0.0.1 (the default), "
                            "::1, or 0.0.0.0 for every interface") from None
    httpd.app = App(repo, host, httpd.server_address[1], read_only)
    threading.Thread(target=httpd.app.warm_up, daemon=True).start()
    return httpd


def url_of(httpd: UiServer, host: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{httpd.server_address[1]}/?token={httpd.app.token}"
