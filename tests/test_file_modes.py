"""What fmsh creates is private whatever the umask: the journal's folder 0700, the journal,
its -wal and -shm and its sidecars (journal.db.replica, Litestream's folder) 0600; the
history 0600 in a 0700 folder. A journal or history that others can read is made 0600,
and fmsh says so."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, run_fmsh
from sshd import wait_until

from fmsh.repl.history import HistoryStore


@pytest.fixture(params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The test process's umask, which fmsh (a child) inherits."""
    saved = os.umask(request.param)
    yield request.param
    os.umask(saved)


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.lstat().st_mode))


def _modes_under(folder: Path) -> dict[str, str]:
    """Every folder and file under `folder` (sockets too), by path relative to it."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            found[str(path.relative_to(folder))] = _mode(path)
    return found


@pytest.fixture
def short_path() -> Iterator[Path]:
    """A folder with a short path: Litestream's socket goes in the journal's folder, and a
    unix socket's path is limited to 108 bytes (pytest's tmp_path is longer)."""
    path = Path(tempfile.mkdtemp(prefix="fmodes-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_journal_and_its_sidecars_are_private(ssh_lab, short_path: Path, umask: int) -> None:  # type: ignore[no-untyped-def]
    tmp_path = short_path
    state = tmp_path / "state" / "fmsh"  # neither folder exists yet
    journal = state / "journal.db"
    env = {**ssh_lab.env(), "FMSH_JOURNAL": str(journal)}
    url = f"file://{tmp_path / 'replica'}"
    argv = [*FMSH_ARGV, "--replica", url, "-c", "task t { @host01 echo hi; sleep 1.5; }"]
    task = subprocess.Popen(argv, env={**os.environ, **env}, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    # -wal and -shm exist while the journal is open (SQLite removes them at the last close).
    wait_until(lambda: (state / "journal.db-wal").exists() and (state / "journal.db.replica").exists(), 20)
    while_open = _modes_under(state)
    out, err = task.communicate(timeout=60)
    assert task.returncode == 0, err
    assert _mode(state) == "0o700"
    assert {"journal.db", "journal.db-wal", "journal.db-shm", "journal.db.replica"} <= set(while_open), while_open
    modes = {**while_open, **_modes_under(state)}
    assert any(name.startswith("journal.db.litestream/") for name in modes), modes  # Litestream's config and log
    for name, mode in modes.items():
        want = "0o700" if (state / name).is_dir() else "0o600"
        assert mode == want, (name, mode, modes)


def test_the_history_is_private(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "state" / "fmsh" / "history.db"
    store = HistoryStore(str(path))
    entry = store.record("echo hi", str(tmp_path), "here", "s1")
    assert entry is not None
    store.finish(entry, 0, 0.1)
    assert _mode(path.parent) == "0o700"
    modes = _modes_under(path.parent)
    assert modes == {"history.db": "0o600", "history.db-wal": "0o600", "history.db-shm": "0o600"}, modes
    store.close()


def test_an_open_journal_is_made_private_and_fmsh_says_so(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    env = {"FMSH_JOURNAL": str(journal)}
    assert run_fmsh("-c", "task t { true; }", env=env, cwd=tmp_path).status == 0
    journal.chmod(0o644)
    result = run_fmsh("-c", "task u { true; }", env=env, cwd=tmp_path)
    assert result.status == 0, result.err
    assert f"the journal {journal} was open to others (mode 644): made 0600" in result.err
    assert _mode(journal) == "0o600"
    again = run_fmsh("-c", "task v { true; }", env=env, cwd=tmp_path)
    assert "open to others" not in again.err  # said once


def test_an_open_history_is_made_private_and_fmsh_says_so(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "history.db"
    store = HistoryStore(str(path))
    store.record("echo hi", str(tmp_path), "here", "s1")
    store.close()
    path.chmod(0o644)
    store = HistoryStore(str(path))
    store.record("echo again", str(tmp_path), "here", "s1")
    store.close()
    assert f"the history {path} was open to others (mode 644): made 0600" in capfd.readouterr().err
    assert _mode(path) == "0o600"
    assert [e["command"] for e in HistoryStore(str(path)).entries()] == ["echo hi", "echo again"]
