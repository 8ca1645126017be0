"""`trace ID`: the tree, its JSON and `--follow`, on journals made by real runs against
real sshd — a 20-host fan-out where two hosts time out on every try and one fails, a
retried block, a timed-out await and a delivered signal."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import FMSH_ARGV, TRACEBACK, run_fmsh
from journalbox import journal_rows, lab_env
from sshd import on_host, wait_until

SCHEMA = json.loads((Path(__file__).parent.parent / "fmsh" / "trace" / "schema.json").read_text())


def _deploy_script(lab, flag: Path) -> str:  # type: ignore[no-untyped-def]
    slow = "; ".join(on_host(lab.addresses[h][0], "sleep 5") for h in ("host19", "host20"))
    failing = on_host(lab.addresses["host07"][0], "exit 3")
    return (
        "task deploy {\n"
        "  @host[01-20] true\n"
        f"  retry 2 backoff 100ms timeout 1s @host[01-20] '{slow}; {failing}; echo ok'\n"
        "  for svc in nginx app; do\n"
        "    @host[01-03] echo restart $svc\n"
        "  done\n"
        "  await port 127.0.0.1:1 every 100ms timeout 300ms || echo no port\n"
        "  signal $FMSH_TASK_ID go 42\n"
        "  await signal go into v timeout 5s\n"
        f"  retry 3 backoff 100ms {{ test -e {flag} || {{ touch {flag}; false; }}; }}\n"
        "}\n"
    )


@pytest.fixture(scope="module")
def deploy(ssh_lab, tmp_path_factory):  # type: ignore[no-untyped-def]
    """One real run of the deploy task; its journal's folder and environment."""
    root = tmp_path_factory.mktemp("trace")
    (root / "deploy.fmsh").write_text(_deploy_script(ssh_lab, root / "flag"))
    env = lab_env(ssh_lab, root)
    result = run_fmsh("deploy.fmsh", env=env, cwd=root, timeout=90)
    assert result.status == 0, result.err
    return root, env


def _trace(deploy, *args: str) -> str:  # type: ignore[no-untyped-def]
    root, env = deploy
    result = run_fmsh("--trace", "1", *args, env=env, cwd=root)
    assert result.status == 0, result.err
    return result.out


def test_the_tree_folds_a_fan_out_by_outcome(deploy) -> None:  # type: ignore[no-untyped-def]
    lines = _trace(deploy).splitlines()
    assert lines[0].startswith("task 1 deploy: done (exit 0), ")
    assert lines[2] == "  10 steps, 1 failed (2) · 20 hosts, 3 failed, 3 retried · 2 awaits · 1 signal"
    assert lines[3].startswith("├─ 1  L2  @host[01-20] true  ok  ")
    assert lines[4].startswith("│  └─ host[01-20]  ok (20)  ")
    assert lines[5].startswith("├─ 2  L3  @host[01-20] 'case ")
    assert "  exit 124  " in lines[5]  # the stage's status: a timeout is the worst
    groups = lines[6:9]
    assert groups[0].startswith("│  ├─ host[01-06,08-18]  ok (17)  ")
    assert groups[1].startswith("│  ├─ host[19-20]  timeout (2)  ")
    assert "tries 2 (timeout, timeout), waited 0.1s — ran past its 1s" in groups[1]
    assert groups[2].startswith("│  └─ host07  exit 3 (1)  ")
    assert "tries 2 (exit 3, exit 3), waited 0.1s" in groups[2]


def test_the_tree_shows_loops_awaits_signals_and_retried_attempts(deploy) -> None:  # type: ignore[no-untyped-def]
    out = _trace(deploy)
    assert "├─ for svc in nginx app  L4, round 2\n│  └─ 4  L5  @host[01-03] echo restart $svc  ok  " in out
    assert "├─ 5  L7  await port 127.0.0.1:1 every 100ms timeout 300ms  timed out  0.3s (tested)\n" in out
    assert "│  └─ waited for port 127.0.0.1:1, deadline " in out and ": timed out\n" in out
    assert "├─ 8  L9  await signal go into v timeout 5s  ok  " in out
    assert ": ok — go='42' from " in out
    assert "L10, attempt 1: failed (exit 1)\n│  └─ 9  L10  touch " in out
    assert out.rstrip().endswith("L10, attempt 2\n   └─ 10  L10  backoff 0.1s after exit 1  ok  0.1s")


