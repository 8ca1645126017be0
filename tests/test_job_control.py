"""Job control at the interactive prompt, driven in a pseudo-terminal (pexpect): Ctrl-Z
stops the foreground job, `jobs`, `fg`, `bg`, `kill %N`, `wait`; Ctrl-C ends the foreground
job (status 130) and the prompt comes back; a pipeline is one job; `less` gets the terminal
and gives it back. Synchronised on markers (`echo M$((40+2))` shows M42), never on the
prompt's look."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK

pexpect = pytest.importorskip("pexpect")

ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>78])")
TIMEOUT = 10


class Term:
    def __init__(self, home: Path, extra: dict[str, str] | None = None) -> None:
        env = {
            **os.environ,
            "TERM": "xterm",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "FMSH_JOURNAL": str(home / "journal.db"),
            "PROMPT_TOOLKIT_NO_CPR": "1",
        }
        env.pop("FMSH_DEBUG", None)
        env.update(extra or {})
        self.child = pexpect.spawn(
            FMSH_ARGV[0],
            [*FMSH_ARGV[1:], "-i", "--norc"],
            env=env,
            cwd=str(home),
            encoding="utf-8",
            codec_errors="replace",
            timeout=TIMEOUT,
            dimensions=(24, 100),
        )
        self.seen = ""
        self.marks = 40

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> str:
        """Wait until the output (escapes and carriage returns removed) since the last match
        matches `pattern`; that output."""
        deadline = time.monotonic() + timeout
        while True:
            text = ANSI.sub("", self.seen).replace("\r", "")
            found = re.search(pattern, text)
            if found:
                self.seen = self.seen[len(self.seen) :]  # consumed
                return text[: found.end()]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen in {text!r}")
            try:
                self.seen += self.child.read_nonblocking(4096, timeout=min(left, 0.2))
            except pexpect.TIMEOUT:
                pass

    def run(self, line: str) -> str:
        """Type a line, then a marker: the output up to the marker."""
        self.marks += 1
        self.child.sendline(line)
        return self.sync()

    def sync(self) -> str:
        self.marks += 1
        self.child.sendline(f"echo M$(({self.marks - 1}+1))")
        return self.expect(rf"\nM{self.marks}\n")

    def started(self, line: str) -> None:
        """Type a line that starts a long command and wait until it holds the terminal (the
        terminal's foreground group is no longer the shell's), then a moment for it to run."""
        self.child.sendline(line)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                if os.tcgetpgrp(self.child.child_fd) != self.child.pid:
                    break
            except OSError:
                break
            time.sleep(0.02)
        time.sleep(0.3)

    def status(self) -> str:
        self.child.sendline("echo S$?E")
        return self.expect(r"\nS(\d+)E\n").rsplit("S", 1)[1].rstrip("E\n")

    def close(self) -> str:
        self.child.sendline("kill %1 %2 %3 2>/dev/null; exit")
        try:
            self.child.expect(pexpect.EOF, timeout=TIMEOUT)
        finally:
            self.child.close(force=True)
        return self.seen


@pytest.fixture
def term(tmp_path: Path):  # type: ignore[no-untyped-def]
    t = Term(tmp_path)
    t.sync()
    yield t
    assert TRACEBACK not in t.close()


def test_ctrl_z_jobs_fg_then_ctrl_c(term: Term) -> None:
    term.started("sleep 100")
    term.child.send("\x1a")
    assert re.search(r"\[1\]\+\s+Stopped\s+sleep 100", term.expect(r"Stopped.*\n"))
    assert term.status() == "148"
    assert re.search(r"\[1\]\+\s+Stopped\s+sleep 100", term.run("jobs"))
    term.started("fg")
    term.child.send("\x03")
    assert term.status() == "130"
    assert "sleep" not in term.run("jobs")


def test_ctrl_z_bg_kill_wait(term: Term) -> None:
    term.started("sleep 100")
    term.child.send("\x1a")
    term.expect(r"Stopped.*\n")
    assert re.search(r"\[1\]\+ sleep 100 &", term.run("bg"))
    assert re.search(r"\[1\]\+\s+Running\s+sleep 100 &", term.run("jobs"))
    term.run("kill %1")
    out = term.run("wait; echo W$?")
    assert "W0" in out
    assert "sleep" not in term.run("jobs")


def test_ctrl_c_stops_the_foreground_job_at_once(term: Term) -> None:
    term.started("sleep 100")
    start = time.monotonic()
    term.child.send("\x03")
    assert term.status() == "130"
    assert time.monotonic() - start < 2
    assert "M" in term.run("true")  # a new prompt, which runs commands


def test_a_pipeline_is_one_job(term: Term) -> None:
    term.started("sleep 100 | cat")
    term.child.send("\x1a")
    assert re.search(r"\[1\]\+\s+Stopped\s+sleep 100 \| cat", term.expect(r"Stopped.*\n"))
    assert re.search(r"Stopped\s+sleep 100 \| cat", term.run("jobs"))
    term.started("fg %1")
    term.child.send("\x03")
    assert term.status() == "130"
    assert "sleep" not in term.run("jobs")


def test_a_stopped_job_is_current(term: Term) -> None:
    term.run("sleep 100 &")
    term.started("sleep 200")
    term.child.send("\x1a")
    term.expect(r"Stopped.*\n")
    listing = term.run("jobs")
    assert re.search(r"\[1\]-\s+Running\s+sleep 100 &", listing)
    assert re.search(r"\[2\]\+\s+Stopped\s+sleep 200", listing)
    assert term.run("wait %2; echo W$?").count("W148") == 1  # a stopped job: no hang
    term.run("kill %1 %2")


def test_less_gets_the_terminal_and_gives_it_back(term: Term) -> None:
    (Path(term.child.cwd or ".") / "lines.txt").write_text("".join(f"line {n}\n" for n in range(1, 200)))
    term.started("less lines.txt")
    term.expect(r"line 5\n")
    term.child.send("q")
    term.sync()
    assert term.status() == "0"


def test_a_reading_program_gets_the_terminal(term: Term) -> None:
    term.started("cat")
    term.child.sendline("hello")
    term.expect(r"hello\n(.|\n)*hello\n")
    term.child.sendeof()
    term.sync()
    assert term.status() == "0"


def test_a_background_reader_stops_and_fg_feeds_it(term: Term) -> None:
    term.run("cat > got.txt &")
    time.sleep(0.5)
    assert re.search(r"Stopped \(tty input\)\s+cat > got.txt", term.run("jobs"))
    term.started("fg")
    term.child.sendline("fed")
    time.sleep(0.3)
    term.child.sendeof()
    term.sync()
    assert "fed" in term.run("cat got.txt")


def test_a_timeout_still_ends_its_job(term: Term) -> None:
    start = time.monotonic()
    assert "T124" in term.run("timeout 1 { sleep 5 | cat; }; echo T$?")
    assert time.monotonic() - start < 4
    term.started("timeout 10 sleep 50")
    term.child.send("\x03")
    assert term.status() == "130"


def test_ctrl_c_stops_a_remote_stage(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A pipeline with a remote stage is not a job of its own: the shell keeps the terminal,
    sees Ctrl-C and stops the remote command."""
    term = Term(tmp_path, ssh_lab.env())
    try:
        term.sync()
        for line in ("@host01 sleep 100", "@host01 sleep 100 | cat"):
            term.child.sendline(line)
            time.sleep(1.5)
            start = time.monotonic()
            term.child.send("\x03")
            assert term.status() == "130"
            assert time.monotonic() - start < 5
    finally:
        assert TRACEBACK not in term.close()


