"""The journal's schema, as registered migrations (the sqlite-utils way: tables declared
with `Table.create`, indexes with `create_index`).

`PRAGMA user_version` is the schema version; `schema_migrations` says when each
migration ran. A journal is migrated forward when it is opened (in one write
transaction, so two shells opening it at once do not both migrate); a journal written by
a newer fmsh is refused rather than guessed at. Add a migration by appending a function
to MIGRATIONS; never edit one that has shipped.

sqlite-utils is imported here only, when a journal is created or migrated: opening an
up-to-date journal and writing steps need nothing but the sqlite3 module, so a task does
not pay sqlite-utils' import time (~100 ms) on every start.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

    import sqlite_utils


def _initial(db: sqlite_utils.Database) -> None:
    db.table("tasks").create(
        {
            "id": int,
            "name": str,
            "origin": str,
            "source_name": str,
            "source": str,
            "source_hash": str,
            "args": str,
            "cwd": str,
            "options": str,
            "status": str,
            "exit_status": int,
            "owner_host": str,
            "owner_pid": int,
            "owner_started": str,
            "epoch": int,
            "lease_expires": float,
            "heartbeat_at": float,
            "created_at": float,
            "updated_at": float,
            "finished_at": float,
            "parent_task": int,
            "parent_step": str,
            "retry_of": int,
            "retry_from": int,
        },
        pk="id",
        not_null={"name", "origin", "source_name", "source", "source_hash", "status", "epoch", "created_at"},
        defaults={"epoch": 1, "args": "[]", "options": "[]"},
    )
    db.table("tasks").create_index(["status"])
    db.table("tasks").create_index(["created_at"])
    db.table("steps").create(
        {
            "task_id": int,
            "seq": int,
            "key": str,
            "kind": str,
            "location": str,
            "text": str,
            "context": str,
            "fingerprint": str,
            "status": str,
            "exit_status": int,
            "pipestatus": str,
            "output": str,
            "wake_at": float,
            "pid": int,
            "started_at": float,
            "ended_at": float,
            "attempts": int,
            "tested": int,
            "carried_from": str,
        },
        pk=("task_id", "seq"),
        foreign_keys=[("task_id", "tasks", "id")],
        not_null={"key", "kind", "status", "attempts"},
        defaults={"attempts": 0},
    )
    db.table("steps").create_index(["task_id", "key"])
    db.table("attempts").create(
        {
            "task_id": int,
            "seq": int,
            "attempt": int,
            "epoch": int,
            "owner": str,
            "started_at": float,
            "ended_at": float,
            "outcome": str,
            "exit_status": int,
            "error": str,
        },
        pk=("task_id", "seq", "attempt"),
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db.table("step_hosts").create(
        {
            "task_id": int,
            "seq": int,
            "host": str,
            "attempt": int,
            "status": int,
            "failure": str,
            "message": str,
            "started_at": float,
            "ended_at": float,
            "output_bytes": int,
            "truncated": int,
        },
        pk=("task_id", "seq", "host"),
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db.table("output").create(
        {
            "task_id": int,
            "seq": int,
            "host": str,
            "attempt": int,
            "chunk": int,
            "stream": int,
            "data": bytes,
            "at": float,
        },
        pk=("task_id", "seq", "host", "attempt", "chunk"),
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db.table("events").create(
        {"id": int, "task_id": int, "at": float, "kind": str, "epoch": int, "owner": str, "detail": str},
        pk="id",
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db.table("events").create_index(["task_id"])
    db.table("bindings").create(
        {"task_id": int, "name": str, "seq": int, "value": str, "step": int},
        pk=("task_id", "name", "seq"),
        foreign_keys=[("task_id", "tasks", "id")],
    )


def _signals_waits_tries(db: sqlite_utils.Database) -> None:
    """Version 2: signals sent to tasks, the waits of `await`, per-host tries inside a
    fan-out step, and a task's own deadline."""
    db.table("signals").create(
        {
            "id": int,
            "task_id": int,
            "name": str,
            "value": str,
            "state": str,
            "sent_at": float,
            "delivered_at": float,
            "seq": int,
            "sender": str,
            "note": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id")],
        not_null={"task_id", "name", "state", "sent_at"},
    )
    db.table("signals").create_index(["task_id", "name", "state"])
    db.table("waits").create(
        {
            "task_id": int,
            "seq": int,
            "name": str,
            "kind": str,
            "deadline": float,
            "state": str,
            "started_at": float,
            "ended_at": float,
        },
        pk=("task_id", "seq"),
        foreign_keys=[("task_id", "tasks", "id")],
        not_null={"name", "kind", "state", "started_at"},
    )
    db.table("waits").create_index(["task_id", "name"])
    db.table("host_tries").create(
        {
            "task_id": int,
            "seq": int,
            "attempt": int,
            "host": str,
            "try": int,
            "status": int,
            "failure": str,
            "message": str,
            "started_at": float,
            "ended_at": float,
        },
        pk=("task_id", "seq", "attempt", "host", "try"),
        foreign_keys=[("task_id", "tasks", "id")],
    )
    db.table("tasks").add_column("deadline", float)


def _locks(db: sqlite_utils.Database) -> None:
    """Version 3: locks (`lock NAME`), mutexes shared by the shells and tasks that use this
    journal. A row stays when its lock is released (holder NULL), so that its epoch, the
    fencing token, only ever goes up."""
    db.table("locks").create(
        {
            "name": str,
            "holder": str,
            "epoch": int,
            "acquired_at": float,
            "expires_at": float,
            "owner_host": str,
            "owner_pid": int,
            "owner_started": str,
            "released_at": float,
        },
        pk="name",
        not_null={"epoch"},
        defaults={"epoch": 0},
    )


def _remote_processes(db: sqlite_utils.Database) -> None:
    """Version 4: the process group of each try of a remote step on each host (the pid
    its wrapper reports) and the marker in its environment, so that a resumed task can
    stop what a dead shell left running before it runs that step again. A row is closed
    (`ended_at`, `outcome`) when the command is known to have ended, or was stopped."""
    db.table("remote_processes").create(
        {
            "task_id": int,
            "seq": int,
            "attempt": int,
            "host": str,
            "try": int,
            "pid": int,
            "marker": str,
            "started_at": float,
            "ended_at": float,
            "outcome": str,
        },
        pk=("task_id", "seq", "attempt", "host", "try"),
        foreign_keys=[("task_id", "tasks", "id")],
        not_null={"pid", "marker"},
    )


def _callbacks(db: sqlite_utils.Database) -> None:
    """Version 5: callbacks (`callback VAR`), the one-shot URLs a task hands out. A row is
    found by the SHA-256 of its URL's token (`fmsh serve` looks a POST up by it, so the
    token itself is never compared in an index); its delivery is a signal to the task
    named `callback:ID`, in `signals`. state: open, delivered (once), late (refused, the
    first late delivery's body kept as a late signal)."""
    db.table("callbacks").create(
        {
            "id": int,
            "task_id": int,
            "seq": int,
            "token_hash": str,
            "state": str,
            "created_at": float,
            "delivered_at": float,
            "sender": str,
            "note": str,
        },
        pk="id",
        foreign_keys=[("task_id", "tasks", "id")],
        not_null={"task_id", "seq", "token_hash", "state", "created_at"},
    )
    db.table("callbacks").create_index(["token_hash"], unique=True)
    db.table("callbacks").create_index(["task_id", "seq"], unique=True)


def _queues(db: sqlite_utils.Database) -> None:
    """Version 6: submitted tasks (`fmsh --submit`) wait, status `queued`, in a named
    queue for a worker (`fmsh --worker`) to claim. NULL: a task a shell started itself,
    which no worker takes over."""
    db.table("tasks").add_column("queue", str)
    db.table("tasks").create_index(["queue", "status"])


# Version N is reached by running MIGRATIONS[N - 1].
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("initial", _initial),
    ("signals, waits, host tries, task deadline", _signals_waits_tries),
    ("locks", _locks),
    ("remote processes", _remote_processes),
    ("callbacks", _callbacks),
    ("queues", _queues),
]
LATEST = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, current: int, now: float, target: int | None = None) -> None:
    """Bring a journal from version `current` to `target` (None: LATEST). The caller holds
    a write transaction."""
    if target is None:
        target = LATEST
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    if "schema_migrations" not in db.table_names():
        db.table("schema_migrations").create({"version": int, "name": str, "applied_at": float}, pk="version")
    for version in range(current + 1, target + 1):
        name, step = MIGRATIONS[version - 1]
        step(db)
        db.table("schema_migrations").insert({"version": version, "name": name, "applied_at": now})
    db.execute(f"PRAGMA user_version = {target}")
