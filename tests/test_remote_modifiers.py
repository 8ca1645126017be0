"""Modifiers on fan-outs against real sshd: each host's own timeout and tries, the quorum,
the default step timeout and where it is set, and a task's deadline."""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

from conftest import FMSH_ARGV, TRACEBACK, run_fmsh, run_remote
from journalbox import journal_rows, lab_env
from sshd import on_host, remote_processes, wait_until


def test_a_timeout_stops_the_remote_command(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = f"sleep 3{random.randint(100, 999)}"
    start = time.monotonic()
    r = run_fmsh("-c", f"timeout 2s @host01 {marker}; echo status=$?", env=lab_env(ssh_lab, tmp_path), cwd=tmp_path)
    elapsed = time.monotonic() - start
    assert r.out == "status=124\n"
    assert "host01: timeout" in r.err
    assert elapsed < 3
    assert wait_until(lambda: remote_processes(marker) == [], timeout=2), remote_processes(marker)


def test_retry_journals_each_try_and_succeeds(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    count = tmp_path / "count"
    script = f'retry 3 backoff 100ms @host01 "echo x >> {count}; test \\$(wc -l < {count}) -ge 3"; echo status=$?'
    r = run_fmsh("-c", script, env=lab_env(ssh_lab, tmp_path), cwd=tmp_path)
    assert r.out == "status=0\n", r.err
    assert count.read_text() == "x\nx\nx\n"
    tries = journal_rows(tmp_path, "SELECT host, try, status, failure FROM host_tries ORDER BY try")
    assert tries == [("host01", 1, 1, "exit"), ("host01", 2, 1, "exit"), ("host01", 3, 0, None)]
    starts = [row[0] for row in journal_rows(tmp_path, "SELECT started_at FROM host_tries ORDER BY try")]
    assert starts[1] - starts[0] >= 0.1 and starts[2] - starts[1] >= 0.2  # the backoff doubled


def test_retry_around_a_block_journals_each_attempt_as_steps(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    count = tmp_path / "count"
    script = (
        f"retry 3 backoff 100ms {{\n  @host01 echo try\n  echo x >> {count}; test $(wc -l < {count}) -ge 3\n}}\n"
        "echo status=$?\n"
    )
    r = run_fmsh("-c", script, env=lab_env(ssh_lab, tmp_path), cwd=tmp_path)
    assert r.out == "try\ntry\ntry\nstatus=0\n", r.err
    steps = journal_rows(
        tmp_path, "SELECT key, kind, exit_status FROM steps WHERE kind IN ('remote', 'backoff') ORDER BY seq"
    )
    assert steps == [
        ("1:1#1>2:3", "remote", 0),
        ("1:1#2>1:1", "backoff", 0),  # the wait before attempt 2
        ("1:1#2>2:3", "remote", 0),
        ("1:1#3>1:1", "backoff", 0),
        ("1:1#3>2:3", "remote", 0),
    ]


def test_retry_on_leaves_other_statuses_alone(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_fmsh("-c", "retry 2 on 75 @host01 'exit 1'; echo status=$?", env=lab_env(ssh_lab, tmp_path), cwd=tmp_path)
    assert r.out == "status=1\n"
    assert journal_rows(tmp_path, "SELECT try, status FROM host_tries") == [(1, 1)]
    r = run_fmsh(
        "-c",
        "retry 2 backoff 10ms on 75 @host01 'exit 75'; echo status=$?",
        env=lab_env(ssh_lab, tmp_path),
        cwd=tmp_path,
    )
    assert r.out == "status=75\n"
    assert journal_rows(tmp_path, "SELECT try, status FROM host_tries WHERE status = 75") == [(1, 75), (2, 75)]


def test_hosts_that_succeeded_are_not_tried_again(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runs = tmp_path / "runs"
    runs.mkdir()
    address = ssh_lab.addresses["host02"][0]
    command = f'echo x >> {runs}/$(echo $SSH_CONNECTION | cut -d" " -f3); {on_host(address, "exit 1")}'
    r = run_fmsh(
        "-c",
        f"retry 3 backoff 50ms @host0[1-3] '{command}'; echo status=$?",
        env=lab_env(ssh_lab, tmp_path),
        cwd=tmp_path,
    )
    assert r.out == "status=1\n"
    counts = {p.name: len(p.read_text().splitlines()) for p in runs.iterdir()}
    assert counts == {ssh_lab.addresses["host01"][0]: 1, address: 3, ssh_lab.addresses["host03"][0]: 1}
    assert "host02" in r.err and TRACEBACK not in r.err


def test_a_stopped_host_times_out_while_the_others_finish(private_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = f"sleep 1.{random.randint(100, 999)}"
    env = os.environ | lab_env(private_lab, tmp_path)
    start = time.monotonic()
    proc = subprocess.Popen(
        [*FMSH_ARGV, "-c", f"timeout 3s @host[01-03] '{marker}; echo ok'; echo status=$? ${{HOST_FAILURE[host02]}}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    server = private_lab.server_of("host02")
    try:
        assert wait_until(lambda: len(remote_processes(marker)) >= 3)
        server.freeze()
        out, err = proc.communicate(timeout=30)
    finally:
        server.freeze(18)
    elapsed = time.monotonic() - start
    assert out.splitlines() == ["ok", "ok", "status=124 timeout"], err
    assert "host02: timeout: ran past its 3s" in err
    assert elapsed < 15  # 3s, then TERM and KILL that cannot arrive (2s apart), then the channel is given up: ~7s


def test_need_a_quorum_of_hosts(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    failing = on_host(ssh_lab.addresses["host07"][0], "exit 1")
    env = lab_env(ssh_lab, tmp_path)
    r = run_fmsh("-c", f"need 80% @host[01-10] '{failing}'; echo status=$?", env=env, cwd=tmp_path)
    assert r.out == "status=0\n"
    assert "1 of 10 hosts failed: host07" in r.err
    r = run_fmsh("-c", f"need 10 @host[01-10] '{failing}'; echo status=$?", env=env, cwd=tmp_path)
    assert r.out == "status=1\n"
    assert "need 10: 9 of 10 hosts succeeded, 10 needed" in r.err
    r = run_fmsh("-c", f"need 9 retry 2 backoff 10ms @host[01-10] '{failing}'; echo status=$?", env=env, cwd=tmp_path)
    assert r.out == "status=0\n"


def test_the_default_step_timeout_from_a_variable_and_the_config_file(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = f"sleep 4{random.randint(100, 999)}"
    config = tmp_path / "config.toml"
    config.write_text('[timeouts]\nstep = "1s"\n')
    for extra in ({"FMSH_STEP_TIMEOUT": "1s"}, {"FMSH_CONFIG": str(config)}):
        start = time.monotonic()
        r = run_remote(ssh_lab, f"@host01 {marker}; echo status=$?", env={**extra, "FMSH_JOURNAL": "none"})
        assert r.out == "status=124\n" and "host01: timeout: ran past its 1s" in r.err
        assert time.monotonic() - start < 3
    # a timeout of its own wins over the default; the variable wins over the file
    r = run_remote(
        ssh_lab, "timeout 3s @host01 sleep 1.5; echo status=$?",
        env={"FMSH_CONFIG": str(config), "FMSH_JOURNAL": "none"},
    )  # fmt: skip
    assert r.out == "status=0\n"
    r = run_remote(
        ssh_lab, "@host01 sleep 1.5; echo status=$?",
        env={"FMSH_CONFIG": str(config), "FMSH_STEP_TIMEOUT": "5s", "FMSH_JOURNAL": "none"},
    )  # fmt: skip
    assert r.out == "status=0\n"
    config.write_text('[timeouts]\nstep = "soon"\n')
    r = run_remote(ssh_lab, "@host01 true; echo status=$?", env={"FMSH_CONFIG": str(config), "FMSH_JOURNAL": "none"})
    assert "[timeouts] step: `soon': not a duration" in r.err and TRACEBACK not in r.err


def test_a_task_deadline_stops_the_task(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    script = "task deploy timeout 2s {\n  @host01 sleep 30\n  echo not here\n}\necho status=$?\n"
    r = run_fmsh("-c", script, env=lab_env(ssh_lab, tmp_path), cwd=tmp_path)
    assert r.out == "status=124\n"
    assert "task deploy: its 2s deadline passed; stopped" in r.err
    assert time.monotonic() - start < 4
    (deadline,) = journal_rows(tmp_path, "SELECT deadline FROM tasks")[0]
    assert deadline is not None