def test_exit_with_a_stopped_job_warns_once(tmp_path: Path) -> None:
    term = Term(tmp_path)
    try:
        term.sync()
        term.started("sleep 100")
        term.child.send("\x1a")
        term.expect(r"Stopped.*\n")
        term.child.sendline("exit")
        term.expect(r"There are stopped jobs\.")
        term.sync()  # still there
        term.child.sendline("exit")  # another line came between: warned again
        term.expect(r"There are stopped jobs\.")
        term.child.sendline("exit")
        term.child.expect(pexpect.EOF, timeout=TIMEOUT)
    finally:
        term.child.close(force=True)


def test_ctrl_z_detaches_a_task_and_fg_attaches_it(term: Term, tmp_path: Path) -> None:
    """Ctrl-Z on a task at the prompt detaches it: its step is interrupted, the task goes
    on in the background as a job (resumed from that step), and `fg` brings it back."""
    import sqlite3

    term.started("task nap { sh -c 'sleep 2'; sh -c 'sleep 1'; echo attached-$((40+2)); }")
    started = time.monotonic()
    term.child.send("\x1a")
    term.expect(r"task 1: detached; it goes on in the background")
    term.sync()  # the prompt is back while the task runs
    assert time.monotonic() - started < 3
    assert re.search(r"\[1\]\+\s+Running\s+resume 1", term.run("jobs"))
    term.child.sendline("fg")
    term.expect(r"attached-42\n")
    assert term.status() == "0"
    conn = sqlite3.connect(tmp_path / "journal.db")
    try:
        (status,) = conn.execute("SELECT status FROM tasks WHERE id = 1").fetchone()
        attempts = conn.execute("SELECT outcome FROM attempts WHERE seq = 1 ORDER BY attempt").fetchall()
    finally:
        conn.close()
    assert status == "done"
    assert attempts == [("interrupted",), ("finished",)]  # the step in flight ran again, in the background
