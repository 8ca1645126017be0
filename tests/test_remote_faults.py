"""Faults of real servers: a stopped sshd (connect timeout), a killed one (refused before,
lost during), and SIGINT: the remote commands are stopped for real, checked remotely."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

from conftest import FMSH_ARGV, TRACEBACK, run_remote
from sshd import remote_processes, wait_until


def test_stopped_sshd_hits_the_connect_timeout(private_lab) -> None:  # type: ignore[no-untyped-def]
    server = private_lab.server_of("host01")
    server.signal(signal.SIGSTOP)
    try:
        start = time.monotonic()
        r = run_remote(private_lab, "@host[01-03] echo ok; echo status=$?", env={"FMSH_CONNECT_TIMEOUT": "2"})
        elapsed = time.monotonic() - start
    finally:
        server.signal(signal.SIGCONT)
    assert r.out.splitlines() == ["ok", "ok", "status=255"]
    assert "host01: connect-timeout" in r.err
    assert elapsed < 15


def test_killed_sshd_is_refused_while_the_others_finish(private_lab) -> None:  # type: ignore[no-untyped-def]
    private_lab.server_of("host02").kill_all()
    r = run_remote(private_lab, "@host[01-03] echo ok; echo status=$?; echo ${HOST_FAILURE[host02]}")
    assert r.out.splitlines() == ["ok", "ok", "status=255", "refused"]
    assert "host02: refused" in r.err


def test_sshd_killed_during_the_command_is_lost(private_lab) -> None:  # type: ignore[no-untyped-def]
    """host02's server dies (connection and all) while the command runs; the other hosts
    run to their end and succeed."""
    env = os.environ | private_lab.env()
    proc = subprocess.Popen(
        [*FMSH_ARGV, "-c", "@host[01-03] { sleep 2; echo done; }; echo status=$?; echo ${HOST_FAILURE[host02]}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert wait_until(lambda: len(remote_processes("sleep 2")) >= 3)
    private_lab.server_of("host02").kill_all()
    out, err = proc.communicate(timeout=30)
    assert TRACEBACK not in err
    assert out.splitlines() == ["done", "done", "status=255", "lost"]


def _sleep() -> str:
    """A remote command line no other process has (a unique duration)."""
    return f"sleep {random.randint(300, 900)}.{random.randint(100, 999)}"


def _start_in_own_group(lab, script: str) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [*FMSH_ARGV, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | lab.env(),
        start_new_session=True,
    )


def _interrupt(lab, script: str, marker: str, running: int) -> tuple[subprocess.Popen[str], str]:  # type: ignore[no-untyped-def]
    """Start fmsh as a terminal's foreground job, wait until `running` remote processes
    show `marker`, send SIGINT to the job as Ctrl-C would; the process and its output."""
    proc = _start_in_own_group(lab, script)
    try:
        assert wait_until(lambda: len(remote_processes(marker)) >= running), remote_processes(marker)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert TRACEBACK not in err
    return proc, out


def test_sigint_stops_the_remote_commands(private_lab) -> None:  # type: ignore[no-untyped-def]
    marker = _sleep()
    script = f"@host[01-03] {{ sh -c '{marker}; echo leaked' | cat; }}; echo after"
    proc, out = _interrupt(private_lab, script, marker, 3)
    assert proc.returncode == -signal.SIGINT
    assert "after" not in out and "leaked" not in out
    assert wait_until(lambda: not remote_processes(marker), timeout=10), remote_processes(marker)


def test_sigint_during_a_single_host_pipeline(private_lab) -> None:  # type: ignore[no-untyped-def]
    marker = _sleep()
    proc, out = _interrupt(private_lab, f"@host01 {marker} | cat; echo after", marker, 1)
    assert proc.returncode == -signal.SIGINT and "after" not in out
    assert wait_until(lambda: not remote_processes(marker), timeout=10), remote_processes(marker)


def test_trapped_sigint_stops_the_command_and_the_script_goes_on(private_lab) -> None:  # type: ignore[no-untyped-def]
    marker = _sleep()
    _, out = _interrupt(private_lab, f"trap 'echo caught' INT; @host01 {marker}; echo after $?", marker, 1)
    assert not remote_processes(marker)
    assert "caught" in out


def test_a_kept_connection_that_died_is_replaced(private_lab) -> None:  # type: ignore[no-untyped-def]
    """The server restarts between two stages of one shell: the dead kept connection is
    noticed and replaced, and the second stage runs."""
    go = private_lab.root / "go"
    proc = subprocess.Popen(
        [*FMSH_ARGV, "-c", f"@host01 echo one; await file {go} every 50ms timeout 30s; @host01 echo two"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | private_lab.env(),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "one\n"
    server = private_lab.server_of("host01")
    server.kill_all()
    server.start()
    go.touch()
    out, err = proc.communicate(timeout=30)
    assert out == "two\n", err
    assert proc.returncode == 0


def test_step_timeout_stops_the_remote_command(private_lab) -> None:  # type: ignore[no-untyped-def]
    marker = _sleep()
    start = time.monotonic()
    r = run_remote(private_lab, f"FMSH_STEP_TIMEOUT=1 @host[01-02] {marker}; echo status=$? ${{HOST_FAILURE[host01]}}")
    assert r.out == "status=124 timeout\n", (r.out, r.err)
    assert time.monotonic() - start < 10
    assert wait_until(lambda: not remote_processes(marker), timeout=10), remote_processes(marker)


def test_sigint_does_not_wait_for_a_host_still_connecting(private_lab) -> None:  # type: ignore[no-untyped-def]
    """host02's sshd is stopped (its handshake would take the whole connect timeout): a
    SIGINT ends the stage at once, and host02 never runs the command."""
    marker = _sleep()
    stopped = private_lab.server_of("host02")
    stopped.signal(signal.SIGSTOP)
    try:
        proc = _start_in_own_group(private_lab, f"FMSH_CONNECT_TIMEOUT=20 @host[01-03] {marker}; echo after")
        try:
            assert wait_until(lambda: len(remote_processes(marker)) >= 2)
            start = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)
            proc.communicate(timeout=15)
            elapsed = time.monotonic() - start
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        stopped.signal(signal.SIGCONT)
    assert proc.returncode == -signal.SIGINT
    assert elapsed < 8
    time.sleep(1)  # host02 wakes up now: it must not start the command
    assert not remote_processes(marker)
