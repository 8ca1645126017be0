"""The rows the journal hands back: one small class per table, fields named as the columns.

Times are seconds since the epoch (REAL; in SQL, `datetime(started_at, 'unixepoch')`).
The manual (JOURNAL) documents every column.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Mapping
    from typing import Any, Self


def text_of(value: str | bytes | None) -> str | None:
    """A TEXT column's value as fmsh wrote it: bytes that are not UTF-8 are stored as a
    BLOB (see sqlite._storable) and come back as the same string, with surrogates."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


class Record:
    """A row: its columns as attributes."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, **values: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | sqlite3.Row) -> Self:
        record = cls.__new__(cls)
        # A sqlite3.Row finds a column by name with a scan of its columns: zipped once into
        # a dict, a row costs one lookup per field (a trace reads tens of thousands of rows).
        values = row if hasattr(row, "get") else dict(zip(row.keys(), row, strict=True))
        get = values.get
        for name in cls.__slots__:
            setattr(record, name, get(name))
        return record

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.as_dict()!r})"


class TaskRecord(Record):
    __slots__ = (
        "id", "name", "origin", "source_name", "source", "source_hash", "args", "cwd", "options",
        "status", "exit_status", "owner_host", "owner_pid", "owner_started", "epoch",
        "lease_expires", "heartbeat_at", "created_at", "updated_at", "finished_at",
        "parent_task", "parent_step", "retry_of", "retry_from", "deadline", "queue",
    )  # fmt: skip
    id: int
    name: str
    origin: str  # script | command | stdin | prompt (submitted: the journaled text is the script)
    source_name: str
    source: str
    source_hash: str
    args: str  # JSON list
    cwd: str
    options: str  # JSON list of `set -o` names that were on
    status: str  # queued | running | done | failed | cancelled (interrupted: running, its owner gone)
    exit_status: int | None
    owner_host: str | None
    owner_pid: int | None
    owner_started: str | None
    epoch: int
    lease_expires: float | None
    heartbeat_at: float | None
    created_at: float
    updated_at: float
    finished_at: float | None
    parent_task: int | None
    parent_step: str | None
    retry_of: int | None
    retry_from: int | None
    deadline: float | None  # the task's absolute deadline (`task NAME timeout DUR`)
    queue: str | None  # a submitted task's queue (`fmsh --submit`): workers of it may claim it


class StepRecord(Record):
    __slots__ = (
        "task_id", "seq", "key", "kind", "location", "text", "context", "fingerprint", "status",
        "exit_status", "pipestatus", "output", "wake_at", "pid", "started_at", "ended_at",
        "attempts", "tested", "carried_from",
    )  # fmt: skip
    task_id: int
    seq: int
    key: str
    kind: str  # command | builtin | pipeline | remote | capture | subshell | background | sleep | await
    location: str  # file:line:col
    text: str
    context: str  # the source of the calls and loops it ran in, ` › ` between them
    fingerprint: str
    status: str  # running | finished
    exit_status: int | None
    pipestatus: str | None  # JSON list, for pipelines
    output: str | None  # a capture's output; an `await signal`'s value
    wake_at: float | None  # a durable sleep's end; an await's deadline
    pid: int | None  # a background step's process
    started_at: float
    ended_at: float | None
    attempts: int
    tested: int  # 1: its status was tested (if, while, &&, ||, !), so a failure is not the task's
    carried_from: str | None  # "TASK:SEQ" for a step carried over by `retry`

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | sqlite3.Row) -> Self:
        record = super().from_row(row)
        record.output = text_of(record.output)
        return record


class HostRecord(Record):
    __slots__ = (
        "task_id", "seq", "host", "attempt", "status", "failure", "message", "started_at",
        "ended_at", "output_bytes", "truncated",
    )  # fmt: skip
    task_id: int
    seq: int
    host: str
    attempt: int
    status: int
    failure: str | None  # the failure class, None when the host succeeded
    message: str
    started_at: float | None
    ended_at: float
    output_bytes: int
    truncated: int


class AttemptRecord(Record):
    __slots__ = (
        "task_id", "seq", "attempt", "epoch", "owner", "started_at", "ended_at", "outcome", "exit_status", "error",
    )  # fmt: skip
    task_id: int
    seq: int
    attempt: int
    epoch: int
    owner: str
    started_at: float
    ended_at: float | None
    outcome: str | None  # finished | interrupted | error | stopped; None while it runs
    exit_status: int | None
    error: str | None


class EventRecord(Record):
    __slots__ = ("id", "task_id", "at", "kind", "epoch", "owner", "detail")
    id: int
    task_id: int
    at: float
    kind: str
    epoch: int | None
    owner: str | None
    detail: str | None


class ChunkRecord(Record):
    __slots__ = ("task_id", "seq", "host", "attempt", "chunk", "stream", "data", "at")
    task_id: int
    seq: int
    host: str  # "" for a local step
    attempt: int
    chunk: int
    stream: int
    data: bytes
    at: float


class SignalRecord(Record):
    __slots__ = (
        "id", "task_id", "name", "value", "state", "sent_at", "delivered_at", "seq", "sender", "note",
    )  # fmt: skip
    id: int
    task_id: int
    name: str
    value: str | None  # None when sent without a value
    state: str  # pending | delivered | late
    sent_at: float  # the sender's clock
    delivered_at: float | None
    seq: int | None  # the `await signal` step it satisfied
    sender: str  # host:pid
    note: str | None  # why it is late


class CallbackRecord(Record):
    __slots__ = ("id", "task_id", "seq", "token_hash", "state", "created_at", "delivered_at", "sender", "note")
    id: int
    task_id: int
    seq: int  # the `callback` step that made it
    token_hash: str  # SHA-256 of the URL's token, hex
    state: str  # open | delivered | late
    created_at: float
    delivered_at: float | None  # the accepted delivery's, or the first late one's
    sender: str | None  # the address the delivery came from
    note: str | None  # why a delivery was late


class WaitRecord(Record):
    __slots__ = ("task_id", "seq", "name", "kind", "deadline", "state", "started_at", "ended_at")
    task_id: int
    seq: int  # the await step
    name: str  # the signal's name, or what the await waits for
    kind: str  # port | http | file | signal | callback | task | until
    deadline: float | None  # absolute (wall clock); None: no limit
    state: str  # waiting | satisfied | timed-out
    started_at: float
    ended_at: float | None


class HostTryRecord(Record):
    __slots__ = (
        "task_id", "seq", "attempt", "host", "try", "status", "failure", "message", "started_at", "ended_at",
    )  # fmt: skip
    task_id: int
    seq: int
    attempt: int  # the step's attempt
    host: str
    # and `try`, the try's number (1, 2, ...): a keyword in Python, so read as `number`
    status: int | None
    failure: str | None
    message: str | None
    started_at: float | None
    ended_at: float | None

    @property
    def number(self) -> int:
        """The column `try`."""
        value: int = getattr(self, "try")
        return value


class ProcessRecord(Record):
    """A remote step's process group on a host (table remote_processes)."""

    __slots__ = (
        "task_id", "seq", "attempt", "host", "try", "pid", "marker", "started_at", "ended_at", "outcome",
    )  # fmt: skip
    task_id: int
    seq: int
    attempt: int
    host: str
    pid: int  # the remote process group (its leader's pid)
    marker: str  # FMSH_ATTEMPT in its environment: what tells it from a reused pid
    started_at: float | None
    ended_at: float | None  # None: it may still run
    outcome: str | None  # ended | stopped | gone


class LockRecord(Record):
    __slots__ = (
        "name", "holder", "epoch", "acquired_at", "expires_at", "owner_host", "owner_pid", "owner_started",
        "released_at",
    )  # fmt: skip
    name: str
    holder: str | None  # `task ID` or HOST:PID; None when free
    epoch: int  # the fencing token: one more at every acquisition (kept when released)
    acquired_at: float | None
    expires_at: float | None  # the lease: renewed by the holder's heartbeat
    owner_host: str | None  # the process that holds it (for a task: its shell)
    owner_pid: int | None
    owner_started: str | None  # BOOT:TICKS, tells a reused pid apart
    released_at: float | None
