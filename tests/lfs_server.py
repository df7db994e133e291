"""A real Git LFS server (giftless, from PyPI) on loopback, for the LFS tests and benchmark.

giftless authenticates with JWTs: a user's token is the password of the user
`_jwt` (HTTP Basic), signed with USER_KEY and carrying the scopes it grants.
Its batch answers carry pre-authorized actions signed with a second key.
FlakyMiddleware (configured through giftless's own MIDDLEWARE setting)
makes the real server answer some requests 503 first, for the retry tests.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

USER_KEY = "git-exp-test-user-key-0123456789abcdef"
ACTION_KEY = "git-exp-test-action-key-0123456789abcdef"

CONFIG = """\
LEGACY_ENDPOINTS: false
AUTH_PROVIDERS:
  - factory: giftless.auth.jwt:factory
    options: {{algorithm: HS256, private_key: "{user_key}"}}
PRE_AUTHORIZED_ACTION_PROVIDER:
  factory: giftless.auth.jwt:factory
  options: {{algorithm: HS256, private_key: "{action_key}", key_id: giftless-internal-jwt-key,
            default_lifetime: {lifetime}}}
TRANSFER_ADAPTERS:
  basic:
    factory: giftless.transfer.basic_streaming:factory
    options:
      storage_class: giftless.storage.local_storage:LocalStorage
      storage_options: {{path: "{storage}"}}
      action_lifetime: {lifetime}
MIDDLEWARE: {middleware}
"""

# HTTP/1.1, so connections are kept alive as behind any production front end.
SERVE = """\
import sys
from werkzeug.serving import WSGIRequestHandler, make_server
from giftless.wsgi_entrypoint import app
WSGIRequestHandler.protocol_version = "HTTP/1.1"
tls = tuple(sys.argv[1:3]) or None  # certificate and key files: serve https
server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=tls)
print(server.port, flush=True)
server.serve_forever()
"""


def available() -> bool:
    """giftless and PyJWT are installed (looked up, not imported: Flask takes a second)."""
    from importlib.util import find_spec
    return find_spec("giftless") is not None and find_spec("jwt") is not None


def token(scopes=("obj:org/*", "obj:team/*"), key: str = USER_KEY, lifetime: int = 3600) -> str:
    import jwt
    return jwt.encode({"sub": "alice", "scopes": list(scopes), "exp": int(time.time()) + lifetime},
                      key, algorithm="HS256")


class FlakyMiddleware:
    """WSGI middleware: the first request of each method and path is refused, 503 and 429 in turn."""

    STATUSES = ("503 Service Unavailable", "429 Too Many Requests")

    def __init__(self, app):
        self.app = app
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, environ, start_response):
        key = (environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
        if key not in self.seen:
            self.seen.add(key)
            body = b'{"message": "try again"}'
            status = self.STATUSES[len(self.seen) % 2]
            start_response(status, [("Content-Type", "application/json"),
                                         ("Retry-After", "0"),
                                         ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)


class Giftless:
    def __init__(self, root: Path, lifetime: int = 900, flaky: bool = False, tls: bool = False):
        self.root = root
        self.storage = root / "storage"
        self.storage.mkdir(parents=True, exist_ok=True)
        middleware = "[{class: tests.lfs_server:FlakyMiddleware}]" if flaky else "[]"
        config = root / "giftless.yaml"
        config.write_text(CONFIG.format(user_key=USER_KEY, action_key=ACTION_KEY, lifetime=lifetime,
                                        storage=self.storage, middleware=middleware))
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIFTLESS_")}
        env.update(GIFTLESS_CONFIG_FILE=str(config),
                   PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        self.log = open(root / "server.log", "wb")
        args = []
        if tls:  # a self-signed certificate for 127.0.0.1, its own CA
            self.cert, key = root / "cert.pem", root / "key.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-keyout", str(key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                           capture_output=True)
            args = [str(self.cert), str(key)]
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, *args], cwd=root, env=env,
                                     stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"giftless did not start: {(root / 'server.log').read_text()}")
        self.port = int(line)
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"

    def lfs_url(self, repo: str = "org/repo") -> str:
        return f"{self.base}/{repo}.git/info/lfs"

    def objects(self, repo: str = "org/repo") -> dict[str, bytes]:
        folder = self.storage / repo
        return {f.name: f.read_bytes() for f in folder.rglob("*") if f.is_file()} \
            if folder.exists() else {}

    def log_text(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
