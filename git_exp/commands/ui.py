"""git exp ui: the local web app."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from git_exp.ui.console import Console

DESCRIPTION = """\
Starts a web server on this machine and opens its page in your browser: the
table of experiments (grouped by baseline, every column of 'git exp show',
sort by any column, filter by text or by a --where expression, choose
columns, select rows), their plots (the charts of 'git exp plots diff'), a
comparison of two or more experiments (params and metrics with deltas, the
changed files and their diffs), one experiment's message, params, metrics,
files, plots and run log, and the queue with a live tail of a running
entry's log. While runs progress the page follows within about two seconds.

From the page you can apply, branch, rename and remove experiments, queue
runs with -S values (sweeps too), start and stop queue workers and kill an
entry, through the same code as the commands: apply keeps its backup and its
refusals. Destructive actions ask first; --read-only hides them all.

Security: the server listens on 127.0.0.1 unless --host says otherwise, and
answers only requests that carry the secret token of the URL it prints and
name it by that address (no other web page can use it). Anyone who can reach
the address and knows the URL can act on the repository: with --host on
another interface, a warning says so. Ctrl-C stops the server.
"""

EXAMPLES = ["git exp ui", "git exp ui --no-browser --port 8765", "git exp ui --read-only"]

DEFAULT_PORT = 8765


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("--host", type=_host, default="127.0.0.1",
                        help="the address to listen on (default: 127.0.0.1)")
    from git_exp.commands.argtypes import whole_number_in
    parser.add_argument("--port", type=whole_number_in(0, 65535, "port number"), default=None,
                        help=f"the port (default: {DEFAULT_PORT}, or a free one if it is taken; 0: any free one)")
    parser.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    parser.add_argument("--read-only", action="store_true", help="hide every action that changes anything")


def _host(text: str) -> str:
    """--host: an address; an empty one would listen everywhere under a URL no browser opens."""
    import argparse
    if not text.strip():
        raise argparse.ArgumentTypeError("give an address, such as 127.0.0.1 or 0.0.0.0 for every interface")
    return text.strip()


def run(args: Namespace, console: Console) -> int:
    from git_exp.repo import discover
    from git_exp.web.security import is_loopback
    from git_exp.web.server import PortUnavailable, make_server, url_of
    repo = discover()
    try:
        httpd = make_server(repo, args.host, DEFAULT_PORT if args.port is None else args.port, args.read_only)
    except PortUnavailable:
        if args.port is not None:
            raise
        httpd = make_server(repo, args.host, 0, args.read_only)   # the default port is taken: any free one
    url = url_of(httpd, args.host)
    if not is_loopback(args.host):
        console.warn(f"listening on {args.host}: anyone who can reach it and has the URL "
                     "can change this repository")
    console.out(f"git exp ui is serving {repo.root} at {url}" + (" (read-only)" if args.read_only else ""))
    console.info("Press Ctrl-C to stop.")
    console.stdout.flush()
    if not args.no_browser:
        import webbrowser
        if not webbrowser.open(url):
            console.warn("no web browser found; open the URL above yourself")
    try:
        httpd.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        console.info("Stopped.")
    finally:
        httpd.server_close()
    return 0
