"""Crash and resume against real sshd hosts.

A 22-step task on three hosts (one sshd each); every remote step appends its key
($FMSH_STEP) to a file of its own on its host. fmsh is SIGKILLed at 20 points — while a
step waits before its effect, after its effect but before its result, halfway through a
fan-out, at arbitrary moments — and `resume` must complete the task with every step's line
present, no finished step's line twice, the in-flight step's at most twice, and the journal
intact. Then: two resumes at once, and a script edited after the crash.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK, _lab
from sshd import remote_processes, wait_until

HOSTS = ("host01", "host02", "host03")

# The remote side of each step: $0 is the scratch directory, $1 the step's name. Gate
# files held by the test stop it before its effect (pre-N) or after it (post-N); a
# started-N marker says it is running.
GATED = (
    'mkdir -p "$0/$LAB_HOST"; touch "$0/started-$1-$LAB_HOST"; '
    'while [ -e "$0/pre-$1" ] || [ -e "$0/pre-$1-$LAB_HOST" ]; do sleep 0.02; done; '
    'echo "$FMSH_STEP" >> "$0/$LAB_HOST/step-$1"; '
    'while [ -e "$0/post-$1" ] || [ -e "$0/post-$1-$LAB_HOST" ]; do sleep 0.02; done'
)


def _host(n: int) -> str:
    return HOSTS[n % 3]


def _script() -> tuple[str, dict[str, list[str]]]:
    """The task, and the hosts each step's file is expected on (by the step's name)."""
    lines = [
        "# 22 remote steps on 3 hosts, with local steps, a loop, a fan-out and a capture",
        "dir=$1",
        f"gated='{GATED}'",
        'step() { @"$1" sh -c "$gated" "$dir" "$2"; }',
    ]
    expected: dict[str, list[str]] = {}
    for n in range(1, 6):
        lines.append(f"step {_host(n)} {n}")
        expected[str(n)] = [_host(n)]
        if n == 3:
            lines.append('echo "three done"')
    lines += ["for n in 6 7 8 9; do", '  step "host0$(( n % 3 + 1 ))" "$n"', "done"]
    for n in range(6, 10):
        expected[str(n)] = [f"host0{n % 3 + 1}"]
    lines.append('@host0[1-3] sh -c "$gated" "$dir" 10')
    expected["10"] = list(HOSTS)
    lines.append('got=$(@host02 sh -c "$gated; echo got-11" "$dir" 11)')
    expected["11"] = ["host02"]
    lines.append('step host03 "12-$got"')  # the captured value names the file
    expected["12-got-11"] = ["host03"]
    for n in range(13, 23):
        lines.append(f"step {_host(n)} {n}")
        expected[str(n)] = [_host(n)]
    lines.append("echo finished")
    return "\n".join(lines) + "\n", expected


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    lab = _lab(tmp_path_factory.mktemp("crashlab"), 3, hosts_per_server=1)
    yield lab
    lab.stop()


class Scenario:
    """One task in a scratch directory of its own, with its own journal."""

    def __init__(self, lab, root: Path) -> None:  # type: ignore[no-untyped-def]
        self.root = root
        self.dir = root / "effects"
        self.dir.mkdir()
        self.journal = root / "journal.db"
        self.script = root / "deploy.fmsh"
        text, self.expected = _script()
        self.script.write_text(text)
        self.env = dict(os.environ, **lab.env(), FMSH_JOURNAL=str(self.journal))
        self.env.pop("FMSH_DEBUG", None)

    def start(self, *args: str) -> subprocess.Popen[str]:
        argv = [*FMSH_ARGV, *args] if args else [*FMSH_ARGV, str(self.script), str(self.dir)]
        return subprocess.Popen(
            argv, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*FMSH_ARGV, *args], cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip
        assert TRACEBACK not in proc.stderr, proc.stderr
        return proc

    def gate(self, name: str) -> None:
        (self.dir / name).touch()

    def open_gates(self) -> None:
        for path in self.dir.glob("pre-*"):
            path.unlink()
        for path in self.dir.glob("post-*"):
            path.unlink()

    def lines(self, step: str, host: str) -> list[str]:
        path = self.dir / host / f"step-{step}"
        return path.read_text().splitlines() if path.exists() else []

    def query(self, sql: str, *args: object) -> list[tuple]:  # type: ignore[type-arg]
        # Read-write: after a SIGKILL, reading the write-ahead log needs SQLite's recovery,
        # which a read-only connection cannot run.
        conn = sqlite3.connect(self.journal)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def kill(self, proc: subprocess.Popen[str]) -> None:
        assert proc.poll() is None, f"fmsh ended before the kill: {proc.communicate()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.communicate()

    def crash_after_effect(self, step: int) -> None:
        """Run the task and SIGKILL fmsh while `step` is in flight, its effect done; the
        killed run's remote commands are let go and have ended."""
        self.gate(f"post-{step}")
        proc = self.start()
        assert wait_until(lambda: (self.dir / _host(step) / f"step-{step}").exists(), timeout=30), proc.poll()
        self.kill(proc)
        self.open_gates()
        self.settle()

    def settle(self) -> None:
        """The killed run's remote commands (orphans, their gates now open) have ended."""
        assert wait_until(lambda: not remote_processes(str(self.dir)), timeout=15)


