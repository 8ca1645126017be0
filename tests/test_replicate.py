"""A task survives the loss of its machine: two data directories stand in for machines A
and B sharing a replica (a folder, or a folder behind a real sshd over SFTP). A runs a
12-step remote task and is SIGKILLed (or SIGSTOPped) midway; B, in standby, takes over
within the TTL + 2 s and finishes the task; every step A acknowledged is in B's journal
and only the step in flight runs again; a stopped A that wakes up runs no further step."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK, run_fmsh
from sshd import wait_until

TTL = 2.0
STEPS = 12


def _script(log: Path) -> str:
    # each step appends `round-key-journal` on the "remote" host, then takes a while
    return (
        "task twelve {\n"
        f"  for i in {' '.join(str(n) for n in range(1, STEPS + 1))}; do\n"
        f'    @host01 sh -c "echo $i-\\$FMSH_STEP-$FMSH_JOURNAL >> {log}; sleep 0.3"\n'
        "  done\n"
        "}\n"
    )


class Machines:
    """A and B: a data directory each, the lab's hosts, one replica URL."""

    def __init__(self, lab, root: Path, url: str) -> None:  # type: ignore[no-untyped-def]
        self.root = root
        self.url = url
        self.log = root / "remote.log"
        self.script = root / "twelve.fmsh"
        self.script.write_text(_script(self.log))
        self.base = {**os.environ, **lab.env(), "FMSH_REPLICA_TTL": f"{TTL:g}s"}
        self.base.pop("FMSH_DEBUG", None)
        for name in ("a", "b"):
            (root / name).mkdir()

    def env(self, name: str, **extra: str) -> dict[str, str]:
        return {**self.base, "FMSH_JOURNAL": str(self.root / name / "journal.db"), **extra}

    def journal(self, name: str) -> Path:
        return self.root / name / "journal.db"

    def start_a(self) -> subprocess.Popen[str]:
        env = self.env("a", FMSH_REPLICA=self.url)
        return subprocess.Popen([*FMSH_ARGV, str(self.script)], env=env, cwd=self.root / "a", stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    def start_standby(self) -> subprocess.Popen[str]:
        argv = [*FMSH_ARGV, "--standby", "--from", self.url, "--ttl", f"{TTL:g}s"]
        return subprocess.Popen(argv, env=self.env("b"), cwd=self.root / "b", stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def rows(self, name: str, sql: str) -> list[tuple]:  # type: ignore[type-arg]
        conn = sqlite3.connect(self.journal(name))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()


def _acknowledged(m: Machines) -> list[tuple]:  # type: ignore[type-arg]
    """The steps A acknowledged: finished, and followed by another step (a step starts
    only after the one before it was synced to the replica)."""
    rows = m.rows("a", "SELECT seq, key, status, exit_status FROM steps ORDER BY seq")
    started = max(seq for seq, *_ in rows)
    return [row for row in rows if row[2] == "finished" and row[0] < started]


def _kill_midway_and_take_over(m: Machines) -> None:
    a = m.start_a()
    assert wait_until(lambda: len(m.lines()) >= 1, timeout=30), a.stderr.read() if a.poll() is not None else ""
    b = m.start_standby()
    assert wait_until(lambda: len(m.lines()) >= 5, timeout=30)
    a.send_signal(signal.SIGKILL)
    killed = time.time()
    a.wait()
    acknowledged = _acknowledged(m)
    assert len(acknowledged) >= 4
    out, err = b.communicate(timeout=90)
    assert b.returncode == 0, err
    assert TRACEBACK not in err
    assert "standby: no heartbeat from epoch 1" in err and "taking over" in err
    took_over = json.loads(_claim(m, 2))["at"]
    assert took_over - killed <= TTL + 2, (took_over - killed, err)
    # every step A acknowledged is in B's journal, as A left it
    b_steps = m.rows("b", "SELECT seq, key, status, exit_status FROM steps ORDER BY seq")
    assert [s for s in b_steps if s[0] <= acknowledged[-1][0]] == acknowledged
    assert len(b_steps) == STEPS and all(s[2] == "finished" and s[3] == 0 for s in b_steps)
    assert m.rows("b", "SELECT status FROM tasks") == [("done",)]
    # only the step in flight ran again: each step's line once, but for at most one
    keys = [line.split("-")[1] for line in m.lines()]
    assert len(set(keys)) == STEPS
    assert len(keys) - STEPS <= 1, m.lines()
    for _seq, key, *_ in acknowledged:
        assert keys.count(key) == 1, key


def _claim(m: Machines, epoch: int) -> str:
    """The claim of `epoch` as a JSON text (read on this machine: file and sftp replicas
    both keep their folder here)."""
    base = m.url.split("://", 1)[1]
    base = "/" + base.split("/", 1)[1] if m.url.startswith("sftp://") else base
    return (Path(base) / "epochs" / f"{epoch:08d}" / "claim").read_text()


def test_a_killed_machine_is_taken_over_from_a_file_replica(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _kill_midway_and_take_over(Machines(ssh_lab, tmp_path, f"file://{tmp_path / 'replica'}"))


def _sftp_url(lab, path: Path) -> str:  # type: ignore[no-untyped-def]
    address, port = lab.addresses["host02"]
    return f"sftp://{lab.user}@{address}:{port}{path}"


def test_a_killed_machine_is_taken_over_from_an_sftp_replica(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _kill_midway_and_take_over(Machines(ssh_lab, tmp_path, _sftp_url(ssh_lab, tmp_path / "replica")))


def test_split_brain_the_stopped_owner_runs_no_further_step(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = Machines(ssh_lab, tmp_path, f"file://{tmp_path / 'replica'}")
    a = m.start_a()
    assert wait_until(lambda: len(m.lines()) >= 1, timeout=30)
    b = m.start_standby()
    assert wait_until(lambda: len(m.lines()) >= 4, timeout=30)
    a.send_signal(signal.SIGSTOP)
    try:
        out, err = b.communicate(timeout=90)
        assert b.returncode == 0, err
        from_a = [line for line in m.lines() if str(m.journal("a")) in line]
    finally:
        a.send_signal(signal.SIGCONT)
    out, err = a.communicate(timeout=30)
    assert a.returncode == 75, err
    assert "was taken over: epoch 2 belongs to" in err and "runs no further step" in err
    assert TRACEBACK not in err
    assert [line for line in m.lines() if str(m.journal("a")) in line] == from_a  # nothing more from A
    # the newest epoch's replica holds all of B's steps: restore it on a third machine
    c = tmp_path / "c"
    c.mkdir()
    restored = run_fmsh("--recover", "--from", m.url, "--no-resume", env=m.env("c"), cwd=c)
    assert restored.status == 0, restored.err
    conn = sqlite3.connect(c / "journal.db")
    try:
        steps = conn.execute("SELECT status, exit_status FROM steps ORDER BY seq").fetchall()
        tasks = conn.execute("SELECT status FROM tasks").fetchall()
    finally:
        conn.close()
    assert steps == [("finished", 0)] * STEPS
    assert tasks == [("done",)]


def test_status_says_where_the_journal_replicates(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = Machines(ssh_lab, tmp_path, f"file://{tmp_path / 'replica'}")
    env = m.env("a", FMSH_REPLICA=m.url)
    assert run_fmsh("-c", "task t { @host01 true; }", env=env, cwd=tmp_path).status == 0
    out = run_fmsh("--replicate", "status", env=env, cwd=tmp_path).out
    assert f"replica     {m.url}" in out
    assert "epoch       1 (this journal); newest on the replica: 1" in out
    assert "heartbeat   idle (no task running)" in out
    assert "last sync   " in out


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/x", "ftp://"),
        ("s3://bucket/path", "s3:// replicas"),
    ],
)
def test_a_replica_fmsh_cannot_fence_is_refused(tmp_path: Path, url: str, message: str) -> None:
    env = {"FMSH_JOURNAL": str(tmp_path / "journal.db"), "FMSH_REPLICA": url}
    result = run_fmsh("-c", "task t { /bin/echo ran; }", env=env, cwd=tmp_path)
    assert result.status == 2
    assert message in result.err and "ran" not in result.out
    assert TRACEBACK not in result.err


def test_an_unreachable_replica_stops_the_task_before_its_first_step(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sftp://{ssh_lab.user}@127.0.0.1:9/srv/replica"  # nothing listens on port 9
    env = {**ssh_lab.env(), "FMSH_JOURNAL": str(tmp_path / "journal.db"), "FMSH_REPLICA": url}
    result = run_fmsh("-c", "task t { /bin/echo ran; }", env=env, cwd=tmp_path, timeout=60)
    assert result.status != 0
    assert "ran" not in result.out
    assert "127.0.0.1" in result.err and TRACEBACK not in result.err


def test_litestream_missing_is_said_plainly(tmp_path: Path) -> None:
    env = {"FMSH_JOURNAL": str(tmp_path / "journal.db"), "FMSH_REPLICA": f"file://{tmp_path / 'r'}",
           "FMSH_LITESTREAM": str(tmp_path / "no-such-litestream")}  # fmt: skip
    result = run_fmsh("-c", "task t { /bin/echo ran; }", env=env, cwd=tmp_path)
    assert result.status == 2
    assert "Litestream is not installed" in result.err and "fmsh[replicate]" in result.err
    assert "ran" not in result.out and TRACEBACK not in result.err


def test_recover_refuses_to_overwrite_a_journal(tmp_path: Path) -> None:
    (tmp_path / "journal.db").write_text("")
    env = {"FMSH_JOURNAL": str(tmp_path / "journal.db")}
    result = run_fmsh("--recover", "--from", f"file://{tmp_path / 'r'}", env=env, cwd=tmp_path)
    assert result.status == 2 and "exists: recover restores the journal into a new file" in result.err


def _losing_replica(lab, tmp_path: Path, **extra: str) -> tuple[subprocess.Popen[str], Path]:  # type: ignore[no-untyped-def]
    """A task whose sftp replica (host02's own sshd) goes away after its third step."""
    log = tmp_path / "remote.log"
    script = tmp_path / "t.fmsh"
    script.write_text(_script(log))
    env = {**os.environ, **lab.env(), "FMSH_JOURNAL": str(tmp_path / "journal.db"),
           "FMSH_REPLICA": _sftp_url(lab, tmp_path / "replica"), **extra}  # fmt: skip
    env.pop("FMSH_DEBUG", None)
    task = subprocess.Popen([*FMSH_ARGV, str(script)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert wait_until(lambda: log.exists() and len(log.read_text().splitlines()) >= 3, timeout=30)
    lab.server_of("host02").kill_all()  # the replica's host is gone, connections and all
    return task, log


def test_a_lost_replica_stops_the_task_before_its_next_step(private_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    task, log = _losing_replica(private_lab, tmp_path)
    out, err = task.communicate(timeout=60)
    assert task.returncode == 75, err
    assert "did not take the last step" in err and "FMSH_REPLICA_REQUIRED=0" in err
    assert TRACEBACK not in err
    assert len(log.read_text().splitlines()) < STEPS  # it stopped


def test_a_lost_replica_is_survived_when_asked(private_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    task, log = _losing_replica(private_lab, tmp_path, FMSH_REPLICA_REQUIRED="0")
    out, err = task.communicate(timeout=90)
    assert task.returncode == 0, err
    assert err.count("going on without it") == 1
    assert len(log.read_text().splitlines()) == STEPS


def test_the_replica_flag_and_the_sidecar(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`--replica URL` once; later runs of the same journal replicate without it."""
    url = f"file://{tmp_path / 'replica'}"
    env = {**ssh_lab.env(), "FMSH_JOURNAL": str(tmp_path / "journal.db")}
    assert run_fmsh("--replica", url, "-c", "task t { @host01 true; }", env=env, cwd=tmp_path).status == 0
    assert json.loads((tmp_path / "journal.db.replica").read_text()) == {"url": url, "epoch": 1}
    assert oct((tmp_path / "journal.db.replica").stat().st_mode & 0o777) == "0o600"
    assert run_fmsh("-c", "task u { @host02 true; }", env=env, cwd=tmp_path).status == 0  # no flag: the sidecar
    c = tmp_path / "c"
    c.mkdir()
    restored = run_fmsh("--recover", "--from", url, "--no-resume", env={"FMSH_JOURNAL": str(c / "j.db")}, cwd=c)
    assert restored.status == 0, restored.err
    conn = sqlite3.connect(c / "j.db")
    try:
        assert conn.execute("SELECT name, status FROM tasks ORDER BY id").fetchall() == [("t", "done"), ("u", "done")]
    finally:
        conn.close()


def test_a_replica_host_with_an_unknown_key_is_refused(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    config = tmp_path / "ssh_config"
    config.write_text(ssh_lab.ssh_config.read_text().replace(str(ssh_lab.known_hosts), str(empty)))
    env = {**ssh_lab.env(), "FMSH_SSH_CONFIG": str(config), "FMSH_JOURNAL": str(tmp_path / "journal.db"),
           "FMSH_REPLICA": _sftp_url(ssh_lab, tmp_path / "replica")}  # fmt: skip
    result = run_fmsh("-c", "task t { /bin/echo ran; }", env=env, cwd=tmp_path)
    assert result.status != 0 and "ran" not in result.out
    assert "host key" in result.err and TRACEBACK not in result.err
    assert not (tmp_path / "replica").exists()  # nothing was written there
