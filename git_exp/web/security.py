"""Who may talk to the server: the one who started it, from their own browser.

The server binds to loopback by default, but a page on any web site the
user visits can still send requests to 127.0.0.1 (CSRF), and a hostile DNS
name can be re-pointed at 127.0.0.1 to read answers (DNS rebinding). So:

- every API request carries the per-server secret token (printed in the URL
  the user opens; the page sends it back in the X-Exp-Token header), compared
  in constant time: another site's page never learns it;
- the Host header must name this server as the user reached it (a loopback
  name or the address it was bound to, with its port): a rebound name fails;
- a request that changes anything must also come with a matching Origin and a
  JSON body, which a cross-site form cannot send without a preflight we never
  answer.
"""
from __future__ import annotations

import hmac
import secrets

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
TOKEN_HEADER = "X-Exp-Token"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def allowed_hosts(host: str, port: int) -> set[str]:
    """Host header values that name this server."""
    names = set(LOOPBACK_NAMES) if host in ("127.0.0.1", "localhost", "::1") else set()
    names.add(f"[{host}]" if ":" in host else host)
    return {f"{name}:{port}" for name in names}


def token_ok(given: str | None, token: str) -> bool:
    return given is not None and given != "" and hmac.compare_digest(given.encode(), token.encode())


def host_ok(host_header: str | None, hosts: set[str]) -> bool:
    return (host_header or "").lower() in hosts


def origin_ok(origin: str | None, hosts: set[str]) -> bool:
    """A state-changing request must say it comes from our own page."""
    if not origin or not origin.startswith("http://"):
        return False
    return origin[len("http://"):].lower() in hosts


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