def _finished_at_kill(s: Scenario) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """From the journal right after the kill: (key, host) pairs whose result was journaled,
    and those started without one (in flight)."""
    finished: set[tuple[str, str]] = set()
    in_flight: set[tuple[str, str]] = set()
    hosts: dict[int, dict[str, str | None]] = {}
    for seq, host, failure in s.query("SELECT seq, host, failure FROM step_hosts"):
        hosts.setdefault(seq, {})[host] = failure
    for seq, key, kind, status in s.query("SELECT seq, key, kind, status FROM steps"):
        if kind not in ("remote", "capture"):
            continue
        done_hosts = {h for h, failure in hosts.get(seq, {}).items() if failure in (None, "exit")}
        for host in HOSTS:
            if status == "finished" or host in done_hosts:
                finished.add((key, host))
            else:
                in_flight.add((key, host))
    return finished, in_flight


def _check_completed(s: Scenario, finished: set[tuple[str, str]], in_flight: set[tuple[str, str]]) -> None:
    for step, hosts in s.expected.items():
        for host in hosts:
            lines = s.lines(step, host)
            assert lines, f"step {step} left no line on {host}"
            key = lines[0]
            assert key and all(line == key for line in lines), f"step {step} on {host}: {lines}"
            if (key, host) in finished:
                assert len(lines) == 1, f"finished step {step} ({key}) ran again on {host}: {lines}"
            elif (key, host) in in_flight:
                assert len(lines) <= 2, f"in-flight step {step} ({key}) ran {len(lines)} times on {host}"
            else:
                assert len(lines) == 1, f"step {step} ({key}) ran {len(lines)} times on {host}"
    tasks = [json.loads(line) for line in s.run("--tasks", "--json").stdout.splitlines()]
    assert [(t["id"], t["status"], t["exit_status"]) for t in tasks] == [(1, "done", 0)]
    assert s.query("PRAGMA integrity_check") == [("ok",)]


def _fanout_half_done(s: Scenario) -> bool:
    """Both free hosts of the fan-out (step 10) have their results journaled."""
    try:
        sql = "SELECT host FROM step_hosts WHERE seq = (SELECT seq FROM steps WHERE text LIKE ?)"
        rows = s.query(sql, '%"$dir" 10')
    except sqlite3.Error:  # not created yet
        return False
    return len(rows) == 2


# (what to hold, what to wait for before the kill)
KILL_POINTS = [
    *[(f"pre-{n}", f"started-{n}-{_host(n)}") for n in (1, 4, 7, 13, 17, 21)],
    ("pre-11", "started-11-host02"),  # a capture, before its effect
    *[(f"post-{n}", f"{_host(n)}/step-{n}") for n in (2, 5, 8, 14, 18, 22)],
    ("post-11", "host02/step-11"),  # a capture, after its effect
    ("post-10-host02", "journal:10"),  # a fan-out: two hosts finished, one in flight
    # wherever it is by then (counted from the start of the first step)
    *[("post-22", f"after:{ms}") for ms in (0, 120, 250, 400, 600)],
]


