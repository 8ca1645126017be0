"""`@host sudo CMD` on a host where sudo asks for a password: fmsh answers the prompt with
SUDO_PASSWORD (a real sudo, a real user with a password and a sudoers rule that asks for
it, made by tests/setup, logged in over a real sshd), never twice, and keeps the password
out of the output and the journal."""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from conftest import run_fmsh

USER = "fmshsudo"
PASSWORD = "fmsh-sudo-test-password"  # tests/setup sets it


@pytest.fixture(scope="module")
def sudo_lab():  # type: ignore[no-untyped-def]
    """One host on its own sshd, whose authorized_keys the test user can read (sshd reads
    it as that user): the lab lives in a folder of its own, open to others."""
    from sshd import SSHLab, sshd_available

    if os.geteuid() != 0:
        pytest.skip("needs root: tests/setup makes sudo's test user as root")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        pytest.fail(f"no user {USER}: run tests/setup as root (it makes the user and its sudoers rule)")
    if shutil.which("sudo") is None or not sshd_available():
        pytest.fail("sudo or sshd is not installed: run tests/setup")
    root = Path(tempfile.mkdtemp(prefix="fmsh-sudo-lab-"))
    root.chmod(0o755)
    lab = SSHLab(root, 1, hosts_per_server=1).start()
    yield lab
    lab.stop()
    shutil.rmtree(root, ignore_errors=True)


def _run(lab, script: str, tmp_path: Path, stdin: str | None = None, **env: str):  # type: ignore[no-untyped-def]
    full = {**lab.env(), "FMSH_JOURNAL": str(tmp_path / "journal.db"), "SUDO_PASSWORD": "", **env}
    return run_fmsh("-c", script, stdin=stdin, env=full, cwd=tmp_path, timeout=60)


def _journal_bytes(tmp_path: Path) -> bytes:
    conn = sqlite3.connect(tmp_path / "journal.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return b"".join(p.read_bytes() for p in tmp_path.glob("journal.db*") if p.is_file())


def test_the_password_is_supplied_and_the_command_runs_as_root(sudo_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = _run(sudo_lab, f"@{USER}@host01 id -u; @{USER}@host01 sudo id -u", tmp_path, SUDO_PASSWORD=PASSWORD)
    assert result.status == 0, result.err
    uid = str(pwd.getpwnam(USER).pw_uid)
    assert result.out.split() == [uid, "0"]  # as the user, then as root through sudo
    assert "password" not in result.err and "fmsh-sudo" not in result.out + result.err  # the prompt is taken out
    journal = _journal_bytes(tmp_path)
    assert b"sudo id -u" in journal  # the step is there (control)...
    assert PASSWORD.encode() not in journal  # ...the password is not


def test_a_wrong_password_fails_the_host_once_without_looping(sudo_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    result = _run(sudo_lab, f"@{USER}@host01 sudo id -u", tmp_path, SUDO_PASSWORD="not-the-password")
    assert result.status != 0
    assert "0" not in result.out.split()
    assert "auth" in result.err and "sudo refused the password" in result.err, result.err
    assert time.monotonic() - started < 30  # answered once, not three times in a loop
    rows = sqlite3.connect(tmp_path / "journal.db").execute("SELECT failure, message FROM step_hosts").fetchall()
    assert rows == [("auth", "sudo refused the password (SUDO_PASSWORD)")]


def test_without_a_password_and_a_terminal_the_host_fails_and_says_what_to_set(sudo_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = _run(sudo_lab, f"@{USER}@host01 sudo id -u", tmp_path)  # SUDO_PASSWORD empty: none
    assert result.status != 0
    assert "set SUDO_PASSWORD" in result.err, result.err


def test_the_stage_input_is_not_taken_for_the_password(sudo_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """sudo reads the password from standard input: the stage's own input waits until
    sudo has asked and been answered, then reaches the command whole."""
    result = _run(sudo_lab, f"printf 'first\\nsecond\\n' | @{USER}@host01 sudo cat", tmp_path, SUDO_PASSWORD=PASSWORD)
    assert result.status == 0, result.err
    assert result.out == "first\nsecond\n"


def test_a_password_read_by_secret_from_a_file(sudo_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    result = _run(sudo_lab, f"unset SUDO_PASSWORD; secret SUDO_PASSWORD < pw; @{USER}@host01 sudo id -u", tmp_path)
    assert result.status == 0, result.err
    assert result.out == "0\n"
    assert PASSWORD.encode() not in _journal_bytes(tmp_path)


def test_at_a_terminal_the_password_is_asked_once_without_echo(sudo_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from test_repl import Term

    env = {**sudo_lab.env(), "FMSH_JOURNAL": str(tmp_path / "journal.db"), "SUDO_PASSWORD": ""}
    term = Term(tmp_path, "--norc", env=env)
    term.prompt()
    term.child.send(f"@{USER}@host01 sudo id -u\r")
    term.expect("sudo password \\(remote hosts\\): ")
    term.child.send(PASSWORD + "\r")
    shown = term.expect("\n0\n")
    term.prompt()
    assert PASSWORD not in shown  # not echoed
    again = term.run(f"@{USER}@host01 sudo id -u")  # kept for the session: not asked again
    assert "password" not in again and "\n0\n" in again
    history = tmp_path / "state" / "fmsh" / "history.db"
    term.exit()
    assert PASSWORD.encode() not in _journal_bytes(tmp_path)
    assert PASSWORD.encode() not in history.read_bytes()
