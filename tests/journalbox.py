"""A scratch directory with a journal of its own, for the tests of tasks: run fmsh there,
start it in the background, and read the journal as a user would (sqlite3)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

from conftest import FMSH_ARGV, TRACEBACK, run_fmsh
from sshd import wait_until


class Box:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.journal = root / "journal.db"
        self.env = {"FMSH_JOURNAL": str(self.journal)}

    def run(self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60):  # type: ignore[no-untyped-def]
        return run_fmsh(*args, cwd=self.root, env={**self.env, **(env or {})}, stdin=stdin, timeout=timeout)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        full = dict(os.environ, **self.env, **(env or {}))
        full.pop("FMSH_DEBUG", None)
        return subprocess.Popen(
            [*FMSH_ARGV, *args], cwd=self.root, env=full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip

    def query(self, sql: str, *args: object) -> list[tuple]:  # type: ignore[type-arg]
        """Rows of the journal; none before it exists. (Opened read-write: after a
        SIGKILL, reading the write-ahead log needs SQLite's recovery.)"""
        conn = sqlite3.connect(self.journal)
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []  # not created yet
            raise
        finally:
            conn.close()

    def tasks(self) -> list[dict]:  # type: ignore[type-arg]
        result = self.run("--tasks", "--json")
        assert result.status == 0, result.err
        return [json.loads(line) for line in result.out.splitlines()]

    def script(self, name: str, text: str) -> str:
        (self.root / name).write_text(text)
        return name

    def wait_for(self, name: str, timeout: float = 20) -> None:
        assert wait_until(lambda: (self.root / name).exists(), timeout=timeout), f"{name} never appeared"


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    """Wait for a background fmsh (Box.start); its status, stdout, stderr. No traceback."""
    out, err = proc.communicate(timeout=timeout)
    assert TRACEBACK not in err, err
    return proc.returncode, out, err


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL a background fmsh and all it started (it leads its own session)."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def lab_env(lab, root: Path, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """What fmsh needs to reach a lab's hosts, with a journal in `root`."""
    return {**lab.env(), "FMSH_JOURNAL": str(root / "journal.db"), **extra}


def journal_rows(root: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    """Rows of the journal in `root`."""
    conn = sqlite3.connect(root / "journal.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
