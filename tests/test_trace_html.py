"""The HTML trace report (`fmsh --trace ID --html FILE`) of tasks run against real sshd,
opened in headless Chromium (Debian's, through Playwright) and checked as a user would: one
bar per try, colours, retries, the await, the step tree, the output, and nothing loaded
from the network."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import run_fmsh
from journalbox import journal_rows, lab_env

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
RED = "rgb(224, 49, 49)"  # --exit in report.css
AMBER = "rgb(240, 140, 0)"  # --timeout
GREEN = "rgb(47, 158, 68)"  # --ok


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.fail("Chromium is not installed: run tests/setup (it installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run tests/setup (it installs the [test] extras)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _report(tmp_path: Path, env: dict[str, str]) -> tuple[Path, dict[str, Any]]:
    """The task's report, made as a user makes it (`fmsh --trace ID --html FILE`), and its
    trace document (`--json`) to compare with."""
    (task_id,) = journal_rows(tmp_path, "SELECT id FROM tasks")[0]
    page = tmp_path / "trace.html"
    r = run_fmsh("--trace", str(task_id), "--html", str(page), env=env, cwd=tmp_path)
    assert r.status == 0, r.err
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    r = run_fmsh("--trace", str(task_id), "--json", env=env, cwd=tmp_path)
    assert r.status == 0, r.err
    return page, json.loads(r.out)


class _Opened:
    def __init__(self, page: Any, requests: list[str], dialogs: list[str], errors: list[str]) -> None:
        self.page, self.requests, self.dialogs, self.errors = page, requests, dialogs, errors


def _open(browser: Any, path: Path) -> _Opened:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    opened = _Opened(page, requests, dialogs, errors)
    offline = [url for url in requests if url.split(":", 1)[0] not in ("file", "data", "about")]
    assert offline == [], f"the page asked the network for {offline}"
    return opened


BARS_JS = """() => Array.from(document.querySelectorAll('.tl .bar')).map(b => {
  const box = b.getBoundingClientRect();
  return {step: +b.dataset.step, host: b.dataset.host, try: b.dataset.try, attempt: b.dataset.attempt,
          outcome: b.dataset.outcome, wait: b.dataset.wait || null, failed: b.classList.contains('failed'),
          title: b.title, x: box.x, right: box.right, width: box.width, y: box.y,
          colour: getComputedStyle(b).backgroundColor};
})"""


def _remote_script(tmp_path: Path, lab: Any) -> Path:
    """What each host runs in the retried step: 3s (past the 1s timeout) on host19 and
    host20, exit 1 on host07 each time, exit 1 on host05 the first time only."""
    address = {name: lab.addresses[name][0] for name in ("host05", "host07", "host19", "host20")}
    flag = tmp_path / "host05-tried"
    script = tmp_path / "remote.sh"
    script.write_text(
        f'case " $SSH_CONNECTION " in\n'
        f'  *" {address["host19"]} "*|*" {address["host20"]} "*) sleep 3;;\n'
        f'  *" {address["host07"]} "*) echo "host07: disk full" >&2; exit 1;;\n'
        f'  *" {address["host05"]} "*) test -e {flag} || {{ touch {flag}; echo "not yet" >&2; exit 1; }};;\n'
        "esac\n"
        "echo deployed\n"
    )
    return script


def test_the_report_of_a_20_host_task(ssh_lab, tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    remote = _remote_script(tmp_path, ssh_lab)
    (tmp_path / "deploy.fmsh").write_text(
        "task deploy {\n"
        "  @host[01-20] uptime\n"
        f"  retry 2 backoff 100ms timeout 1s @host[01-20] sh {remote} || true\n"
        "  await port 127.0.0.1:1 every 100ms timeout 300ms || true\n"
        "  for svc in nginx app; do\n"
        "    @host[01-03] echo restart $svc\n"
        "  done\n"
        f"  retry 2 backoff 100ms {{ test -e {tmp_path}/again || {{ touch {tmp_path}/again; false; }}; }}\n"
        "}\n"
    )
    env = lab_env(ssh_lab, tmp_path)
    r = run_fmsh("deploy.fmsh", env=env, cwd=tmp_path, timeout=60)
    assert r.status == 0, r.err
    report, document = _report(tmp_path, env)
    opened = _open(browser, report)
    page = opened.page
    bars = page.evaluate(BARS_JS)

    # one bar per try of each host, one per attempt of each local step, as the journal has them
    tries = {
        (seq, host): n
        for seq, host, n in journal_rows(tmp_path, "SELECT seq, host, count(*) FROM host_tries GROUP BY 1, 2")
    }
    remote_steps = {seq for seq, _ in tries}
    attempts = {seq: n for seq, n in journal_rows(tmp_path, "SELECT seq, count(*) FROM attempts GROUP BY seq")}
    shown: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for bar in bars:
        shown.setdefault((bar["step"], bar["host"]), []).append(bar)
    assert {key: len(found) for key, found in shown.items() if key[1]} == tries
    assert {key[0]: len(found) for key, found in shown.items() if not key[1]} == {
        seq: n for seq, n in attempts.items() if seq not in remote_steps
    }
    assert len(remote_steps) == 4 and len(tries) == 20 + 20 + 3 + 3

    (retried,) = journal_rows(tmp_path, "SELECT seq FROM steps WHERE text LIKE '%remote.sh'")[0]
    outcomes = {
        host: [(b["outcome"], b["failed"]) for b in shown[(retried, host)]] for _, host in tries if _ == retried
    }
    for host in ("host19", "host20"):  # timed out twice
        assert outcomes[host] == [("timeout", True), ("timeout", True)]
        assert all(b["colour"] == AMBER for b in shown[(retried, host)])
    assert outcomes["host07"] == [("exit", True), ("exit", True)]
    assert all(b["colour"] == RED for b in shown[(retried, "host07")])
    assert outcomes["host05"] == [("exit", True), ("ok", False)]
    ok_hosts = [h for h in outcomes if h not in ("host05", "host07", "host19", "host20")]
    assert len(ok_hosts) == 16 and all(outcomes[h] == [("ok", False)] for h in ok_hosts)
    assert all(b["colour"] == GREEN for h in ok_hosts for b in shown[(retried, h)])
    for host in ("host05", "host07", "host19", "host20"):  # left to right in time, the backoff between
        first, second = shown[(retried, host)]
        assert (first["try"], second["try"]) == ("1", "2")
        assert second["x"] > first["right"], (host, first, second)
        assert first["y"] == second["y"]  # one row
        assert f"{host} · try 2 of 2" in second["title"] and "after a backoff of" in second["title"]
    assert "ran past its 1s" in shown[(retried, "host19")][0]["title"]
    row = page.locator(f'.row.host[data-step="{retried}"][data-host="host19"]')
    assert row.locator(".lab").inner_text().split()[:5] == [f"#{retried}", "host19", "tries", "2", "timeout"]

    # the await: a hatched bar, timed out
    (waited,) = journal_rows(tmp_path, "SELECT seq FROM steps WHERE kind = 'await'")[0]
    (await_bar,) = shown[(waited, "")]
    assert (await_bar["outcome"], await_bar["wait"], await_bar["failed"]) == ("timeout", "timed-out", True)
    assert "port 127.0.0.1:1 · timed out" in page.locator(f'.row.local[data-step="{waited}"]').inner_text()
    # the failed attempt of the retry block is marked on its frame
    frame = page.locator('.row.frame[data-frame$="#1"]', has_text="attempt 1").filter(has_text="failed (exit 1)")
    assert frame.count() == 1
    assert frame.locator('.span[data-outcome="failed"]').count() == 1

    # the step tree: hosts folded by outcome
    tree = page.locator("#steps").inner_text()
    assert "host[01-20] ok (20)" in tree and "host[01-04,06,08-18] ok (16)" in tree
    groups = [g for step in document["steps"] for g in step["groups"]]
    assert {g["nodeset"] for g in groups} == {
        "host[01-20]",
        "host[01-04,06,08-18]",
        "host05",
        "host07",
        "host[19-20]",
        "host[01-03]",
    }
    for group in groups:
        assert f"{group['nodeset']} {group['label']} ({group['count']})" in tree
    assert "\u2717 attempt 1 failed (exit 1)" in tree

    # the output, each line with its host, stderr apart
    output = page.locator(f"#out-{retried}")
    assert output.get_attribute("open") is not None  # a failed step's output is shown open
    text = output.locator("pre").inner_text()
    assert "host01: deployed\n" in text and "host07: host07: disk full\n" in text
    assert "host07: disk full\n" in output.locator("pre .e").all_inner_texts()  # stderr, in red
    assert "restart nginx" in page.locator("#output").text_content()  # type: ignore[operator]

    # the header
    header = page.locator("header").inner_text()
    assert header.startswith("task 1\ndeploy\ndone\nexit 0\n")
    for count in ("7 steps", "0 failed steps", "20 hosts", "3 failed hosts", "4 retried hosts", "1 awaits"):
        assert f"\n{count}\n" in header, count

    screenshot = tmp_path / "trace.png"  # as it first shows, before the clicks below scroll it
    page.screenshot(path=str(screenshot), full_page=True)
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000

    # a click on a step's header row folds its hosts; the checkbox keeps the rows with a failure
    shown_hosts = "() => Array.from(document.querySelectorAll('.tl .row.host')).filter(r => r.offsetParent).length"
    assert page.evaluate(shown_hosts) == 46
    page.locator('.row.head[data-step="1"]').click()
    assert page.evaluate(shown_hosts) == 26
    page.locator('.row.head[data-step="1"]').click()
    page.locator("#only-bad").check()
    visible = page.evaluate(
        "() => Array.from(document.querySelectorAll('.tl .row')).filter(r => r.offsetParent)"
        ".map(r => r.classList.contains('host') ? r.dataset.host : r.className)"
    )
    assert visible == [
        "row axis",
        "row head bad",
        "host05",
        "host07",
        "host19",
        "host20",
        "row local bad",
        "row frame bad",
    ]
    page.locator("#only-bad").uncheck()
    assert page.evaluate(shown_hosts) == 46

    # a bar's click shows its step's output
    page.locator(f'.bar[data-step="{retried}"][data-host="host07"]').first.click()
    assert page.locator(f"#out-{retried}").is_visible()

    assert opened.dialogs == [] and opened.errors == []
    page.close()


def test_hostile_output_and_text_are_shown_as_text(ssh_lab, tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "hostile.fmsh").write_text(
        "task hostile {\n"
        "  @host01 printf '<script>alert(1)</script>\\n\\377\\376 raw\\n'\n"
        "  @host[01-02] 'echo \"<img src=x onerror=alert(2)></pre>\" >&2; exit 3' || true\n"
        "}\n"
    )
    env = lab_env(ssh_lab, tmp_path)
    r = run_fmsh("hostile.fmsh", env=env, cwd=tmp_path)
    assert r.status == 0, r.err
    opened = _open(browser, _report(tmp_path, env)[0])
    page = opened.page
    assert opened.dialogs == [], "a script from the output ran"
    assert page.evaluate("document.scripts.length") == 1  # the report's own
    assert page.evaluate("document.images.length") == 0
    page.locator("#out-1 > summary").click()  # an ok step's output starts folded
    first = page.locator("#out-1 pre").inner_text()
    assert "<script>alert(1)</script>\n\ufffd\ufffd raw\n" in first
    second = page.locator("#out-2 pre")
    assert second.locator(".e").first.inner_text() == "<img src=x onerror=alert(2)></pre>\n"
    assert "printf '<script>alert(1)</script>" in page.locator('.row.head[data-step="1"]').inner_text()
    assert "printf '<script>alert(1)</script>" in str(page.locator('.bar[data-step="1"]').get_attribute("title"))
    assert "<script>alert(1)</script>" in page.locator("#steps").inner_text()
    assert opened.errors == []
    page.close()


def test_a_task_of_hundreds_of_steps_renders_fast(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "many.fmsh").write_text("task many {\n  for i in $(seq 300); do /bin/true $i; done\n}\n")
    env = {"FMSH_JOURNAL": str(tmp_path / "journal.db")}
    r = run_fmsh("many.fmsh", env=env, cwd=tmp_path, timeout=120)
    assert r.status == 0, r.err
    opened = _open(browser, _report(tmp_path, env)[0])
    timing = opened.page.evaluate(
        "() => { const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd - t.startTime; }"
    )
    assert journal_rows(tmp_path, "SELECT count(*) FROM steps") == [(301,)]  # $(seq 300), then 300 commands
    assert opened.page.locator(".tl .bar").count() == 301
    assert opened.page.locator(".row.frame").count() == 300  # a loop round each
    assert timing < 3000, f"the page took {timing:.0f}ms to load"
    opened.page.close()
