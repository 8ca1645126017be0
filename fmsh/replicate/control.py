"""The owner's side of a replicated journal: which epoch this machine holds, the
Litestream child that streams the journal to that epoch's path, the sync after each step,
the heartbeat, and the fence.

    FMSH_REPLICA=file:///srv/fmsh   (or sftp://user@host/path; [replicate] url in config.toml)

A journal that replicates has a sidecar, `journal.db.replica` (JSON: url, epoch): the
epoch this machine claimed on the replica. A task here runs only while that epoch is the
newest one on the replica; once another machine claims a newer one (`recover`), the
fence stops the task before its next step, and whatever this machine still writes goes
to its dead epoch's path, where no one reads it.

After each step's result is committed, the commit is synced to the replica (`litestream
sync -wait`) before the task goes on: an acknowledged step is never lost. If the replica
cannot be reached the task stops before its next step, unless FMSH_REPLICA_REQUIRED=0
(then it goes on, and says so once).

One Litestream per journal: the first process that needs it starts it and holds a lock
(state folder `journal.db.litestream/`); another process of the same journal syncs through
the running one's control socket, and starts its own if that one is gone.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from typing import Any

from fmsh.journal.errors import TaskStopped
from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from fmsh.replicate.litestream import Litestream
    from fmsh.replicate.store import ReplicaStore

DEFAULT_TTL = 10.0
HEARTBEAT = 1.0  # seconds between heartbeats, and the longest a fence check may be stale
RETRY_LOST = 10.0  # FMSH_REPLICA_REQUIRED=0: seconds between tries of a replica that was lost


class ReplicaSettings:
    """Where the journal replicates, and how strictly."""

    def __init__(self, url: str, ttl: float, required: bool) -> None:
        self.url = url
        self.ttl = ttl
        self.required = required

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ReplicaSettings | None:
        """FMSH_REPLICA (or `--replica URL`), then [replicate] url in the config file;
        None when the journal does not replicate (the default)."""
        from fmsh.runtime import settings

        section = settings.config().get("replicate")
        table: dict[str, Any] = section if isinstance(section, dict) else {}
        url = environ.get("FMSH_REPLICA") or str(table.get("url") or "")
        if not url or url == "none":
            return None
        ttl_text = environ.get("FMSH_REPLICA_TTL") or str(table.get("ttl") or "")
        ttl = settings.seconds(ttl_text, "FMSH_REPLICA_TTL") if ttl_text else None
        required_text = environ.get("FMSH_REPLICA_REQUIRED", str(table.get("required", "1")))
        required = required_text.lower() not in ("0", "no", "false", "off")
        return cls(url, ttl or DEFAULT_TTL, required)


def sidecar_path(journal_path: str) -> str:
    return journal_path + ".replica"


def read_sidecar(journal_path: str) -> dict[str, Any] | None:
    try:
        with open(sidecar_path(journal_path), encoding="utf-8") as f:
            value = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ShellError(f"{sidecar_path(journal_path)}: unreadable ({e}); it says which replica epoch this "
                         "journal holds: restore it, or recover from the replica") from None  # fmt: skip
    return value if isinstance(value, dict) else None


def write_sidecar(journal_path: str, url: str, epoch: int) -> None:
    path = sidecar_path(journal_path)
    temporary = f"{path}.{os.getpid()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"url": url, "epoch": epoch}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def owner_record(epoch: int) -> dict[str, Any]:
    return {"epoch": epoch, "owner": f"{socket.gethostname()}:{os.getpid()}", "at": time.time()}


class Replication:
    """This process's part in replicating one journal."""

    def __init__(self, journal_path: str, replica: ReplicaSettings, environ: Mapping[str, str]) -> None:
        self.journal_path = journal_path
        self.settings = replica
        self.environ = environ
        self.store: ReplicaStore | None = None
        self.epoch = 0
        self.litestream: Litestream | None = None  # ours, when this process started it
        self._joined: Litestream | None = None  # another process's, synced through its socket
        self.fenced: str | None = None  # why the task must stop
        self.last_check = 0.0  # monotonic: when the fence was last looked at
        self.last_sync_seconds: float | None = None
        self._lock_fd: int | None = None
        self._warned = False
        self._retry_at = 0.0  # monotonic: a lost replica is not tried again before then
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- joining ------------------------------------------------------------------------

    def attach(self) -> None:
        """Before a task runs here: this machine holds the newest epoch (claiming epoch 1
        of a new replica), Litestream streams the journal to it, and the heartbeat runs."""
        from fmsh.replicate.store import open_store

        self.store = open_store(self.settings.url, self.environ)
        self.epoch = self._owned_epoch(self.store)
        self._ensure_litestream()
        self.sync()
        self.last_check = time.monotonic()
        self._thread = threading.Thread(target=self._beat, name="fmsh-replica", daemon=True)
        self._thread.start()

    def _owned_epoch(self, store: ReplicaStore) -> int:
        url = self.settings.url
        sidecar = read_sidecar(self.journal_path)
        newest = store.newest()
        if sidecar is None:
            if newest:
                claim = store.read_claim(newest) or {}
                raise ShellError(
                    f"the replica {url} already holds epoch {newest} of a journal (owner {claim.get('owner', '?')}), "
                    f"and {self.journal_path} is not it: `fmsh --recover --from {url}` takes it over here, "
                    "or name another replica", status=2)  # fmt: skip
            if not store.claim(1, owner_record(1)):
                raise ShellError(f"another machine claimed epoch 1 of {url} first: try again", status=75)
            write_sidecar(self.journal_path, url, 1)
            return 1
        if sidecar.get("url") != url:
            raise ShellError(
                f"{self.journal_path} replicates to {sidecar.get('url')}, not {url}: "
                "set FMSH_REPLICA to that one, or start a new journal", status=2)  # fmt: skip
        epoch = self.epoch = int(sidecar.get("epoch") or 0)
        if newest > epoch:
            raise TaskStopped(self._taken_over(store, newest))
        return epoch

    def _taken_over(self, store: ReplicaStore, newest: int) -> str:
        claim = store.read_claim(newest) or {}
        return (f"this journal's epoch {self.epoch or '?'} on {self.settings.url} was taken over: epoch {newest} "
                f"belongs to {claim.get('owner', 'another machine')}; this machine runs no further step "
                "(its tasks go on there)")  # fmt: skip

    # --- Litestream ---------------------------------------------------------------------

    def _state_dir(self) -> str:
        path = self.journal_path + ".litestream"
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def _ensure_litestream(self) -> None:
        """Start Litestream, unless another process of this journal runs it (it holds the lock)."""
        from fmsh.replicate.litestream import Litestream

        if self.litestream is not None and self.litestream.alive():
            return
        state = self._state_dir()
        if self._lock_fd is None:
            fd = os.open(os.path.join(state, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return  # another process runs it: sync through its socket
            self._lock_fd = fd
        assert self.store is not None
        self.litestream = Litestream(self.journal_path, self.store.litestream_replica(self.epoch), state)
        self.litestream.start()

    def _socket_sync(self) -> float:
        from fmsh.replicate.litestream import Litestream

        if self._joined is None:
            assert self.store is not None
            self._joined = Litestream(self.journal_path, self.store.litestream_replica(self.epoch), self._state_dir())
            self._joined.join()
        return self._joined.sync()

    def sync(self) -> None:
        """The journal as committed, on the replica (`litestream sync -wait`)."""
        from fmsh.replicate.litestream import ReplicaError

        if time.monotonic() < self._retry_at:
            return  # lost, and told to go on without it: look again now and then, not at every step
        try:
            try:
                took = self.litestream.sync() if self.litestream is not None else self._socket_sync()
            except ReplicaError:
                self._ensure_litestream()  # the process that ran it may have ended: run our own
                took = self.litestream.sync() if self.litestream is not None else self._socket_sync()
        except ShellError as e:
            if self.settings.required:
                self.fenced = (
                    f"the replica {self.settings.url} did not take the last step: {e.message}; the task stops "
                    "before its next step (FMSH_REPLICA_REQUIRED=0 goes on without the replica)"
                )
                raise TaskStopped(self.fenced) from None
            self._retry_at = time.monotonic() + RETRY_LOST
            if not self._warned:
                self._warned = True
                import sys

                sys.stderr.write(f"fmsh: replica {self.settings.url}: {e.message}; going on without it\n")
            return
        self.last_sync_seconds = took
        self._record_sync(took)

    def _record_sync(self, took: float) -> None:
        """For `replicate status`: when the last sync was and how long it took."""
        path = os.path.join(self._state_dir(), "last-sync")
        try:
            fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private, as its folder
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"at": time.time(), "seconds": took, "epoch": self.epoch}, f)
            os.replace(path + ".tmp", path)
        except OSError:
            pass

    # --- the fence and the heartbeat ----------------------------------------------------

    def check(self) -> None:
        """Before a step: stop if another machine took the journal over. Looked at on the
        replica when the last look is older than a heartbeat (CLOCK_MONOTONIC goes on
        while a process is stopped, so a process woken by SIGCONT looks before it runs)."""
        if self.fenced is None and time.monotonic() - self.last_check > HEARTBEAT / 2:
            self._look()
        if self.fenced is not None:
            raise TaskStopped(self.fenced)

    def _look(self) -> None:
        assert self.store is not None
        try:
            newest = self.store.newest()
        except ShellError:
            return  # the replica cannot be reached: the sync after the step says so
        self.last_check = time.monotonic()
        if newest > self.epoch:
            self.fenced = self._taken_over(self.store, newest)

    def _beat(self) -> None:
        count = 0
        while not self._stop.wait(HEARTBEAT):
            if self.fenced is not None:
                return
            self._look()
            count += 1
            record = owner_record(self.epoch) | {"count": count}
            try:
                assert self.store is not None
                self.store.write_heartbeat(self.epoch, record)
            except ShellError:
                continue  # a standby sees the silence; the next sync reports the replica
            except Exception:  # noqa: BLE001 - the store was closed under us: the task is ending
                return

    def detach(self) -> None:
        """The task ended here: its last commit synced, the heartbeat and Litestream stopped."""
        self._stop.set()
        if self.fenced is None:
            try:
                self.sync()
            except TaskStopped:
                pass  # said already
        if self._thread is not None:
            self._thread.join(2.0)
        if self.fenced is None and self.store is not None:
            try:  # a standby does not take an owner with no task running for a dead one
                self.store.write_heartbeat(self.epoch, owner_record(self.epoch) | {"state": "idle"})
            except ShellError:
                pass
        if self.litestream is not None:
            # Litestream's own last sync retries for half a minute when the replica is gone
            self.litestream.stop(timeout=1.0 if self._warned or self.fenced else 5.0)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self.store is not None:
            self.store.close()


def replication_for(environ: Mapping[str, str], journal_path: str) -> Replication | None:
    """The journal's replication: as configured, else as its sidecar says (a journal that
    replicates goes on replicating when resumed without --replica; FMSH_REPLICA=none stops
    it), else None."""
    from fmsh.journal import is_cluster

    if is_cluster(journal_path):
        if environ.get("FMSH_REPLICA") not in (None, "", "none"):
            raise ShellError(
                "FMSH_REPLICA replicates a journal file; this journal is an rqlite cluster, which replicates "
                "itself (unset FMSH_REPLICA)",
                status=2,
            )
        return None
    replica = ReplicaSettings.from_environ(environ)
    if replica is None and environ.get("FMSH_REPLICA") != "none":
        url = (read_sidecar(journal_path) or {}).get("url")
        if url:
            replica = ReplicaSettings.from_environ({**environ, "FMSH_REPLICA": str(url)})
    return None if replica is None else Replication(journal_path, replica, environ)
