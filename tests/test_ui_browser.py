"""`git exp ui` in a real browser: headless Chromium (Debian's) driven by Playwright.

The server is the real `git exp ui` command, started as a user starts it
(`--no-browser --port 0`), on a real repository with real experiments. The
browser loads the table, sorts, filters with --where, compares and plots two
experiments, applies one (the work tree changes), queues a run and watches
its metric arrive while it runs; a request without the token is refused.
Each page is saved as a screenshot (in GIT_EXP_SCREENSHOTS when set).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
try:
    from playwright.sync_api import sync_playwright
except ImportError:   # the test extra installs it
    sync_playwright = None
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's 'chromium')"),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install '.[test]')"),
]

TRAIN = """\
import json, os, sys, time
lr = float(open("params.yaml").read().split("lr:")[1].split()[0])
steps = []
for step in range(4):
    acc = round(1 - lr / (step + 2), 4)
    steps.append(f"{step}\\t{acc}")
    with open("metrics.tmp", "w") as fh:
        json.dump({"acc": acc, "step": step}, fh)
    os.replace("metrics.tmp", "metrics.json")
    open("acc.tsv", "w").write("step\\tacc\\n" + "\\n".join(steps) + "\\n")
    barrier = os.environ.get("UI_TEST_BARRIER")
    while barrier and step == 1 and not os.path.exists(barrier):
        time.sleep(0.05)
