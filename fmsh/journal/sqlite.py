"""The embedded journal: one SQLite file, the default store (see journal/base.py).

WAL mode (readers never block the writer), `busy_timeout` (a writer waits for another
instead of failing at once), every write one `BEGIN IMMEDIATE` transaction (the write
lock is taken before anything is read, so a check and the change it decides are atomic),
the file private to its user (0600, in a 0700 directory). `synchronous=NORMAL` by
default: a commit survives the death of fmsh (SIGKILL) at no fsync cost per step; a power
cut may lose the last steps, which then run again, as an interrupted step does.
FMSH_JOURNAL_SYNC=full makes every commit durable on disk too.

One connection, shared by the shell's threads (remote stages record hosts from their own
thread) under a lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from fmsh.journal import schema
from fmsh.journal.base import Chunk, Journal, Owner
from fmsh.journal.errors import (
    JournalDamaged,
    JournalError,
    JournalFull,
    JournalLocked,
    TaskNotFound,
    TaskRefused,
    TaskStopped,
)
from fmsh.journal.records import (
    AttemptRecord,
    CallbackRecord,
    ChunkRecord,
    EventRecord,
    HostRecord,
    HostTryRecord,
    LockRecord,
    ProcessRecord,
    SignalRecord,
    StepRecord,
    TaskRecord,
    WaitRecord,
    text_of,
)
from fmsh.runtime import secrets
from fmsh.runtime.private import make_private

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, TypeVar

    T = TypeVar("T")

_HEADER = b"SQLite format 3\x00"
_CANCELLED = 130  # the status of a shell whose task was cancelled (as if interrupted)
_BATCH = 10000  # task ids bound in one query


class SQLiteJournal(Journal):
    def __init__(self, path: str, timeout: float = 10.0, sync: str = "normal") -> None:
        self.path = path
        self.timeout = timeout
        self._lock = threading.RLock()
        self._writes = 0  # this connection's write transactions (data_version does not count them)
        self._nothing_at: tuple[int, str, int, tuple[int, int]] | None = None  # take_signal's last empty look
        self.conn = self._open(sync)

    # --- opening ------------------------------------------------------------------------

    def _open(self, sync: str) -> sqlite3.Connection:
        path = self.path
        directory = os.path.dirname(os.path.abspath(path))
        try:
            st: os.stat_result | None = os.stat(path)
        except FileNotFoundError:
            st = None
        except OSError as e:
            raise JournalError(f"cannot read the journal {path}: {e.strerror}") from None
        if st is None:
            _create_file(path, directory)
        elif (st.st_dev, st.st_ino) not in _OPEN:
            _check_file(path, directory, st)
        try:
            conn = sqlite3.connect(path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise self._error(e) from None
        conn.row_factory = sqlite3.Row
        try:
            self._setup(conn, sync)
        except sqlite3.Error as e:
            conn.close()
            raise self._error(e) from None
        except BaseException:
            conn.close()
            raise
        if st is not None:
            make_private(path, "journal", st)  # only now that it is known to be a usable journal
        st = os.stat(path)
        self._file = (st.st_dev, st.st_ino)
        _OPEN[self._file] = _OPEN.get(self._file, 0) + 1
        return conn

    def _setup(self, conn: sqlite3.Connection, sync: str) -> None:
        # First what the file is, with reads only: nothing is changed (not even the switch to
        # WAL) in a file that is not a journal this fmsh can use.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = self._tables(conn)  # reading the schema also finds a damaged first page
        if (version == 0 and tables) or (version > 0 and "schema_migrations" not in tables):
            raise self._foreign(tables)
        if version > schema.LATEST:
            raise JournalError(
                f"the journal {self.path} was written by a newer fmsh (schema {version}; this fmsh knows up to "
                f"{schema.LATEST}): upgrade fmsh, or set FMSH_JOURNAL to another journal"
            )
        if version > 0:
            self._probe(conn)
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._switch_to_wal(conn)
        conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
        if version < schema.LATEST:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]  # another shell may have migrated
                if version == 0:
                    self._refuse_foreign(conn)
                if version < schema.LATEST:
                    schema.migrate(conn, version, time.time())
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _switch_to_wal(self, conn: sqlite3.Connection) -> None:
        """A new journal's switch to WAL needs the file to itself, and SQLite answers
        `locked` at once, without its busy wait, while another process opens the same new
        journal (two fmsh started together): try again, for as long as a writer waits."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)

    @staticmethod
    def _tables(conn: sqlite3.Connection) -> list[str]:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]

    def _refuse_foreign(self, conn: sqlite3.Connection) -> None:
        tables = self._tables(conn)
        if tables:
            raise self._foreign(tables)

    def _foreign(self, tables: list[str]) -> JournalError:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        has = f"it has the tables {shown}" if tables else "it has no tables"
        return JournalError(
            f"{self.path} is a SQLite database but not an fmsh journal ({has}); "
            "nothing was changed: set FMSH_JOURNAL to another path"
        )

    @staticmethod
    def _probe(conn: sqlite3.Connection) -> None:
        """Find a damaged journal before anything is written to it, not halfway through a
        task: read the last entry of every table and index, i.e. its root page and the
        pages down to where a new task's rows go (a few pages each). Not a full check:
        damage deeper in a big journal (`PRAGMA quick_check` reads every page, ~0.2 s per
        200 MB, too slow for every start) is still found only when it is read."""
        entries = conn.execute(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index') AND rootpage > 0"
        ).fetchall()
        for kind, name, table in entries:
            if kind == "table":
                sql = f"SELECT max(rowid) FROM {_quoted(name)}"
            else:
                first = conn.execute(f"PRAGMA index_info({_quoted(name)})").fetchone()
                if first is None or first[2] is None:
                    continue  # an index on an expression
                sql = f"SELECT max({_quoted(first[2])}) FROM {_quoted(table)} INDEXED BY {_quoted(name)}"
            try:
                conn.execute(sql).fetchone()
            except sqlite3.OperationalError as e:
                if "no such column" not in str(e) and "no query solution" not in str(e):
                    raise
                # a WITHOUT ROWID table or a partial index: not probed this way

    def _error(self, error: sqlite3.Error) -> JournalError:
        """A SQLite error as a message that names the journal and the way out."""
        text = str(error)
        path = self.path
        if "locked" in text or "busy" in text:
            return JournalLocked(
                f"the journal {path} is locked by another process (waited {self.timeout:g} s): find the holder "
                f"with `fuser {path}` or `lsof {path}`; FMSH_JOURNAL_TIMEOUT sets how long to wait"
            )
        if "not a database" in text or "encrypted" in text:
            return _not_sqlite(path)
        if "malformed" in text or "corrupt" in text:
            return JournalDamaged(
                f"the journal {path} is damaged ({text}); fmsh will not write to it. Keep a copy, rescue what "
                f"can be read with `sqlite3 {path} .recover | sqlite3 NEW.db`, or set FMSH_JOURNAL to start a new one"
            )
        if "readonly" in text or "unable to open" in text or "I/O" in text:
            return JournalError(
                f"cannot write the journal {path} ({text}): the file and its directory must be writable; "
                "or set FMSH_JOURNAL to another path"
            )
        if "full" in text:
            task = f"fmsh --resume {self.task_id}" if self.task_id is not None else "fmsh --resume ID"
            return JournalFull(
                f"cannot write the journal {path}: its disk is full; the task stops here and what it journaled "
                f"is kept: free space on the filesystem of {os.path.dirname(path) or '.'}, then `{task}`"
            )
        return JournalError(f"the journal {path}: {text}")

    # --- transactions -------------------------------------------------------------------

    def _write(self, action: Callable[[sqlite3.Connection], T]) -> T:
        """Run `action` in one write transaction."""
        with self._lock:
            conn = self.conn
            self._writes += 1
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = action(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.Error as e:
                raise self._error(e) from None

    def _change_mark(self) -> tuple[int, int]:
        """Changes when anyone commits to the journal: another connection (SQLite's
        data_version) or this one."""
        with self._lock:
            try:
                return self.conn.execute("PRAGMA data_version").fetchone()[0], self._writes
            except sqlite3.Error as e:
                raise self._error(e) from None

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self.conn.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise self._error(e) from None

    def _fence(self, conn: sqlite3.Connection, task_id: int, epoch: int) -> None:
        """Refuse a write from an owner that no longer holds the task."""
        row = conn.execute("SELECT epoch, status, owner_host, owner_pid FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise TaskStopped(f"task {task_id} was removed from the journal (`forget`) while it ran; stopping")
        if row["epoch"] != epoch:
            raise TaskStopped(
                f"task {task_id} was taken over by {row['owner_host']}:{row['owner_pid']} (epoch {row['epoch']}); "
                f"this shell (epoch {epoch}) stops without running another step"
            )
        if row["status"] == "cancelled":
            raise TaskStopped(f"task {task_id} was cancelled; stopping", status=_CANCELLED)

    @staticmethod
    def _event(
        conn: sqlite3.Connection, task_id: int, kind: str, epoch: int | None, owner: str | None, detail: str | None
    ) -> None:
        conn.execute(
            "INSERT INTO events (task_id, at, kind, epoch, owner, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (task_id, time.time(), kind, epoch, owner, secrets.mask_optional(detail)),
        )

    # --- tasks --------------------------------------------------------------------------

    def create_task(self, values: dict[str, Any], owner: Owner, lease: float) -> TaskRecord:
        now = time.time()
        row = dict(values)
        if row.get("source"):
            # A secret typed into a command line: the line is the task's source.
            row["source"] = secrets.mask(row["source"])
        row.update(
            status="running",
            epoch=1,
            owner_host=owner.host,
            owner_pid=owner.pid,
            owner_started=owner.started,
            lease_expires=now + lease,
            heartbeat_at=now,
            created_at=now,
            updated_at=now,
        )
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)

        def action(conn: sqlite3.Connection) -> int:
            task_id = conn.execute(f"INSERT INTO tasks ({names}) VALUES ({marks})", tuple(row.values())).lastrowid
            assert task_id is not None
            self._event(conn, task_id, "created", 1, str(owner), None)
            return task_id

        task = self.task(self._write(action))
        assert task is not None
        return task

    def submit_task(self, values: dict[str, Any], queue: str, bindings: list[tuple[str, int, str]]) -> int:
        now = time.time()
        row = dict(values)
        row["source"] = secrets.mask(row.get("source") or "")
        row.update(status="queued", epoch=0, queue=queue, created_at=now, updated_at=now)
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)

        def action(conn: sqlite3.Connection) -> int:
            task_id = conn.execute(f"INSERT INTO tasks ({names}) VALUES ({marks})", tuple(row.values())).lastrowid
            assert task_id is not None
            self._event(conn, task_id, "submitted", 0, None, f"queue {queue}")
            conn.executemany(
                "INSERT INTO bindings (task_id, name, seq, value, step) VALUES (?, ?, ?, ?, 0)",
                [(task_id, name, n, _storable(secrets.mask(value))) for name, n, value in bindings],
            )
            return task_id

        return self._write(action)

    def runnable_tasks(self, queue: str, limit: int) -> list[TaskRecord]:
        rows = self._read(
            "SELECT * FROM tasks WHERE queue = ? AND (status IN ('queued', 'interrupted') "
            "OR (status = 'running' AND lease_expires < ?)) ORDER BY id LIMIT ?",
            (queue, time.time(), limit),
        )
        return [TaskRecord.from_row(r) for r in rows]

    def claim_task(
        self, task_id: int, owner: Owner, lease: float, refusal: Callable[[TaskRecord], str | None]
    ) -> TaskRecord:
        def action(conn: sqlite3.Connection) -> None:
            task = self._task_in(conn, task_id)
            reason = refusal(task)
            if reason is not None:
                raise TaskRefused(reason)
            now = time.time()
            epoch = task.epoch + 1
            conn.execute(
                "UPDATE tasks SET epoch = ?, status = 'running', owner_host = ?, owner_pid = ?, owner_started = ?, "
                "lease_expires = ?, heartbeat_at = ?, updated_at = ?, finished_at = NULL, exit_status = NULL "
                "WHERE id = ?",
                (epoch, owner.host, owner.pid, owner.started, now + lease, now, now, task_id),
            )
            # Attempts left open belonged to an owner that is gone.
            conn.execute(
                "UPDATE attempts SET outcome = 'interrupted' WHERE task_id = ? AND outcome IS NULL", (task_id,)
            )
            previous = f"from {task.owner_host}:{task.owner_pid}, epoch {task.epoch}, {task.status}"
            self._event(conn, task_id, "claimed", epoch, str(owner), previous)

        self._write(action)
        task = self.task(task_id)
        assert task is not None
        return task

    def _task_in(self, conn: sqlite3.Connection, task_id: int) -> TaskRecord:
        row = conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise TaskNotFound(str(task_id), self.path)
        return TaskRecord.from_row(row)

    def renew_lease(self, task_id: int, epoch: int, lease: float) -> str | None:
        now = time.time()

        def action(conn: sqlite3.Connection) -> str | None:
            changed = conn.execute(
                "UPDATE tasks SET lease_expires = ?, heartbeat_at = ? "
                "WHERE id = ? AND epoch = ? AND status = 'running'",
                (now + lease, now, task_id, epoch),
            ).rowcount
            if changed:
                return None
            row = conn.execute(
                "SELECT epoch, status, owner_host, owner_pid FROM tasks WHERE id = ?", (task_id,)
            ).fetchone()
            if row is None:
                return "it was removed from the journal (`forget`)"
            if row["status"] == "cancelled":
                return "it was cancelled"
            if row["epoch"] != epoch:
                return f"it was taken over by {row['owner_host']}:{row['owner_pid']} (epoch {row['epoch']})"
            return f"it is {row['status']}"

        return self._write(action)

    def end_task(self, task_id: int, epoch: int, status: str, exit_status: int | None) -> None:
        now = time.time()

        def action(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT epoch, status FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row is None or row["epoch"] != epoch:
                return  # no longer ours: the new owner writes the ending
            final = "cancelled" if row["status"] == "cancelled" else status
            conn.execute(
                "UPDATE tasks SET status = ?, exit_status = ?, updated_at = ?, finished_at = ?, lease_expires = NULL "
                "WHERE id = ?",
                (final, exit_status, now, now if final != "interrupted" else None, task_id),
            )
            self._event(conn, task_id, final, epoch, None, f"exit status {exit_status}")

        self._write(action)

    def cancel_task(self, task_id: int, refusal: Callable[[TaskRecord], str | None]) -> TaskRecord:
        def action(conn: sqlite3.Connection) -> None:
            task = self._task_in(conn, task_id)
            reason = refusal(task)
            if reason is not None:
                raise TaskRefused(reason)
            now = time.time()
            conn.execute(
                "UPDATE tasks SET status = 'cancelled', updated_at = ?, finished_at = ? WHERE id = ?",
                (now, now, task_id),
            )
            self._event(conn, task_id, "cancelled", task.epoch, None, f"was {task.status}")

        self._write(action)
        task = self.task(task_id)
        assert task is not None
        return task

    def forget_task(self, task_id: int, refusal: Callable[[TaskRecord], str | None]) -> None:
        def action(conn: sqlite3.Connection) -> None:
            task = self._task_in(conn, task_id)
            reason = refusal(task)
            if reason is not None:
                raise TaskRefused(reason)
            for table in ("output", "step_hosts", "host_tries", "remote_processes", "attempts", "bindings", "events",
                          "signals", "waits", "steps"):  # fmt: skip
                conn.execute(f"DELETE FROM {table} WHERE task_id = ?", (task_id,))
            conn.execute("DELETE FROM tasks WHERE id = ?", (task_id,))

        self._write(action)

    def replace_source(self, task_id: int, epoch: int, source: str, source_hash: str, detail: str) -> None:
        def action(conn: sqlite3.Connection) -> None:
            self._fence(conn, task_id, epoch)
            conn.execute(
                "UPDATE tasks SET source = ?, source_hash = ?, updated_at = ? WHERE id = ?",
                (secrets.mask(source), source_hash, time.time(), task_id),
            )
            self._event(conn, task_id, "changed", epoch, None, detail)

        self._write(action)

    def set_task_deadline(self, task_id: int, epoch: int, at: float | None) -> None:
        def action(conn: sqlite3.Connection) -> None:
            self._fence(conn, task_id, epoch)
            conn.execute("UPDATE tasks SET deadline = ?, updated_at = ? WHERE id = ?", (at, time.time(), task_id))

        self._write(action)

    def fence_running(self, reason: str) -> list[int]:
        def action(conn: sqlite3.Connection) -> list[int]:
            ids = [row[0] for row in conn.execute("SELECT id FROM tasks WHERE status = 'running' ORDER BY id")]
            for task_id in ids:
                conn.execute(
                    "UPDATE tasks SET status = 'interrupted', updated_at = ? WHERE id = ?", (time.time(), task_id)
                )
                self._event(conn, task_id, "fenced", None, None, reason)
            return ids

        return self._write(action)

    def add_event(
        self, task_id: int, kind: str, epoch: int | None = None, owner: str | None = None, detail: str | None = None
    ) -> None:
        self._write(lambda conn: self._event(conn, task_id, kind, epoch, owner, detail))

    def carry_steps(self, from_task: int, to_task: int, before_seq: int) -> int:
        step_columns = (
            "seq, key, kind, location, text, context, fingerprint, status, exit_status, pipestatus, output, "
            "wake_at, pid, started_at, ended_at, attempts, tested"
        )
        # The rows that belong to a step, table by table: carried with it.
        per_step = {
            "step_hosts": "seq, host, attempt, status, failure, message, started_at, ended_at, output_bytes, truncated",
            "output": "seq, host, attempt, chunk, stream, data, at",
            "host_tries": 'seq, attempt, host, "try", status, failure, message, started_at, ended_at',
            "waits": "seq, name, kind, deadline, state, started_at, ended_at",
        }
        carried = "seq IN (SELECT seq FROM steps WHERE task_id = ? AND seq < ? AND status = 'finished')"

        def action(conn: sqlite3.Connection) -> int:
            count = conn.execute(
                f"INSERT INTO steps (task_id, {step_columns}, carried_from) SELECT ?, {step_columns}, "
                "? || ':' || seq FROM steps WHERE task_id = ? AND seq < ? AND status = 'finished'",
                (to_task, str(from_task), from_task, before_seq),
            ).rowcount
            for table, columns in per_step.items():
                conn.execute(
                    f"INSERT INTO {table} (task_id, {columns}) SELECT ?, {columns} FROM {table} "
                    f"WHERE task_id = ? AND {carried}",
                    (to_task, from_task, from_task, before_seq),
                )
            conn.execute(
                "INSERT INTO bindings (task_id, name, seq, value, step) SELECT ?, name, seq, value, step "
                "FROM bindings WHERE task_id = ? AND step < ?",
                (to_task, from_task, before_seq),
            )
            return count

        return self._write(action)

    # --- steps --------------------------------------------------------------------------

    def start_step(
        self,
        task_id: int,
        epoch: int,
        step: dict[str, Any],
        new: bool,
        attempt: int,
        owner: str,
        bindings: list[tuple[str, int, str]],
    ) -> None:
        now = time.time()
        seq = step["seq"]

        def action(conn: sqlite3.Connection) -> None:
            self._fence(conn, task_id, epoch)
            if new:
                conn.execute(
                    "INSERT INTO steps (task_id, seq, key, kind, location, text, context, fingerprint, status, "
                    "started_at, attempts, tested, wake_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                    (task_id, seq, step["key"], step["kind"], step["location"], secrets.mask(step["text"]),
                     secrets.mask(step["context"]), step["fingerprint"], now, attempt, step["tested"],
                     step.get("wake_at")),
                )  # fmt: skip
            else:
                conn.execute(
                    "UPDATE steps SET status = 'running', started_at = ?, ended_at = NULL, attempts = ?, "
                    "wake_at = COALESCE(wake_at, ?) WHERE task_id = ? AND seq = ?",
                    (now, attempt, step.get("wake_at"), task_id, seq),
                )
            conn.execute(
                "INSERT INTO attempts (task_id, seq, attempt, epoch, owner, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                (task_id, seq, attempt, epoch, owner, now),
            )
            if bindings:
                conn.executemany(
                    "INSERT OR REPLACE INTO bindings (task_id, name, seq, value, step) VALUES (?, ?, ?, ?, ?)",
                    [(task_id, name, n, _storable(secrets.mask(value)), seq) for name, n, value in bindings],
                )

        self._write(action)

    def finish_step(self, task_id: int, epoch: int, seq: int, attempt: int, result: dict[str, Any]) -> None:
        now = time.time()
        status = result["exit_status"]
        output = _storable(secrets.mask_optional(result.get("output")))

        def action(conn: sqlite3.Connection) -> None:
            self._fence(conn, task_id, epoch)
            conn.execute(
                "UPDATE steps SET status = 'finished', exit_status = ?, pipestatus = ?, output = ?, "
                "pid = COALESCE(?, pid), ended_at = ? WHERE task_id = ? AND seq = ?",
                (status, result.get("pipestatus"), output, result.get("pid"), now, task_id, seq),
            )
            conn.execute(
                "UPDATE attempts SET ended_at = ?, outcome = 'finished', exit_status = ? "
                "WHERE task_id = ? AND seq = ? AND attempt = ?",
                (now, status, task_id, seq, attempt),
            )

        self._write(action)

    def end_attempt(
        self, task_id: int, epoch: int | None, seq: int, attempt: int, outcome: str, error: str | None
    ) -> None:
        now = time.time()

        def action(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT epoch FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row is None or (epoch is not None and row["epoch"] != epoch):
                return
            conn.execute(
                "UPDATE attempts SET ended_at = ?, outcome = ?, error = ? "
                "WHERE task_id = ? AND seq = ? AND attempt = ?",
                (now, outcome, secrets.mask_optional(error), task_id, seq, attempt),
            )

        self._write(action)

    def record_host(
        self, task_id: int, epoch: int, seq: int, attempt: int, host: dict[str, Any], chunks: list[Chunk]
    ) -> None:
        name = host["host"]
        chunks = _masked(chunks, bool(host.get("truncated")))
        message = secrets.mask(host.get("message", ""))

        def action(conn: sqlite3.Connection) -> None:
            self._fence(conn, task_id, epoch)
            conn.execute(
                "INSERT OR REPLACE INTO step_hosts (task_id, seq, host, attempt, status, failure, message, started_at, "
                "ended_at, output_bytes, truncated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (task_id, seq, name, attempt, host["status"], host.get("failure"), message, host.get("started_at"),
                 host.get("ended_at", time.time()), host.get("output_bytes", 0),
                 host.get("truncated", 0)),
            )  # fmt: skip
            if chunks:
                first = conn.execute(
                    "SELECT COALESCE(MAX(chunk), 0) FROM output "
                    "WHERE task_id = ? AND seq = ? AND host = ? AND attempt = ?",
                    (task_id, seq, name, attempt),
                ).fetchone()[0]
                conn.executemany(
                    "INSERT INTO output (task_id, seq, host, attempt, chunk, stream, data, at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(task_id, seq, name, attempt, first + k, c.stream, c.data, c.at) for k, c in enumerate(chunks, 1)],
                )
            if host.get("failure") in _ENDED:
                _close_processes(conn, task_id, seq, attempt, name, None)

        self._write(action)

    def record_host_try(self, task_id: int, epoch: int, seq: int, attempt: int, values: dict[str, Any]) -> None:
        def action(conn: sqlite3.Connection) -> None:
            self._fence(conn, task_id, epoch)
            conn.execute(
                'INSERT OR REPLACE INTO host_tries (task_id, seq, attempt, host, "try", status, failure, message, '
                "started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (task_id, seq, attempt, values["host"], values["try"], values.get("status"), values.get("failure"),
                 secrets.mask_optional(values.get("message")), values.get("started_at"),
                 values.get("ended_at", time.time())),
            )  # fmt: skip
            if values.get("failure") in _ENDED:
                _close_processes(conn, task_id, seq, attempt, values["host"], values["try"])

        self._write(action)

    def record_process(
        self, task_id: int, epoch: int, seq: int, attempt: int, host: str, number: int, pid: int, marker: str
    ) -> None:
        def action(conn: sqlite3.Connection) -> None:
            self._fence(conn, task_id, epoch)
            conn.execute(
                'INSERT OR REPLACE INTO remote_processes (task_id, seq, attempt, host, "try", pid, marker, started_at) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (task_id, seq, attempt, host, number, pid, marker, time.time()),
            )

        self._write(action)

    def open_processes(self, task_id: int) -> list[ProcessRecord]:
        rows = self._read(
            'SELECT * FROM remote_processes WHERE task_id = ? AND ended_at IS NULL ORDER BY seq, attempt, host, "try"',
            (task_id,),
        )
        return [ProcessRecord.from_row(r) for r in rows]

    def close_processes(self, task_id: int, epoch: int, processes: list[ProcessRecord], outcome: str) -> None:
        now = time.time()

        def action(conn: sqlite3.Connection) -> None:
            self._fence(conn, task_id, epoch)
            conn.executemany(
                "UPDATE remote_processes SET ended_at = ?, outcome = ? "
                'WHERE task_id = ? AND seq = ? AND attempt = ? AND host = ? AND "try" = ? AND ended_at IS NULL',
                [(now, outcome, task_id, p.seq, p.attempt, p.host, getattr(p, "try")) for p in processes],
            )

        self._write(action)

    def add_bindings(self, task_id: int, epoch: int, bindings: list[tuple[str, int, str]]) -> None:
        def action(conn: sqlite3.Connection) -> None:
            self._fence(conn, task_id, epoch)
            conn.executemany(
                "INSERT OR REPLACE INTO bindings (task_id, name, seq, value, step) VALUES (?, ?, ?, ?, 0)",
                [(task_id, name, n, _storable(secrets.mask(value))) for name, n, value in bindings],
            )

        self._write(action)

    # --- waits and signals --------------------------------------------------------------

    def begin_wait(self, task_id: int, epoch: int, seq: int, name: str, kind: str, deadline: float | None) -> str:
        now = time.time()
        if kind not in ("signal", "callback"):
            name = secrets.mask(name)  # what is awaited (a URL may hold a token); a signal's name is matched as sent

        def action(conn: sqlite3.Connection) -> str:
            self._fence(conn, task_id, epoch)
            # A step that runs again keeps what was decided for it: a timeout is final, and a
            # signal delivered to it stays delivered (take_signal gives it back).
            kept = "waits.state = 'timed-out' OR (waits.state = 'satisfied' AND waits.kind IN ('signal', 'callback'))"
            conn.execute(
                "INSERT INTO waits (task_id, seq, name, kind, deadline, state, started_at) "
                "VALUES (?, ?, ?, ?, ?, 'waiting', ?) "
                "ON CONFLICT (task_id, seq) DO UPDATE SET name = excluded.name, kind = excluded.kind, "
                f"deadline = excluded.deadline, state = CASE WHEN {kept} THEN waits.state ELSE 'waiting' END, "
                f"ended_at = CASE WHEN {kept} THEN waits.ended_at ELSE NULL END",
                (task_id, seq, name, kind, deadline, now),
            )
            row = conn.execute("SELECT state FROM waits WHERE task_id = ? AND seq = ?", (task_id, seq)).fetchone()
            return str(row[0])

        return self._write(action)

    def end_wait(self, task_id: int, epoch: int, seq: int, state: str) -> None:
        now = time.time()

        def action(conn: sqlite3.Connection) -> None:
            self._fence(conn, task_id, epoch)
            conn.execute(
                "UPDATE waits SET state = ?, ended_at = ? WHERE task_id = ? AND seq = ? AND state != 'timed-out'",
                (state, now, task_id, seq),
            )

        self._write(action)

    def send_signal(self, task_id: int, name: str, value: str | None, sender: str) -> tuple[str, str]:
        now = time.time()  # the sender's clock: what `late` is judged by

        def action(conn: sqlite3.Connection) -> tuple[str, str]:
            task = self._task_in(conn, task_id)
            note = self._lateness(conn, task, "signal", name, now)
            state = "late" if note else "pending"
            self._add_signal(conn, task_id, name, value, state, now, sender, note)
            return state, note

        return self._write(action)

    def _lateness(self, conn: sqlite3.Connection, task: TaskRecord, kind: str, name: str, now: float) -> str:
        """Why a signal (or a callback's delivery) sent now comes too late for the task, or
        "": it is kept for an await. The task's latest await of it decides; none yet: it
        is kept for one."""
        wait = conn.execute(
            "SELECT seq, deadline, state FROM waits WHERE task_id = ? AND kind = ? AND name = ? "
            "ORDER BY seq DESC LIMIT 1",
            (task.id, kind, name),
        ).fetchone()
        if wait is not None and wait["state"] == "timed-out":
            return f"came after its await timed out (step {wait['seq']})"
        if task.status in ("done", "failed", "cancelled"):
            return f"came after the task ended ({task.status})"
        if (
            wait is not None
            and wait["state"] == "waiting"
            and wait["deadline"] is not None
            and wait["deadline"] < now
            and not self._pending_by(conn, task.id, name, wait["deadline"])
        ):
            # Its deadline passed while its shell was dead or busy: the wait has timed out,
            # whenever the task comes back to it (unless an earlier signal, sent in time,
            # is still there for it to take).
            conn.execute(
                "UPDATE waits SET state = 'timed-out', ended_at = ? WHERE task_id = ? AND seq = ?",
                (now, task.id, wait["seq"]),
            )
            return f"came after its await timed out (step {wait['seq']})"
        return ""

    @staticmethod
    def _add_signal(
        conn: sqlite3.Connection,
        task_id: int,
        name: str,
        value: str | None,
        state: str,
        now: float,
        sender: str,
        note: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO signals (task_id, name, value, state, sent_at, sender, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (task_id, name, _storable(secrets.mask_optional(value)), state, now, sender, note or None),
        )

    @staticmethod
    def _pending_by(conn: sqlite3.Connection, task_id: int, name: str, deadline: float) -> bool:
        row = conn.execute(
            "SELECT 1 FROM signals WHERE task_id = ? AND name = ? AND state = 'pending' AND sent_at <= ? LIMIT 1",
            (task_id, name, deadline),
        ).fetchone()
        return row is not None

    def take_signal(self, task_id: int, epoch: int, name: str, seq: int, deadline: float | None) -> str | None:
        now = time.time()
        if deadline is None or now < deadline:
            # Looked at many times a second for as long as the await lasts (a day, maybe):
            # nothing at all while no one has written the journal since the last look, then
            # a read, and the write lock only when there is something to take.
            mark = (task_id, name, seq, self._change_mark())
            if self._nothing_at == mark:
                return None
            there = self._read(
                "SELECT 1 FROM signals WHERE task_id = ? AND ((name = ? AND state = 'pending') "
                "OR (seq = ? AND state = 'delivered')) LIMIT 1",
                (task_id, name, seq),
            )
            if not there:
                self._nothing_at = mark
                return None

        def action(conn: sqlite3.Connection) -> str | None:
            self._fence(conn, task_id, epoch)
            given = conn.execute(
                "SELECT value FROM signals WHERE task_id = ? AND seq = ? AND state = 'delivered' ORDER BY id LIMIT 1",
                (task_id, seq),
            ).fetchone()
            if given is not None:
                return text_of(given[0]) or ""  # delivered before this step ran again
            wait = conn.execute("SELECT state FROM waits WHERE task_id = ? AND seq = ?", (task_id, seq)).fetchone()
            if wait is not None and wait["state"] == "timed-out":
                return None
            sql = "SELECT id, value FROM signals WHERE task_id = ? AND name = ? AND state = 'pending'"
            args: tuple[Any, ...] = (task_id, name)
            if deadline is not None:
                sql += " AND sent_at <= ?"
                args += (deadline,)
            found = conn.execute(sql + " ORDER BY id LIMIT 1", args).fetchone()
            if found is not None:
                conn.execute(
                    "UPDATE signals SET state = 'delivered', delivered_at = ?, seq = ? WHERE id = ?",
                    (now, seq, found["id"]),
                )
                conn.execute(
                    "UPDATE waits SET state = 'satisfied', ended_at = ? WHERE task_id = ? AND seq = ?",
                    (now, task_id, seq),
                )
                return text_of(found["value"]) or ""
            if deadline is not None and now >= deadline:
                # Decided here, in the transaction that found nothing: a signal sent after
                # this look finds the wait timed out and is late.
                conn.execute(
                    "UPDATE waits SET state = 'timed-out', ended_at = ? WHERE task_id = ? AND seq = ?",
                    (now, task_id, seq),
                )
            return None

        return self._write(action)

    # --- callbacks ------------------------------------------------------------------------

    def create_callback(self, task_id: int, epoch: int, seq: int, token_hash: str) -> int:
        now = time.time()

        def action(conn: sqlite3.Connection) -> int:
            self._fence(conn, task_id, epoch)
            conn.execute(
                "INSERT INTO callbacks (task_id, seq, token_hash, state, created_at) VALUES (?, ?, ?, 'open', ?) "
                "ON CONFLICT (task_id, seq) DO UPDATE SET token_hash = excluded.token_hash, "
                "created_at = excluded.created_at",
                (task_id, seq, token_hash, now),
            )
            row = conn.execute("SELECT id FROM callbacks WHERE task_id = ? AND seq = ?", (task_id, seq)).fetchone()
            return int(row[0])

        return self._write(action)

    def find_callback(self, token_hash: str) -> CallbackRecord | None:
        rows = self._read("SELECT * FROM callbacks WHERE token_hash = ?", (token_hash,))
        return CallbackRecord.from_row(rows[0]) if rows else None

    def deliver_callback(self, token_hash: str, body: str, sender: str) -> tuple[str, CallbackRecord | None, str]:
        now = time.time()

        def action(conn: sqlite3.Connection) -> tuple[str, CallbackRecord | None, str]:
            row = conn.execute("SELECT * FROM callbacks WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None:
                return "unknown", None, ""
            callback = CallbackRecord.from_row(row)
            if callback.state == "delivered":
                return "used", callback, "it was delivered before"
            if callback.state == "late":
                return "late", callback, callback.note or "it came too late"
            name = f"callback:{callback.id}"
            note = self._lateness(conn, self._task_in(conn, callback.task_id), "callback", name, now)
            state = "late" if note else "delivered"
            self._add_signal(conn, callback.task_id, name, body, "late" if note else "pending", now, sender, note)
            conn.execute(
                "UPDATE callbacks SET state = ?, delivered_at = ?, sender = ?, note = ? WHERE id = ?",
                (state, now, sender, note or None, callback.id),
            )
            callback.state, callback.delivered_at, callback.sender, callback.note = state, now, sender, note or None
            return state, callback, note

        return self._write(action)

    # --- locks ----------------------------------------------------------------------------

    def acquire_lock(
        self, name: str, holder: str, owner: Owner, lease: float, gone: Callable[[LockRecord], bool]
    ) -> tuple[bool, LockRecord]:
        def action(conn: sqlite3.Connection) -> tuple[bool, LockRecord]:
            now = time.time()
            row = conn.execute("SELECT * FROM locks WHERE name = ?", (name,)).fetchone()
            lock = LockRecord.from_row(row) if row is not None else None
            # Held by `holder` already: a task (whichever process runs it now), or this very
            # process (not another that reuses its pid).
            mine = (
                lock is not None
                and lock.holder == holder
                and (holder.startswith("task ") or lock.owner_started == owner.started)
            )
            if lock is not None and lock.holder is not None and not mine:
                expired = lock.expires_at is None or lock.expires_at < now
                if not expired and not gone(lock):
                    return False, lock
            epoch = (lock.epoch if lock is not None else 0) + (0 if mine else 1)
            acquired = lock.acquired_at if mine and lock is not None else now
            conn.execute(
                "INSERT INTO locks (name, holder, epoch, acquired_at, expires_at, owner_host, owner_pid, "
                "owner_started, released_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch, "
                "acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, "
                "owner_host = excluded.owner_host, owner_pid = excluded.owner_pid, "
                "owner_started = excluded.owner_started, released_at = NULL",
                (name, holder, epoch, acquired, now + lease, owner.host, owner.pid, owner.started),
            )
            taken = conn.execute("SELECT * FROM locks WHERE name = ?", (name,)).fetchone()
            return True, LockRecord.from_row(taken)

        return self._write(action)

    def renew_locks(self, locks: list[tuple[str, int]], holder: str, lease: float) -> list[str]:
        def action(conn: sqlite3.Connection) -> list[str]:
            expires = time.time() + lease
            lost = []
            for name, epoch in locks:
                changed = conn.execute(
                    "UPDATE locks SET expires_at = ? WHERE name = ? AND holder = ? AND epoch = ?",
                    (expires, name, holder, epoch),
                ).rowcount
                if not changed:
                    lost.append(name)
            return lost

        return self._write(action)

    def release_lock(self, name: str, holder: str | None) -> tuple[bool, LockRecord | None]:
        def action(conn: sqlite3.Connection) -> tuple[bool, LockRecord | None]:
            row = conn.execute("SELECT * FROM locks WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False, None
            lock = LockRecord.from_row(row)
            if lock.holder is None or (holder is not None and lock.holder != holder):
                return False, lock
            conn.execute(
                "UPDATE locks SET holder = NULL, expires_at = NULL, owner_host = NULL, owner_pid = NULL, "
                "owner_started = NULL, released_at = ? WHERE name = ?",
                (time.time(), name),
            )
            return True, lock

        return self._write(action)

    def locks(self) -> list[LockRecord]:
        rows = self._read(
            "SELECT * FROM locks WHERE holder IS NOT NULL AND expires_at >= ? ORDER BY name", (time.time(),)
        )
        return [LockRecord.from_row(r) for r in rows]

    # --- reading ------------------------------------------------------------------------

    def task(self, task_id: int) -> TaskRecord | None:
        rows = self._read("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return TaskRecord.from_row(rows[0]) if rows else None

    def tasks(
        self, statuses: list[str] | None = None, name: str | None = None, limit: int | None = None
    ) -> list[TaskRecord]:
        where: list[str] = []
        args: list[Any] = []
        if statuses:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            args.extend(statuses)
        if name:
            where.append("name GLOB ?")
            args.append(name)
        sql = "SELECT * FROM tasks" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [TaskRecord.from_row(r) for r in self._read(sql, tuple(args))]

    def task_counts(self) -> dict[str, int]:
        rows = self._read("SELECT status, count(*) FROM tasks GROUP BY status")
        return {str(status): int(count) for status, count in rows}

    def steps(self, task_id: int) -> list[StepRecord]:
        rows = self._read("SELECT * FROM steps WHERE task_id = ? ORDER BY seq", (task_id,))
        return [StepRecord.from_row(r) for r in rows]

    def hosts(self, task_id: int, seq: int | None = None) -> list[HostRecord]:
        if seq is None:
            rows = self._read("SELECT * FROM step_hosts WHERE task_id = ? ORDER BY seq, host", (task_id,))
        else:
            rows = self._read("SELECT * FROM step_hosts WHERE task_id = ? AND seq = ? ORDER BY host", (task_id, seq))
        return [HostRecord.from_row(r) for r in rows]

    def attempts(self, task_id: int) -> list[AttemptRecord]:
        rows = self._read("SELECT * FROM attempts WHERE task_id = ? ORDER BY seq, attempt", (task_id,))
        return [AttemptRecord.from_row(r) for r in rows]

    def events(self, task_id: int) -> list[EventRecord]:
        rows = self._read("SELECT * FROM events WHERE task_id = ? ORDER BY id", (task_id,))
        return [EventRecord.from_row(r) for r in rows]

    def chunks(self, task_id: int, seq: int | None = None, host: str | None = None) -> Iterator[ChunkRecord]:
        sql = "SELECT * FROM output WHERE task_id = ?"
        args: list[Any] = [task_id]
        if seq is not None:
            sql += " AND seq = ?"
            args.append(seq)
        if host is not None:
            sql += " AND host = ?"
            args.append(host)
        for row in self._read(sql + " ORDER BY seq, attempt, at, host, chunk", tuple(args)):
            yield ChunkRecord.from_row(row)

    def bindings(self, task_id: int) -> list[tuple[str, int, str]]:
        rows = self._read("SELECT name, seq, value FROM bindings WHERE task_id = ? ORDER BY name, seq", (task_id,))
        return [(r[0], r[1], text_of(r[2]) or "") for r in rows]

    def signals(self, task_id: int) -> list[SignalRecord]:
        rows = self._read("SELECT * FROM signals WHERE task_id = ? ORDER BY id", (task_id,))
        records = [SignalRecord.from_row(r) for r in rows]
        for record in records:
            record.value = text_of(record.value)  # a callback's body that is not UTF-8 is a BLOB
        return records

    def callbacks(self, task_id: int) -> list[CallbackRecord]:
        rows = self._read("SELECT * FROM callbacks WHERE task_id = ? ORDER BY id", (task_id,))
        return [CallbackRecord.from_row(r) for r in rows]

    def waits(self, task_id: int) -> list[WaitRecord]:
        rows = self._read("SELECT * FROM waits WHERE task_id = ? ORDER BY seq", (task_id,))
        return [WaitRecord.from_row(r) for r in rows]

    def host_tries(self, task_id: int, seq: int | None = None) -> list[HostTryRecord]:
        sql = "SELECT * FROM host_tries WHERE task_id = ?"
        args: tuple[Any, ...] = (task_id,)
        if seq is not None:
            sql += " AND seq = ?"
            args += (seq,)
        rows = self._read(sql + ' ORDER BY seq, attempt, host, "try"', args)
        return [HostTryRecord.from_row(r) for r in rows]

    def step(self, task_id: int, seq: int | None = None) -> StepRecord | None:
        if seq is None:
            rows = self._read(
                "SELECT * FROM steps WHERE task_id = ? AND status != 'finished' ORDER BY seq LIMIT 1", (task_id,)
            )
        else:
            rows = self._read("SELECT * FROM steps WHERE task_id = ? AND seq = ?", (task_id, seq))
        return StepRecord.from_row(rows[0]) if rows else None

    def step_summary(self, task_ids: list[int]) -> dict[int, tuple[int, list[int]]]:
        # Counted by SQLite, not row by row here (`tasks -a` of 10,000 tasks reads 100,000
        # steps); the ids in batches, well under SQLite's cap on bound values (32766).
        summary: dict[int, tuple[int, list[int]]] = {}
        for start in range(0, len(task_ids), _BATCH):
            batch = tuple(task_ids[start : start + _BATCH])
            marks = ", ".join("?" for _ in batch)
            for task_id, count in self._read(
                f"SELECT task_id, count(*) FROM steps WHERE task_id IN ({marks}) GROUP BY task_id", batch
            ):
                summary[task_id] = (count, [])
            for task_id, seq in self._read(
                f"SELECT task_id, seq FROM steps WHERE task_id IN ({marks}) "
                "AND status = 'finished' AND exit_status != 0 AND NOT tested ORDER BY task_id, seq",
                batch,
            ):
                summary[task_id][1].append(seq)
        return summary

    def integrity_check(self) -> str:
        return "; ".join(r[0] for r in self._read("PRAGMA integrity_check"))

    def close(self) -> None:
        with self._lock:
            self.conn.close()
            count = _OPEN.pop(self._file, 0) - 1
            if count > 0:
                _OPEN[self._file] = count


# A host's try that ended with one of these failure classes ran its command to the end
# (an exit status or an exit signal came back): its process group is gone.
_ENDED = (None, "exit", "signal")


def _close_processes(
    conn: sqlite3.Connection, task_id: int, seq: int, attempt: int, host: str, number: int | None
) -> None:
    sql = (
        "UPDATE remote_processes SET ended_at = ?, outcome = 'ended' "
        "WHERE task_id = ? AND seq = ? AND attempt = ? AND host = ? AND ended_at IS NULL"
    )
    args: tuple[Any, ...] = (time.time(), task_id, seq, attempt, host)
    if number is not None:
        sql += ' AND "try" = ?'
        args += (number,)
    conn.execute(sql, args)


def _create_file(path: str, directory: str) -> None:
    """A new, empty journal file, private to its user."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as e:
        raise JournalError(
            f"cannot create the journal directory {directory}: {e.strerror}; set FMSH_JOURNAL to a path in a "
            "writable directory"
        ) from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    except OSError as e:
        raise JournalError(
            f"cannot create the journal {path}: {e.strerror}; set FMSH_JOURNAL to a path in a writable directory"
        ) from None
    os.close(fd)


# The journal files this process has open through SQLite, by (device, inode), with how
# many connections. POSIX record locks belong to a process, not to a descriptor: closing
# *any* descriptor of the file drops all of them. SQLite knows this of its own descriptors,
# but a plain open()/close() of a journal that this process already has open (reading its
# header, below, for a second connection: `lock` in a task, the prompt) silently released
# the task's locks; the next other process to close the journal then found itself the
# last user, checkpointed and deleted the write-ahead log under the running task, whose
# later commits went into the deleted file (the chaos suite found it). A file this process
# has open is known to be SQLite: its header is not read again.
_OPEN: dict[tuple[int, int], int] = {}


def _check_file(path: str, directory: str, st: os.stat_result) -> None:
    """Before SQLite touches an existing file: is it SQLite at all, and can it be written?
    Never for a file this process already has open (see _OPEN)."""
    import stat

    if not stat.S_ISREG(st.st_mode):
        raise JournalError(f"the journal {path} is not a regular file; set FMSH_JOURNAL to another path")
    if st.st_size:
        try:
            with open(path, "rb") as f:
                head = f.read(len(_HEADER))
        except OSError as e:
            raise JournalError(f"cannot read the journal {path}: {e.strerror}") from None
        if head != _HEADER:
            raise _not_sqlite(path)
    if not os.access(directory, os.W_OK):
        why = "a read-only file system" if _read_only_fs(directory) else "not writable by you"
        raise JournalError(
            f"cannot use the journal {path}: its directory is {why}, and SQLite must create "
            f"{os.path.basename(path)}-wal and -shm beside it; nothing was changed. Make the directory writable, "
            "or set FMSH_JOURNAL to a path in a writable directory"
        )


def _masked(chunks: list[Chunk], truncated: bool) -> list[Chunk]:
    """A host's output chunks with the secrets masked, each stream as one text (a secret
    split between two chunks is masked too)."""
    if not chunks or not secrets.any_values():
        return chunks
    masked = list(chunks)
    for stream in {c.stream for c in chunks}:
        places = [k for k, c in enumerate(chunks) if c.stream == stream]
        pieces = secrets.mask_pieces([chunks[k].data for k in places], truncated)
        for k, data in zip(places, pieces, strict=True):
            masked[k] = Chunk(stream, data, chunks[k].at)
    return masked


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_only_fs(directory: str) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _not_sqlite(path: str) -> JournalError:
    return JournalError(
        f"{path} is not an fmsh journal: it is not a SQLite database. Nothing was changed: move it away, or set "
        "FMSH_JOURNAL to another path"
    )


def _storable(text: str | None) -> str | bytes | None:
    """A value for a TEXT column: itself, or, when it holds bytes that are not UTF-8
    (a capture of binary output, kept by Python as surrogates), those bytes as a BLOB,
    which `text_of` turns back into the same string."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
    return text
