"""Callbacks end to end: a task makes a callback URL, hands it to a host over real SSH,
`curl` there POSTs to a real `fmsh --serve`, and the task wakes with the body. At most
once, late deliveries, a task killed while waiting and resumed later, the same URL after a
resume, and the errors a user can make."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from journalbox import Box, lab_env
from serve import Serve
from sshd import wait_until

WAITING = """task build {
    callback url
    printf '%s\\n' "$url" >> urls
    await callback "$url" into result timeout TIMEOUT
    echo "status=$? result=[$result]"
    printf '%s\n' "$url" > url.after
}
"""


def _box(tmp_path: Path, lab=None) -> Box:  # type: ignore[no-untyped-def]
    box = Box(tmp_path)
    if lab is not None:
        box.env.update(lab_env(lab, tmp_path))
    return box


def _waiting(box: Box) -> bool:
    return box.query("SELECT state FROM waits") == [("waiting",)]


def _killed_while_waiting(box: Box, timeout: str, env: dict[str, str]) -> str:
    """Start WAITING, SIGKILL it once it waits for its callback; the callback's URL."""
    task = box.start("-c", WAITING.replace("TIMEOUT", timeout), env=env)
    box.wait_for("urls")
    assert wait_until(lambda: _waiting(box))
    os.killpg(task.pid, signal.SIGKILL)
    task.communicate()
    return (box.root / "urls").read_text().strip()


def _curl(box: Box, host: str, url: str, data: str = "", *options: str) -> str:
    """`curl` on a lab host (over SSH, as a remote job would): the HTTP status it got."""
    script = f'@{host} curl -sS -o /dev/null -w \'%{{http_code}}\' --data-binary "$DATA" {" ".join(options)} "$URL"'
    result = box.run("-c", script, env={"DATA": data, "URL": url})
    assert result.err == "" or result.status == 0, result.err
    return result.out


