"""Remote stages in tasks, against real sshd: what the remote command is told, what is
journaled per host (status, output, the cap), and how a resumed fan-out and a replayed
remote step behave."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

from conftest import FMSH_ARGV, run_fmsh
from journalbox import journal_rows, lab_env
from sshd import remote_processes, wait_until


def test_remote_commands_are_told_the_task_and_step(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    script = "@host01 sh -c 'echo $FMSH_TASK_ID $FMSH_STEP'\nx=$(@host0[2-3] sh -c 'echo $FMSH_STEP')\necho $x\n"
    result = run_fmsh("-c", script, env=lab_env(ssh_lab, tmp_path), cwd=tmp_path)
    assert result.status == 0, result.err
    assert result.out == "1 1:1\n2:5 2:5\n"


def test_hosts_and_their_output_are_journaled(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    script = "@host0[1-3] sh -c 'echo out-$0; echo err-$0 >&2; exit $1' x 3\n@host04 seq 1 1000 | wc -l\n"
    result = run_fmsh("-c", script, env=lab_env(ssh_lab, tmp_path, FMSH_JOURNAL_OUTPUT="100"), cwd=tmp_path)
    assert result.status == 0
    rows = journal_rows(tmp_path, "SELECT seq, host, status, failure FROM step_hosts ORDER BY seq, host")
    assert rows == [(1, f"host0{n}", 3, "exit") for n in (1, 2, 3)] + [(2, "host04", 0, None)]
    env = lab_env(ssh_lab, tmp_path)
    log = run_fmsh("--log", "1", "1", env=env, cwd=tmp_path)
    assert sorted(log.out.splitlines()) == ["host01: out-x", "host02: out-x", "host03: out-x"]
    assert sorted(log.err.splitlines()) == ["host01: err-x", "host02: err-x", "host03: err-x"]
    one = run_fmsh("--log", "1", "1", "--host", "host02", env=env, cwd=tmp_path)
    assert (one.out, one.err) == ("out-x\n", "err-x\n")
    # a pipeline is one step; its remote stage's output is journaled up to the cap
    capped = run_fmsh("--log", "1", "2", env=env, cwd=tmp_path)
    assert capped.out == "".join(f"{n}\n" for n in range(1, 1001))[:100]
    assert "only the first part of its 3893 bytes was journaled" in capped.err
    trace = run_fmsh("--trace", "1", env=env, cwd=tmp_path).out
    assert "host[01-03]  exit 3 (3)" in trace and "2  L2  @host04 seq 1 1000 | wc -l  ok" in trace


def test_a_resumed_fan_out_runs_only_where_it_had_not_finished(private_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hold = tmp_path / "hold"
    hold.touch()
    marks = tmp_path / "marks"
    marks.mkdir()
    script = tmp_path / "fan.fmsh"
    script.write_text(
        f"@host0[1-3] sh -c 'echo $LAB_HOST >> {marks}/$LAB_HOST; "
        f"if [ $LAB_HOST = host02 ]; then while [ -e {hold} ]; do sleep 0.02; done; fi'\n"
        'echo "${HOST_STATUS[host01]} ${HOST_STATUS[host02]} ${HOST_STATUS[host03]}"\n'
    )
    env = dict(os.environ, **lab_env(private_lab, tmp_path))
    proc = subprocess.Popen([*FMSH_ARGV, str(script)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip

    def two_done() -> bool:
        try:
            return len(journal_rows(tmp_path, "SELECT host FROM step_hosts")) == 2
        except sqlite3.Error:
            return False

    assert wait_until(two_done, timeout=30)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    hold.unlink()
    assert wait_until(lambda: not remote_processes(str(hold)), timeout=15)
    resumed = run_fmsh("--resume", "1", env=lab_env(private_lab, tmp_path), cwd=tmp_path)
    assert resumed.status == 0, resumed.err
    assert resumed.out == "0 0 0\n"  # every host's status, the earlier ones from the journal
    assert "host[01,03]: finished step 1 before the task was interrupted; not run again there" in resumed.err
    assert (marks / "host01").read_text() == "host01\n"
    assert (marks / "host03").read_text() == "host03\n"
    assert (marks / "host02").read_text() == "host02\nhost02\n"  # in flight: ran again


def test_a_replayed_remote_step_restores_host_status(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gate = tmp_path / "go"
    script = tmp_path / "replay.fmsh"
    script.write_text(
        "@host0[1-2] sh -c 'exit $0' 4\n"
        f"sh -c 'touch {tmp_path}/waiting; while [ ! -e {gate} ]; do sleep 0.02; done'\n"
        'echo "${HOST_STATUS[host01]} ${HOST_STATUS[host02]} ${HOST_FAILURE[host02]}"\n'
    )
    env = dict(os.environ, **lab_env(ssh_lab, tmp_path))
    proc = subprocess.Popen([*FMSH_ARGV, str(script)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    assert wait_until(lambda: (tmp_path / "waiting").exists(), timeout=30)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    gate.touch()
    resumed = run_fmsh("--resume", "1", env=lab_env(ssh_lab, tmp_path), cwd=tmp_path)
    assert (resumed.status, resumed.out) == (0, "4 4 exit\n")
    tasks = [
        json.loads(line) for line in run_fmsh("--tasks", "--json", env=lab_env(ssh_lab, tmp_path)).out.splitlines()
    ]
    assert tasks[0]["status"] == "done"