def test_hosts_shows_each_host_with_its_tries(deploy) -> None:  # type: ignore[no-untyped-def]
    out = _trace(deploy, "--hosts")
    assert "│  ├─ host19  timeout  " in out
    assert "  tries 2 (timeout, timeout) — ran past its 1s\n" in out
    assert "│  ├─ host07  exit 3  " in out
    assert "│  ├─ host08  ok  " in out and ", 3 bytes" in out


def test_colour_on_request_only(deploy) -> None:  # type: ignore[no-untyped-def]
    assert "\x1b[" not in _trace(deploy)  # not a terminal
    coloured = _trace(deploy, "--color", "always")
    assert "\x1b[32mok\x1b[0m" in coloured and "\x1b[33mtimeout\x1b[0m" in coloured
    assert "\x1b[31mexit 3\x1b[0m" in coloured


def test_json_follows_its_schema_and_the_journal(deploy) -> None:  # type: ignore[no-untyped-def]
    root, _ = deploy
    document = json.loads(_trace(deploy, "--json"))
    jsonschema.validate(document, SCHEMA)
    assert (document["format"], document["version"]) == ("fmsh-trace", 1)
    assert document["task"]["name"] == "deploy" and document["task"]["status"] == "done"
    steps = {step["seq"]: step for step in document["steps"]}
    assert [s["seq"] for s in document["steps"]] == list(range(1, 11))
    fan_out = steps[2]
    assert [(g["nodeset"], g["count"]) for g in fan_out["groups"]] == [
        ("host[01-06,08-18]", 17),
        ("host[19-20]", 2),
        ("host07", 1),
    ]
    tries = journal_rows(root, "SELECT host, try, status, failure FROM host_tries WHERE seq = 2 ORDER BY host, try")
    shown = [(h["host"], t["try"], t["exit_status"], t["failure"]) for h in fan_out["hosts"] for t in h["tries"]]
    assert sorted(shown) == tries
    slow = next(h for h in fan_out["hosts"] if h["host"] == "host19")
    assert [t["outcome"] for t in slow["tries"]] == ["timeout", "timeout"]
    assert slow["tries"][0]["waited"] is None and slow["tries"][1]["waited"] >= 0.1
    assert steps[5]["wait"]["state"] == "timed-out" and steps[5]["label"] == "timed out"
    assert steps[8]["wait"]["signal"]["value"] == "42"
    assert document["signals"][0]["seq"] == 8
    retried = [node for node in document["tree"] if node["type"] == "frame" and node["kind"] == "retry"]
    assert [(f["round"], f["outcome"], f["exit_status"]) for f in retried] == [(1, "failed", 1), (2, None, None)]
    assert steps[10]["backoff"] == {"seconds": pytest.approx(0.1, abs=0.05), "after_status": 1}
    assert "output" not in steps[1]


def test_json_with_output(deploy) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(_trace(deploy, "--json", "--output"))
    jsonschema.validate(document, SCHEMA)
    chunks = next(s for s in document["steps"] if s["seq"] == 3)["output"]
    assert sorted((c["host"], c["stream"], c["text"]) for c in chunks) == [
        (f"host0{n}", 1, "restart nginx\n") for n in (1, 2, 3)
    ]


def _steps_started(root: Path) -> int:
    """How many steps a task running in `root` has journaled (0 before its journal is made)."""
    try:
        return len(journal_rows(root, "SELECT 1 FROM steps"))
    except sqlite3.Error:
        return 0