def test_a_host_posts_the_callback_over_ssh_and_the_task_wakes_with_the_body(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    box = _box(tmp_path, ssh_lab)
    with Serve(box.journal) as serve:
        body = "build 42: ok\nartifacts: 3 ünïcode"
        box.script("build.fmsh", """task build {
    callback url
    @host01 sh -c '(sleep 0.3; curl -sS --fail --data-binary "$2" "$1" > /dev/null) > /dev/null 2>&1 &' _ "$url" "$BODY"
    await callback "$url" into result timeout 30s
    printf '%s' "$result" > result
    printf '%s' "$url" > url
}
""")  # fmt: skip
        started = time.monotonic()
        run = box.run("build.fmsh", env={"FMSH_CALLBACK_URL": serve.url, "BODY": body})
        assert run.status == 0, run.err
        assert time.monotonic() - started < 15
        assert (tmp_path / "result").read_text() == body
        url = (tmp_path / "url").read_text()
        assert url.startswith(f"{serve.url}/cb/") and len(url.rsplit("/", 1)[1]) == 43
        # At most once: a second POST from the host is refused, and so is an unknown token.
        assert _curl(box, "host02", url, "again") == "409"
        assert _curl(box, "host02", url[:-5] + "AAAAA", "x") == "404"
        assert box.query("SELECT name, value, state FROM signals") == [("callback:1", body, "delivered")]
        assert box.query("SELECT state FROM callbacks") == [("delivered",)]
        assert f"POST /cb/... 202 task 1 callback 1 delivered ({len(body.encode())} bytes)" in serve.log().replace(
            "…", "..."
        )
    assert url.rsplit("/", 1)[1] not in serve.log()  # the token is never logged


def test_an_oversized_body_is_413_and_nothing_is_journaled(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    box = _box(tmp_path, ssh_lab)
    with Serve(box.journal, "--max-body", "1K") as serve:
        task = box.start("-c", WAITING.replace("TIMEOUT", "30s"), env={"FMSH_CALLBACK_URL": serve.url})
        box.wait_for("urls")
        assert wait_until(lambda: _waiting(box))
        url = (tmp_path / "urls").read_text().strip()
        assert _curl(box, "host01", url, "x" * 2000) == "413"
        assert box.query("SELECT count(*) FROM signals") == [(0,)]
        assert box.query("SELECT state FROM callbacks") == [("open",)]  # still good for a body that fits
        assert _curl(box, "host01", url, "y" * 1024) == "202"
        out, err = task.communicate(timeout=30)
        assert task.returncode == 0, err
        assert out == f"status=0 result=[{'y' * 1024}]\n"


def test_a_task_killed_while_waiting_gets_the_callback_posted_while_it_was_dead(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    box = _box(tmp_path, ssh_lab)
    with Serve(box.journal) as serve:
        env = {"FMSH_CALLBACK_URL": serve.url}
        url = _killed_while_waiting(box, "2m", env)
        assert _curl(box, "host03", url, "posted while the shell was dead") == "202"
        assert box.query("SELECT state FROM signals") == [("pending",)]  # kept for the task
        started = time.monotonic()
        resumed = box.run("--resume", "1", env=env)
        assert resumed.status == 0, resumed.err
        assert resumed.out == "status=0 result=[posted while the shell was dead]\n"
        assert time.monotonic() - started < 20  # it took what was there; it did not wait out its 2m
        # The callback step was replayed: the same URL, not a new one.
        assert (tmp_path / "url.after").read_text().strip() == url
        assert box.query("SELECT count(*) FROM callbacks") == [(1,)]
        assert _curl(box, "host03", url, "again") == "409"


def test_a_delivery_after_the_await_timed_out_is_410_and_journaled_as_late(tmp_path: Path) -> None:
    box = _box(tmp_path)
    with Serve(box.journal) as serve:
        run = box.run("-c", WAITING.replace("TIMEOUT", "300ms"), env={"FMSH_CALLBACK_URL": serve.url})
        assert run.status == 0
        assert run.out == "status=124 result=[]\n"
        assert "await callback 1: timed out after 300ms" in run.err
        from serve import post

        url = (tmp_path / "urls").read_text().strip()
        status, answer = post(url, b"too late")
        assert status == 410
        assert answer["error"] == "too late: came after its await timed out (step 3)"
        rows = box.query("SELECT name, value, state, note FROM signals")
        assert rows == [("callback:1", "too late", "late", "came after its await timed out (step 3)")]
        assert post(url, b"later still")[0] == 410  # refused again, not journaled again
        assert box.query("SELECT count(*) FROM signals") == [(1,)]
        trace = box.run("--trace", "1").out
        assert "timed out — late: callback:1='too late' from 127.0.0.1 at " in trace


def test_a_deadline_that_passed_while_the_shell_was_dead_makes_the_delivery_late(tmp_path: Path) -> None:
    box = _box(tmp_path)
    with Serve(box.journal) as serve:
        env = {"FMSH_CALLBACK_URL": serve.url}
        url = _killed_while_waiting(box, "1s", env)
        time.sleep(1.2)
        from serve import post

        status, answer = post(url, b"x")
        assert (status, answer["error"]) == (410, "too late: came after its await timed out (step 3)")
        resumed = box.run("--resume", "1", env=env)
        assert resumed.out == "status=124 result=[]\n"
        assert "await callback 1: timed out after 1s" in resumed.err


def test_callback_outside_a_task_and_a_url_that_is_not_the_tasks(tmp_path: Path) -> None:
    box = _box(tmp_path)
    outside = box.run("-c", "callback url")
    assert outside.status == 2
    assert outside.err == (
        "fmsh: callback: only a task can receive a callback: run it in a `task NAME { ... }` block, "
        "or in a script that is a task (one with a remote stage or an await)\n"
    )
    assert box.run("-c", "task t { callback 1x; }").err.endswith("callback: `1x': not a variable name\n")
    assert box.run("-c", "task t { callback; }").status == 2
    bad = box.run("-c", "task t { FMSH_CALLBACK_URL=ftp://x callback u; }", env={})
    assert (bad.status, bad.err.splitlines()[0]) == (
        1,
        "fmsh: callback: FMSH_CALLBACK_URL=ftp://x: not an http:// or https:// address of `fmsh serve` "
        "(as in https://ops1.example.com:8470)",
    )
    # The first task's URL is not the second's to wait for.
    box.run("-c", 'task one { callback u; printf %s "$u" > one; }')
    other = box.run("-c", 'task two { await callback "$(cat one)" timeout 1s; }')
    assert other.status == 2
    assert other.err == "fmsh: await callback: not a callback of this task (make one with `callback VAR` in it)\n"
    garbage = box.run("-c", "task three { await callback http://x/y timeout 1s; }")
    assert (garbage.status, garbage.err) == (
        2,
        "fmsh: await callback `http://x/y': not a callback URL (make one with `callback VAR`)\n",
    )
    syntax = box.run("-c", "await callback")
    assert syntax.status == 2 and "await callback: a callback URL" in syntax.err


def test_a_signal_name_for_callbacks_is_refused(tmp_path: Path) -> None:
    box = _box(tmp_path)
    box.run("-c", "task t { callback u; }")
    sent = box.run("-c", "signal 1 callback:1 forged")
    assert sent.status == 2
    assert "names that begin with callback: are the deliveries of callbacks" in sent.err