@pytest.mark.parametrize("hold, until", KILL_POINTS, ids=[f"{h}/{u}" for h, u in KILL_POINTS])
def test_sigkill_then_resume_completes_the_task(lab, tmp_path: Path, hold: str, until: str) -> None:  # type: ignore[no-untyped-def]
    s = Scenario(lab, tmp_path)
    s.gate(hold)
    proc = s.start()
    if until.startswith("after:"):
        assert wait_until(lambda: (s.dir / f"started-1-{_host(1)}").exists(), timeout=30), proc.poll()
        time.sleep(int(until.split(":")[1]) / 1000)
    elif until.startswith("journal:"):
        assert wait_until(lambda: _fanout_half_done(s), timeout=30), proc.poll()
    else:
        assert wait_until(lambda: (s.dir / until).exists(), timeout=30), proc.poll()
    s.kill(proc)
    finished, in_flight = _finished_at_kill(s)
    s.open_gates()
    s.settle()
    resumed = s.run("--resume", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.endswith("finished\n")
    assert "resuming task 1" in resumed.stderr
    s.settle()
    _check_completed(s, finished, in_flight)


def test_replayed_steps_are_quiet_and_keep_their_results(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A finished echo is not printed again; a finished capture gives its journaled value."""
    s = Scenario(lab, tmp_path)
    s.crash_after_effect(13)
    resumed = s.run("--resume", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "finished\n"  # not "three done" again
    assert s.lines("12-got-11", "host03")  # the capture's value came from the journal
    trace = s.run("--trace", "1").stdout
    assert "attempts 2 (interrupted, finished)" in trace


def test_two_resumes_at_once_one_runs(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = Scenario(lab, tmp_path)
    s.crash_after_effect(5)
    s.gate("pre-15")  # holds the winner until the loser has spoken
    first, second = s.start("--resume", "1"), s.start("--resume", "1")
    assert wait_until(lambda: first.poll() is not None or second.poll() is not None, timeout=30)
    loser, winner = (first, second) if first.poll() is not None else (second, first)
    out, err = loser.communicate()
    assert loser.returncode != 0
    assert f"is running, owned by {os.uname().nodename}:{winner.pid}" in err, err
    assert TRACEBACK not in err
    s.open_gates()
    out, err = winner.communicate(timeout=60)
    assert winner.returncode == 0, err
    assert out.endswith("finished\n")
    s.settle()
    for step, hosts in s.expected.items():
        for host in hosts:
            assert 1 <= len(s.lines(step, host)) <= (2 if step == "5" else 1), (step, host)
    assert s.query("SELECT epoch, status FROM tasks") == [(2, "done")]


def test_an_edited_script_is_not_resumed_unless_accepted(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = Scenario(lab, tmp_path)
    s.crash_after_effect(6)
    text = s.script.read_text()
    s.script.write_text(text.replace("step host01 3\n", "step host01 3b\n"))
    before = {p: p.read_text() for p in s.dir.rglob("step-*")}
    refused = s.run("--resume", "1")
    assert refused.returncode == 1
    assert "step 3 differs" in refused.stderr, refused.stderr
    assert "`step host01 3 › " in refused.stderr and "`step host01 3b › " in refused.stderr
    assert "deploy.fmsh:7:1 › 4:10" in refused.stderr
    assert "--accept-changes" in refused.stderr
    assert {p: p.read_text() for p in s.dir.rglob("step-*")} == before  # nothing ran
    assert s.query("SELECT status FROM tasks") == [("interrupted",)]
    accepted = s.run("--resume", "--accept-changes", "1")
    assert accepted.returncode == 0, accepted.stderr
    assert s.lines("3b", "host01")  # the changed step ran
    assert len(s.lines("3", "host01")) == 1  # the old one did not run again
    assert len(s.lines("2", _host(2))) == 1
    events = [kind for (kind,) in s.query("SELECT kind FROM events ORDER BY id")]
    assert "changed" in events