"""


@pytest.fixture
def repo(committed, tmp_path):
    committed.gen({
        "train.py": TRAIN,
        "params.yaml": "train:\n  lr: 0.1\n",
        "exp.yaml": f"stages:\n  train:\n    cmd: {sys.executable} train.py\n    deps: [train.py]\n"
                    "    params: [train.lr]\n    metrics: [metrics.json]\n"
                    "    plots:\n      - acc.tsv: {x: step, y: acc}\n",
        ".gitignore": "metrics.tmp\n",
    })
    committed.commit("pipeline")
    for lr, name in (("0.2", "low"), ("0.5", "mid"), ("0.8", "high")):
        committed.exp("run", "-S", f"train.lr={lr}", "-n", name)
    committed.git("checkout", "-q", "--", ".")
    return committed


class Ui:
    def __init__(self, project, *args: str, env: dict | None = None):
        self.proc = subprocess.Popen(["git", "exp", "ui", "--no-browser", "--port", "0", *args],
                                     cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=dict(os.environ, **(env or {})))
        line = self.proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:(\d+))/\?token=(\S+)", line)
        assert match, line + self.proc.stderr.read()
        self.url, self.base, self.port, self.token = match[0], match[1], int(match[2]), match[3]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def shot(page, name: str, tmp_path) -> None:
    path = tmp_path / f"ui-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("GIT_EXP_SCREENSHOTS")
    if target:
        os.makedirs(target, exist_ok=True)
        shutil.copy(path, os.path.join(target, path.name))


def names_in_table(page) -> list[str]:
    return page.eval_on_selector_all("#table tbody tr", "rows => rows.map(r => r.dataset.id)")


def open_page(browser, ui):
    # The page's CSP forbids eval, which Playwright's wait_for_function uses to probe it.
    page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    page.goto(ui.url)
    page.wait_for_selector("#table tbody tr[data-id=high]")
    return page, errors


def test_table_sort_where_compare_plots_and_apply(repo, browser, tmp_path):
    ui = Ui(repo)
    try:
        page, errors = open_page(browser, ui)
        assert names_in_table(page)[0] == "workspace"
        assert {"low", "mid", "high"} <= set(names_in_table(page))
        shot(page, "experiments", tmp_path)

        # Sort by the metric, both ways: experiments reorder within their baseline.
        page.click("#table thead th[title='metrics: metrics.json:acc']")
        assert names_in_table(page)[-3:] == ["high", "mid", "low"]
        page.click("#table thead th[title='metrics: metrics.json:acc']")
        assert names_in_table(page)[-3:] == ["low", "mid", "high"]

        # --where on the server; an error is shown in place, with its caret.
        page.fill("#where", "acc > 0.85")   # low 0.96, mid 0.9, high 0.84
        page.press("#where", "Enter")
        page.wait_for_function("!document.querySelector('#table tr[data-id=high]')")
        assert {"low", "mid"} <= set(names_in_table(page)) and "high" not in names_in_table(page)
        page.fill("#where", "acc >> 1")
        page.press("#where", "Enter")
        page.wait_for_selector("#where-error:not([hidden])")
        assert "bad --where expression" in page.inner_text("#where-error")
        page.fill("#where", "")
        page.press("#where", "Enter")
        page.wait_for_selector("#table tr[data-id=high]")

        # Two experiments: compare (deltas, changed files, diff) and plots.
        page.check("tr[data-id=low] input")
        page.check("tr[data-id=high] input")
        page.click("#compare-selected")
        page.wait_for_selector("#compare-table tbody tr")
        table = page.inner_text("#compare-table")
        assert "0.2" in table and "0.8" in table and "(+0.6)" in table
        assert "params.yaml" in page.inner_text("#compare-files")
        assert "-  lr: 0.2" in page.inner_text("#compare-diffs")
        shot(page, "compare", tmp_path)
        page.click("button[data-page=plots]")
        frame = page.frame_locator("#plots-frame")
        frame.locator("path.s").first.wait_for()
        assert frame.locator("path.s").count() >= 2
        shot(page, "plots", tmp_path)

        # One experiment's own page, with its log.
        page.click("button[data-page=experiments]")
        page.click("tr[data-id=mid] td.name a")
        page.wait_for_selector("#exp-title:has-text('mid')")
        assert "train.lr" in page.inner_text("#exp-params") and "acc" in page.inner_text("#exp-metrics")
        shot(page, "experiment", tmp_path)

        # Apply: the work tree changes, a backup is named.
        page.click("button[data-page=experiments]")
        page.uncheck("tr[data-id=low] input")
        page.click("#apply-selected")
        page.wait_for_selector("#toast:has-text('Applied')")
        assert "git exp apply refs/exp-backups/" in page.inner_text("#toast")
        assert "lr: 0.8" in repo.read("params.yaml")
        assert errors == []
    finally:
        ui.stop()
    repo.fsck()


def test_a_queued_run_shows_its_metric_while_it_runs(repo, browser, tmp_path):
    barrier = tmp_path / "go"
    ui = Ui(repo, env={"UI_TEST_BARRIER": str(barrier)})
    try:
        page, errors = open_page(browser, ui)
        page.fill("#queue-set", "train.lr=0.3")
        page.fill("#queue-jobs", "1")
        page.click("#queue-run")
        page.wait_for_selector("#toast:has-text('Queued 1')")
        # The run holds at step 1 until the barrier: its row shows that step, live.
        page.wait_for_function(
            "[...document.querySelectorAll('#table tbody tr')].some(r => "
            "r.textContent.includes('running') && [...r.cells].some(c => c.textContent === '0.9'))",
            timeout=30000)
        shot(page, "running", tmp_path)
        page.click("button[data-page=queue]")
        page.wait_for_selector("#queue-table tbody tr")
        assert "running" in page.inner_text("#queue-table")
        barrier.write_text("go")
        page.click("button[data-page=experiments]")
        page.wait_for_function(
            "[...document.querySelectorAll('#table tbody tr')].some(r => "
            "r.textContent.includes('success') && [...r.cells].some(c => c.textContent === '0.94'))",
            timeout=60000)
        assert errors == []
    finally:
        barrier.write_text("go")
        ui.stop()


def _request(url: str, *, token: str | None = None, host: str | None = None, body: dict | None = None,
             origin: str | None = None) -> tuple[int, dict]:
    headers = {}
    if token:
        headers["X-Exp-Token"] = token
    if host:
        headers["Host"] = host
    if origin:
        headers["Origin"] = origin
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as res:
            return res.status, json.loads(res.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_requests_without_the_token_host_or_origin_are_refused(repo):
    ui = Ui(repo)
    try:
        api = f"{ui.base}/api/experiments"
        assert _request(api)[0] == 403
        assert _request(api, token="wrong")[0] == 403
        status, data = _request(api, token=ui.token)
        assert status == 200 and {r["name"] for r in data["rows"]} >= {"low", "mid", "high"}
        # DNS rebinding: the right token under another name is still refused.
        assert _request(api, token=ui.token, host=f"evil.example:{ui.port}")[0] == 421
        # A change needs the token, our Origin and a JSON body.
        remove = f"{ui.base}/api/action/remove"
        assert _request(remove, token=ui.token, body={"revs": ["low"]})[0] == 403
        assert _request(remove, token=ui.token, body={"revs": ["low"]}, origin="http://evil.example")[0] == 403
        assert "low" in repo.git("for-each-ref", "refs/exps/")
        status, data = _request(remove, token=ui.token, body={"revs": ["low"]}, origin=ui.base)
        assert status == 200 and "low" not in repo.git("for-each-ref", "refs/exps/")
        # User mistakes come back as the command's error, never a traceback.
        status, data = _request(f"{ui.base}/api/action/apply", token=ui.token, body={"rev": "nope"},
                                origin=ui.base)
        assert status == 400 and "nope" in data["error"]
    finally:
        ui.stop()


def test_a_queue_log_offset_that_is_no_ascii_number_is_no_internal_error(repo):
    # str.isdigit() takes '²' and int() refuses it; int() refuses 5,000 digits too:
    # both were a 500 with a crash log. Now they are offsets like any other (here the
    # unknown entry is what the answer is about).
    ui = Ui(repo)
    try:
        for offset in ("%C2%B2", "1" + "0" * 5000):
            status, data = _request(f"{ui.base}/api/queue-log?id=nope&offset={offset}", token=ui.token)
            assert status == 400 and "internal error" not in data["error"], (offset, data)
        logs = repo.path / ".git" / "exp" / "logs"
        assert not (logs.is_dir() and [n for n in os.listdir(logs) if n.startswith("crash-ui")])
    finally:
        ui.stop()


def test_a_bad_content_length_is_a_400_not_a_traceback(repo):
    # int() of the header ran outside any handler: 'x' or '²' printed a traceback on
    # the user's terminal and dropped the connection; '-1' read until the client
    # hung up; int() refused 5,000 digits too. Each is refused now (400, or 413 for a
    # number too large), and the connection closed.
    import socket
    ui = Ui(repo)
    try:
        for length, status in (("x", 400), ("\u00b2", 400), ("-1", 400), ("1" + "0" * 5000, 413)):
            with socket.create_connection(("127.0.0.1", ui.port), timeout=10) as sock:
                sock.sendall(f"POST /api/action/remove HTTP/1.1\r\nHost: 127.0.0.1:{ui.port}\r\n"
                             f"Content-Length: {length}\r\n\r\n".encode())
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            assert answer.startswith(f"HTTP/1.1 {status} ".encode()), (length[:20], answer[:200])
    finally:
        ui.stop()
    assert "Traceback" not in ui.proc.stderr.read()


def test_read_only_hides_actions_and_refuses_them(repo, browser):
    ui = Ui(repo, "--read-only")
    try:
        page, _ = open_page(browser, ui)
        page.wait_for_function("document.body.classList.contains('read-only')")
        assert not page.is_visible("#apply-selected")
        status, _ = _request(f"{ui.base}/api/action/remove", token=ui.token, body={"revs": ["low"]},
                             origin=ui.base)
        assert status == 403 and "low" in repo.git("for-each-ref", "refs/exps/")
    finally:
        ui.stop()


def test_no_other_command_imports_the_web_app(repo):
    code = ("import sys; sys.argv=['git-exp','show']; from git_exp.cli import main; main(); "
            "print(sorted(m for m in sys.modules if m.startswith(('git_exp.web', 'http.server'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(os.path.dirname(os.path.dirname(__file__)))))
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_a_taken_port_is_a_clear_error(repo):
    first = Ui(repo)
    try:
        proc = repo.exp("ui", "--no-browser", "--port", str(first.port), check=False, timeout=20)
        assert proc.returncode == 1 and "cannot listen" in proc.stderr and "hint:" in proc.stderr
    finally:
        first.stop()
    time.sleep(0)