def test_follow_into_a_pipe_writes_a_line_per_step(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, **lab_env(ssh_lab, tmp_path))
    gate = tmp_path / "gate"
    script = f"task slow {{ @host[01-04] true; await file {gate} every 100ms timeout 30s; @host01 sh -c 'exit 4'; }}"
    task = subprocess.Popen([*FMSH_ARGV, "-c", script], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    assert wait_until(lambda: _steps_started(tmp_path) >= 2, timeout=30)
    follower = subprocess.Popen([*FMSH_ARGV, "--trace", "1", "--follow", "--interval", "0.1"], env=env,
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(0.5)
    assert follower.poll() is None  # still following
    gate.touch()
    out, err = follower.communicate(timeout=30)
    task.wait(timeout=30)
    assert follower.returncode == 4, err  # the task's status
    lines = out.splitlines()
    assert lines[0].startswith("task 1 slow: running")
    assert any("  1  L1  @host[01-04] true  ok  " in line and "host[01-04] ok (4)" in line for line in lines)
    ended = [line for line in lines if "@host01 sh -c 'exit 4'  exit 4" in line]
    assert len(ended) == 1
    assert lines[-1].startswith("task 1 slow: failed (exit 4), ")
    assert TRACEBACK not in err


def test_follow_on_a_terminal_redraws_the_tree(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pexpect

    env = dict(os.environ, **lab_env(ssh_lab, tmp_path), TERM="xterm")
    env.pop("NO_COLOR", None)
    gate = tmp_path / "gate"
    script = f"task slow {{ @host[01-02] true; await file {gate} every 100ms timeout 30s; @host01 true; }}"
    task = subprocess.Popen([*FMSH_ARGV, "-c", script], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    assert wait_until(lambda: _steps_started(tmp_path) >= 2, timeout=30)
    child = pexpect.spawn(FMSH_ARGV[0], [*FMSH_ARGV[1:], "--trace", "1", "-f", "--interval", "0.1", "--color", "never"],
                          env=env, cwd=str(tmp_path), dimensions=(30, 100), encoding="utf-8", timeout=20)  # fmt: skip
    child.expect("following task 1: Ctrl-C to stop")
    child.expect("\x1b\\[\\d+F\x1b\\[J")  # the next frame erases the last one
    gate.touch()
    child.expect("task 1 slow: done \\(exit 0\\)")
    child.expect(pexpect.EOF)
    child.close()
    task.wait(timeout=30)
    assert child.exitstatus == 0
    final = child.before
    assert "following task" not in final  # the last frame is the whole tree, without the hint
    assert "└─ 3  L1  @host01 true  ok" in final


def test_follow_a_finished_task_prints_it_and_ends(deploy) -> None:  # type: ignore[no-untyped-def]
    root, env = deploy
    result = run_fmsh("--trace", "1", "--follow", env=env, cwd=root)
    assert result.status == 0
    assert result.out.splitlines()[0].startswith("task 1 deploy: ")
    assert result.out.splitlines()[-1].startswith("task 1 deploy: done (exit 0)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--trace", "99"), "no task 99"),
        (("--trace", "x"), "not a task id"),
        (("--trace", "1", "--follow", "--json"), "--follow draws the tree"),
        (("--trace", "1", "--html", "/nonexistent/dir/r.html"), "cannot write /nonexistent/dir/r.html"),
    ],
)
def test_bad_trace_requests(deploy, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    root, env = deploy
    result = run_fmsh(*args, env=env, cwd=root)
    assert result.status != 0
    assert message in result.err
    assert TRACEBACK not in result.err


def test_trace_is_quick_to_start() -> None:
    """`trace` is a journal reader: it needs no SSH, prompt or table library."""
    heavy = "('paramiko', 'prompt_toolkit', 'rich', 'sqlite_utils')"
    code = (
        "import sys, fmsh.trace.command, fmsh.trace.model, fmsh.trace.tree, fmsh.trace.follow; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"


def test_a_steps_text_keeps_its_redirections(tmp_path: Path) -> None:
    env = {"FMSH_JOURNAL": str(tmp_path / "journal.db")}
    run_fmsh("-c", "task t { /bin/echo err >&2; /bin/echo x &>/dev/null; /bin/true & wait; }", env=env, cwd=tmp_path)
    out = run_fmsh("--trace", "1", env=env, cwd=tmp_path).out
    assert "├─ 1  L1  /bin/echo err >&2  ok  " in out
    assert "├─ 2  L1  /bin/echo x &>/dev/null  ok  " in out
    assert "└─ 3  L1  /bin/true  ok  " in out  # `&` still ends a command


def test_every_failed_retry_attempt_is_marked_even_without_steps(tmp_path: Path) -> None:
    env = {"FMSH_JOURNAL": str(tmp_path / "journal.db")}
    run_fmsh("-c", "task t { retry 3 backoff 50ms { false; }; echo after; }", env=env, cwd=tmp_path)
    lines = run_fmsh("--trace", "1", env=env, cwd=tmp_path).out.splitlines()[3:]
    assert lines[0] == "├─ retry 3 backoff 50ms { false; }  L1, attempt 1: failed (exit 1)"  # no step of its own
    assert lines[1] == "├─ retry 3 backoff 50ms { false; }  L1, attempt 2: failed (exit 1)"
    assert lines[3] == "├─ retry 3 backoff 50ms { false; }  L1, attempt 3: failed (exit 1)"  # the retry gave up
    assert lines[5].startswith("└─ 3  L1  echo after  ok")
    document = json.loads(run_fmsh("--trace", "1", "--json", env=env, cwd=tmp_path).out)
    jsonschema.validate(document, SCHEMA)
    assert [(f["round"], f["outcome"]) for f in document["tree"] if f["type"] == "frame"] == [
        (1, "failed"),
        (2, "failed"),
        (3, "failed"),
    ]
