"""The replica store (fmsh/replicate/store.py): epochs claimed by exclusive create, heartbeats
replaced atomically, listings; on a local directory and over SFTP to real sshd servers
(tests/sshd.py; the "remote" directory is on this machine, so the files are checked here)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fmsh.replicate.store import StoreError, open_store

# A claimer in a process of its own: connects, says "ready", claims when told to; then
# says how paramiko was loaded (fmsh loads it without its package __init__: no SFTPClient
# name on the package).
CLAIMER = """
import json, os, sys
from fmsh.replicate.store import open_store
store = open_store(sys.argv[1], os.environ)
store.epochs()
print("ready", flush=True)
sys.stdin.readline()
claimed = store.claim(int(sys.argv[2]), {"epoch": int(sys.argv[2]), "owner": sys.argv[3]})
store.close()
p = sys.modules.get("paramiko")
print(json.dumps([claimed, None if p is None else "full" if hasattr(p, "SFTPClient") else "partial"]), flush=True)
"""


def record(epoch: int, owner: str = "here:1") -> dict[str, object]:
    return {"epoch": epoch, "owner": owner, "machine": "test", "at": time.time()}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def race(url: str, epoch: int, env: dict[str, str], claimers: int, paramiko: str | None) -> list[bool]:
    """`claimers` processes claim the same epoch at once; what each got."""
    full = {**os.environ, **env}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, url, str(epoch), f"claimer-{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full,
        )
        for n in range(claimers)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == "ready\n", p.communicate()
    for p in procs:  # all are connected and waiting: let them go together
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        claimed, loaded = json.loads(out)
        assert loaded == paramiko
        results.append(claimed)
    return results


def check_store(store, base: Path) -> None:  # type: ignore[no-untyped-def]
    """The same behaviour whatever the kind of store: claims, listing, heartbeats, modes."""
    assert store.epochs() == [] and store.newest() == 0 and store.read_claim(1) is None
    assert store.claim(1, record(1, "first:1")) is True
    assert store.claim(1, record(1, "second:2")) is False
    assert store.read_claim(1)["owner"] == "first:1"
    assert store.claim(2, record(2)) is True
    # An epoch directory without a claim (a claimer between mkdir and create), a name that
    # is not digits and one fmsh would not write are not epochs; more than 8 digits are.
    (base / "epochs" / "00000009").mkdir()
    (base / "epochs" / "notes").mkdir()
    (base / "epochs" / "12").mkdir()
    (base / "epochs" / "12" / "claim").write_text(json.dumps(record(12)))
    assert store.epochs() == [1, 2] and store.newest() == 2
    assert store.claim(123456789, record(123456789))
    assert (base / "epochs" / "123456789" / "claim").exists()
    assert store.epochs() == [1, 2, 123456789] and store.newest() == 123456789
    claim = base / "epochs" / "00000001" / "claim"
    assert json.loads(claim.read_text()) == store.read_claim(1)
    assert mode(claim) == 0o600
    assert mode(base) == mode(base / "epochs") == mode(claim.parent) == 0o700

    assert store.read_heartbeat(2) is None
    store.write_heartbeat(2, record(2) | {"count": 1})
    store.write_heartbeat(2, record(2) | {"count": 2})
    assert store.read_heartbeat(2)["count"] == 2
    assert sorted(os.listdir(base / "epochs" / "00000002")) == ["claim", "heartbeat"]  # no temporary left
    assert mode(base / "epochs" / "00000002" / "heartbeat") == 0o600

    # A claim caught between its create and its write reads as incomplete, not as missing.
    (base / "epochs" / "00000003").mkdir()
    (base / "epochs" / "00000003" / "claim").write_text("")
    assert store.read_claim(3) == {"epoch": 3, "incomplete": True}
    (base / "epochs" / "00000002" / "heartbeat").write_text("{not json")
    with pytest.raises(StoreError, match="not a heartbeat fmsh wrote"):
        store.read_heartbeat(2)


# --- file:// ----------------------------------------------------------------------------


def test_file_store(tmp_path: Path) -> None:
    base = tmp_path / "replica"
    store = open_store(f"file://{base}", {})
    check_store(store, base)
    assert store.litestream_replica(4) == {"type": "file", "path": f"{base}/epochs/00000004/db"}


def test_file_claims_race_between_processes(tmp_path: Path) -> None:
    results = race(f"file://{tmp_path}/replica", 1, {}, 8, paramiko=None)
    assert results.count(True) == 1, results
    winner = f"claimer-{results.index(True)}"
    assert open_store(f"file://{tmp_path}/replica", {}).read_claim(1)["owner"] == winner


def test_file_store_errors(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    store = open_store(f"file://{afile}", {})
    with pytest.raises(StoreError, match="is a file, not a directory"):
        store.epochs()
    with pytest.raises(StoreError, match="is a file, not a directory"):
        store.claim(1, record(1))
    store = open_store(f"file://{afile}/below", {})
    with pytest.raises(StoreError, match="afile is a file, not a directory"):
        store.claim(1, record(1))
    # /sys refuses a mkdir even to root.
    store = open_store("file:///sys/fmsh-replica-test", {})
    assert store.epochs() == []
    with pytest.raises(StoreError, match="mkdir /sys/fmsh-replica-test: Operation not permitted; check the owner"):
        store.claim(1, record(1))


def test_urls() -> None:
    with pytest.raises(StoreError) as e:
        open_store("s3://bucket/path", {})
    assert e.value.status == 2 and "conditional put" in e.value.message and "file:// or sftp://" in e.value.message
    with pytest.raises(StoreError) as e:
        open_store("gcs://bucket/path", {})
    assert e.value.status == 2 and "file:///abs/path or sftp://" in e.value.message
    bad_urls = ("file://relative/path", "file://otherhost/abs", "file:///", "sftp://host", "sftp://host/",
                "sftp://host:99999/x", "sftp://user:secret@host/x")  # fmt: skip
    for bad in bad_urls:
        with pytest.raises(StoreError) as e:
            open_store(bad, {})
        assert e.value.status == 2, bad
    assert open_store("/abs/path", {}).litestream_replica(1)["path"] == "/abs/path/epochs/00000001/db"
    assert open_store("file://localhost/abs/path/", {}).litestream_replica(1)["type"] == "file"


# --- sftp:// ----------------------------------------------------------------------------


def test_sftp_store(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = tmp_path / "remote"
    store = open_store(f"sftp://host01{base}", ssh_lab.env())
    try:
        check_store(store, base)
    finally:
        store.close()


def test_sftp_claims_race_between_processes(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sftp://{ssh_lab.user}@host02{tmp_path}/remote"
    results = race(url, 5, ssh_lab.env(), 6, paramiko="partial")
    assert results.count(True) == 1, results
    claim = json.loads((tmp_path / "remote" / "epochs" / "00000005" / "claim").read_text())
    assert claim["owner"] == f"claimer-{results.index(True)}"


def test_sftp_litestream_replica(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sftp://host03{tmp_path}/remote", ssh_lab.env())
    address, port = ssh_lab.addresses["host03"]
    public = ssh_lab.server_of("host03").public.split()
    try:
        assert store.litestream_replica(3) == {
            "type": "sftp",
            "host": f"{address}:{port}",
            "user": ssh_lab.user,
            "path": f"{tmp_path}/remote/epochs/00000003/db",
            "key-path": str(ssh_lab.client_key),
            "host-key": f"{public[0]} {public[1]}",
        }
    finally:
        store.close()


def test_sftp_path_problems(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    afile = tmp_path / "afile"
    afile.write_text("x")
    store = open_store(f"sftp://host04{afile}", ssh_lab.env())
    try:
        with pytest.raises(StoreError, match="is a file, not a directory"):
            store.epochs()
        with pytest.raises(StoreError, match="is a file, not a directory"):
            store.claim(1, record(1))
    finally:
        store.close()
    store = open_store("sftp://host04/sys/fmsh-replica-test", ssh_lab.env())
    try:
        with pytest.raises(StoreError, match=r"mkdir /sys/fmsh-replica-test: permission denied \(check its owner"):
            store.claim(1, record(1))
    finally:
        store.close()


def test_sftp_unknown_and_changed_host_keys_are_refused(private_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sshd import keygen

    address, port = private_lab.addresses["host01"]
    other_address, other_port = private_lab.addresses["host02"]
    private_lab.known_hosts.write_text(f"[{other_address}]:{other_port} {private_lab.server_of('host02').public}\n")
    url = f"sftp://host01{tmp_path}/remote"
    store = open_store(url, private_lab.env())
    with pytest.raises(StoreError) as e:
        store.claim(1, record(1))
    assert e.value.message.startswith(f"replica {url}: ")
    assert "host-key: unknown host key" in e.value.message and "FMSH_HOST_KEYS=accept-new" in e.value.message
    assert not (tmp_path / "remote").exists()
    store.close()

    private_lab.known_hosts.write_text(f"[{address}]:{port} {keygen(tmp_path / 'other_key')}\n")
    store = open_store(url, private_lab.env())
    with pytest.raises(StoreError, match="HOST KEY CHANGED"):
        store.epochs()
    store.close()


def test_sftp_unreachable_and_silent_hosts_fail_in_time(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    store = open_store(f"sftp://127.0.0.1:{closed}{tmp_path}/remote", ssh_lab.env())
    started = time.monotonic()
    with pytest.raises(StoreError, match="refused: connection refused; is sshd running there"):
        store.epochs()
    assert time.monotonic() - started < 5  # the lab's ConnectTimeout

    with socket.socket() as silent:  # accepts connections (the kernel does) and says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        config = tmp_path / "ssh_config"
        config.write_text(
            f"Host silent\n  HostName 127.0.0.1\n  Port {silent.getsockname()[1]}\n  ConnectTimeout 1\n"
            + ssh_lab.ssh_config.read_text()
        )
        store = open_store(f"sftp://silent{tmp_path}/remote", ssh_lab.env() | {"FMSH_SSH_CONFIG": str(config)})
        started = time.monotonic()
        with pytest.raises(StoreError, match="connect-timeout: no SSH version line within 1s"):
            store.newest()
        assert time.monotonic() - started < 3


def test_sftp_auth_failure(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sftp://nosuchuser@host05{tmp_path}/remote", ssh_lab.env())
    with pytest.raises(StoreError, match="auth: .*public key refused.*must be in authorized_keys there"):
        store.epochs()
    store.close()


def test_sftp_reconnects_after_the_server_restarts(private_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sftp://host02{tmp_path}/remote", private_lab.env())
    try:
        assert store.claim(1, record(1))
        server = private_lab.server_of("host02")
        server.kill_all()
        with pytest.raises(StoreError, match="refused|lost"):
            store.write_heartbeat(1, record(1))
        server.start()
        try:
            store.write_heartbeat(1, record(1) | {"count": 1})
        except StoreError:  # the dead connection noticed only now: the next one connects anew
            store.write_heartbeat(1, record(1) | {"count": 1})
        assert store.read_heartbeat(1)["count"] == 1
    finally:
        store.close()


def test_sftp_a_frozen_server_does_not_hang_the_store(private_lab, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A heartbeat to a server that stopped answering fails in time (the request timeout,
    at least the ConnectTimeout), and the next one connects anew."""
    import fmsh.remote.sftp

    monkeypatch.setattr(fmsh.remote.sftp, "_REQUEST_TIMEOUT", 1.0)
    config = tmp_path / "ssh_config"
    config.write_text("Host host03\n  ConnectTimeout 1\n" + private_lab.ssh_config.read_text())
    store = open_store(f"sftp://host03{tmp_path}/remote", private_lab.env() | {"FMSH_SSH_CONFIG": str(config)})
    server = private_lab.server_of("host03")
    try:
        assert store.claim(1, record(1))
        server.freeze()
        started = time.monotonic()
        with pytest.raises(StoreError, match="no answer to replace .*heartbeat in time"):
            store.write_heartbeat(1, record(1))
        assert time.monotonic() - started < 3
        started = time.monotonic()  # still frozen: a new connection times out too
        with pytest.raises(StoreError, match="connect-timeout"):
            store.write_heartbeat(1, record(1))
        assert time.monotonic() - started < 3
        server.freeze(18)
        store.write_heartbeat(1, record(1) | {"count": 7})
        assert store.read_heartbeat(1)["count"] == 7
    finally:
        server.freeze(18)
        store.close()
