"""The two fixes the chaos suite asked for, each pinned by a test of its own.

1. A resumed task stops what its dead shell left running: fmsh is SIGKILLed while a silent
   remote command runs (it outlives its ssh session); `resume` stops that command's process
   group before it runs the step again, so the step never runs twice at once; a group whose
   pid now belongs to another process (no marker in its environment) is left alone.
2. The journal's disk fills up: fmsh stops with one line (what, and what to do), status 75,
   no traceback; after space is freed, `resume` finishes the task, its journaled output
   intact.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK, _lab
from sshd import wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a tmpfs for the journal needs root")

# $0: the scratch directory. Appends "begin PID" then, every 0.1 s, "tick PID" to its host's
# file, for $1 ticks, printing nothing (so that it outlives a dead session).
QUIET = (
    'f="$0/$LAB_HOST"; echo "begin $$ $FMSH_ATTEMPT" >> "$f"; i=0; '
    'while [ $i -lt $1 ]; do echo "tick $$" >> "$f"; sleep 0.1; i=$((i + 1)); done; echo "end $$" >> "$f"'
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    lab = _lab(tmp_path_factory.mktemp("recoverylab"), 2, hosts_per_server=1)
    yield lab
    lab.stop()


def _env(lab, journal: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = dict(os.environ, **lab.env(), FMSH_JOURNAL=str(journal))
    env.pop("FMSH_DEBUG", None)
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*FMSH_ARGV, *argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90
    )
    assert TRACEBACK not in proc.stderr, proc.stderr
    return proc


def _records(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split()[:2]) for line in path.read_text().splitlines()] if path.exists() else []  # type: ignore[misc]


def _alive(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_resume_stops_what_the_dead_shell_left_running(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "quiet.fmsh"
    script.write_text(f'quiet=\'{QUIET}\'\n@host0[1-2] sh -c "$quiet" "$1" 40\necho done\n')
    env = _env(lab, tmp_path / "journal.db")
    proc = subprocess.Popen([*FMSH_ARGV, str(script), str(tmp_path)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL)
    ledgers = [tmp_path / "host01", tmp_path / "host02"]
    assert wait_until(lambda: all(len(_records(p)) >= 3 for p in ledgers), timeout=30)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = {p.name: _records(p)[0][1] for p in ledgers}  # the killed run's pids
    time.sleep(0.5)
    assert all(_alive(pid) for pid in first.values()), "the command should outlive its dead shell"

    resumed = _run(["--resume", "1"], tmp_path, env)
    assert resumed.returncode == 0, resumed.stderr
    assert "task 1: stopped step 1 on host[01-02], left running by the dead shell" in resumed.stderr
    for path in ledgers:
        records = _records(path)
        begins = [pid for what, pid in records if what == "begin"]
        assert len(begins) == 2 and begins[0] == first[path.name], records
        # The first copy's last tick came before the second copy began: never both at once.
        second = records.index(("begin", begins[1]))
        assert ("tick", begins[0]) not in records[second:], records
        assert ("end", begins[0]) not in records and ("end", begins[1]) in records
    rows = sqlite3.connect(tmp_path / "journal.db").execute(
        "SELECT attempt, host, outcome FROM remote_processes ORDER BY attempt, host"
    )
    assert rows.fetchall() == [(1, "host01", "stopped"), (1, "host02", "stopped"), (2, "host01", "ended"),
                               (2, "host02", "ended")]  # fmt: skip


def test_a_reused_pid_is_left_alone(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The journal names a process group that now belongs to someone else (its marker is
    not in its environment): resume does not touch it."""
    env = _env(lab, tmp_path / "journal.db")
    script = tmp_path / "quiet.fmsh"
    script.write_text(f'quiet=\'{QUIET}\'\n@host01 sh -c "$quiet" "$1" 40\n')
    proc = subprocess.Popen([*FMSH_ARGV, str(script), str(tmp_path)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL)
    assert wait_until(lambda: len(_records(tmp_path / "host01")) >= 2, timeout=30)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    os.killpg(int(_records(tmp_path / "host01")[0][1]), signal.SIGKILL)  # gone on its own
    stranger = subprocess.Popen(["sleep", "30"], start_new_session=True)  # a group of its own, no marker
    try:
        with sqlite3.connect(tmp_path / "journal.db") as conn:
            conn.execute("UPDATE remote_processes SET pid = ?", (stranger.pid,))
        resumed = _run(["--resume", "1"], tmp_path, env)
        assert resumed.returncode == 0, resumed.stderr
        assert "stopped" not in resumed.stderr
        assert stranger.poll() is None, "a process without the marker was killed"
        outcome = sqlite3.connect(tmp_path / "journal.db").execute(
            "SELECT outcome FROM remote_processes WHERE attempt = 1"
        )
        assert outcome.fetchall() == [("gone",)]
    finally:
        stranger.kill()
        stranger.wait()


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "fmsh-test-full", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC
    return filler


def _steps(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM steps").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0  # not created yet


def test_disk_full_stops_with_one_line_and_resume_finishes(lab, tmp_path: Path, small_disk: Path) -> None:  # type: ignore[no-untyped-def]
    journal = small_disk / "journal.db"
    env = _env(lab, journal)
    gate = tmp_path / "gate"
    gate.touch()
    script = tmp_path / "full.fmsh"
    # Step 1 prints and finishes; step 2 waits at the gate while the disk fills; its
    # output is bigger than what is left, so its result cannot be journaled.
    script.write_text(
        "@host01 echo first-output\n"
        f"@host02 sh -c 'while [ -e {gate} ]; do sleep 0.05; done; head -c 300000 /dev/zero | tr \"\\\\0\" y'\n"
        "echo finished\n"
    )
    proc = subprocess.Popen(
        [*FMSH_ARGV, str(script)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert wait_until(lambda: _steps(journal) == 2, timeout=30)
    filler = _fill(small_disk)
    gate.unlink()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 75, (out, err)
    assert TRACEBACK not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fmsh: cannot write the journal {journal}: its disk is full")
    assert lines[0].endswith("free space on the filesystem of " + str(small_disk) + ", then `fmsh --resume 1`")

    filler.unlink()
    resumed = _run(["--resume", "1"], tmp_path, env)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.endswith("finished\n") and "first-output" not in resumed.stdout
    conn = sqlite3.connect(journal)
    assert conn.execute("SELECT status FROM tasks").fetchall() == [("done",)]
    assert conn.execute("SELECT data FROM output WHERE seq = 1").fetchall() == [(b"first-output\n",)]
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_a_second_journal_in_the_task_process_loses_nothing(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Found by the chaos suite: `lock` opens the journal a second time in the task's own
    process. Reading its header with a plain open()/close() dropped the process's POSIX
    locks on the file (they are per process, not per descriptor), so the next other fmsh
    to close the journal (here `--tasks`) checkpointed and deleted the write-ahead log
    under the running task: every later step was lost, the task left `running`."""
    journal = tmp_path / "journal.db"
    env = _env(lab, journal)
    script = tmp_path / "locked.fmsh"
    script.write_text("lock chaos 30s\n@host01 echo one\nsleep 1.5\n@host01 echo two\nunlock chaos\necho done\n")
    proc = subprocess.Popen(
        [*FMSH_ARGV, str(script)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    assert wait_until(lambda: _steps(journal) >= 2, timeout=30)
    assert _run(["--tasks"], tmp_path, env).returncode == 0  # another process opens and closes the journal
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.endswith("done\n")
    conn = sqlite3.connect(journal)
    assert conn.execute("SELECT status FROM tasks").fetchall() == [("done",)]
    assert [r[0] for r in conn.execute("SELECT status FROM steps ORDER BY seq")] == ["finished"] * 4
