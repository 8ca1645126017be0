"""The journal's interface: everything the task runtime and the task builtins ask of it.

Kept small so that another store can stand behind it (an rqlite cluster, later). Writes
that belong to a running task carry its `epoch`, the fencing token of its lease: a write
from an owner whose epoch was taken over is refused (TaskStopped), so a zombie owner can
no longer commit. Policy (who may take a task over, what a refusal says) stays with the
caller, passed in as a function that the journal calls inside its transaction, so that
the check and the change are one atomic step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

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
    )


class Owner:
    """Who runs a task: a process on a host. `started` (the process's start time) tells a
    live owner from a new process that reuses its pid."""

    __slots__ = ("host", "pid", "started")

    def __init__(self, host: str, pid: int, started: str) -> None:
        self.host = host
        self.pid = pid
        self.started = started

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"


class Chunk:
    """Output of a step on a host, as it came: stream 1 or 2."""

    __slots__ = ("stream", "data", "at")

    def __init__(self, stream: int, data: bytes, at: float) -> None:
        self.stream = stream
        self.data = data
        self.at = at


class Journal(ABC):
    path: str  # what messages call it
    task_id: int | None = None  # the task this shell runs, once known: a full disk's message names it
    poll_every = 0.02  # how often `await signal` may look (the file: a pragma while nothing changed)

    # --- tasks --------------------------------------------------------------------------

    @abstractmethod
    def create_task(self, values: dict[str, Any], owner: Owner, lease: float) -> TaskRecord:
        """A new running task owned by `owner` (epoch 1), with a `created` event."""

    @abstractmethod
    def submit_task(self, values: dict[str, Any], queue: str, bindings: list[tuple[str, int, str]]) -> int:
        """A new task `queued` in `queue`, owned by no one (epoch 0), with its start's
        bindings (environment, random seed) and a `submitted` event; its id."""

    @abstractmethod
    def runnable_tasks(self, queue: str, limit: int) -> list[TaskRecord]:
        """Tasks of `queue` a worker may claim, oldest first: queued ones, interrupted ones,
        and running ones whose lease has expired (their owner died or was cut off)."""

    @abstractmethod
    def claim_task(
        self, task_id: int, owner: Owner, lease: float, refusal: Callable[[TaskRecord], str | None]
    ) -> TaskRecord:
        """Take a task over: `refusal(task)` says why not (raised as TaskRefused), or
        None, and then the epoch goes up by one and `owner` holds the lease."""

    @abstractmethod
    def renew_lease(self, task_id: int, epoch: int, lease: float) -> str | None:
        """Extend the lease; None when done, else why the owner must stop (the task was
        taken over, cancelled or forgotten)."""

    @abstractmethod
    def end_task(self, task_id: int, epoch: int, status: str, exit_status: int | None) -> None:
        """The owner is done with the task (finished, failed, interrupted)."""

    @abstractmethod
    def cancel_task(self, task_id: int, refusal: Callable[[TaskRecord], str | None]) -> TaskRecord:
        """Mark a task cancelled (its owner, if alive, stops before its next step)."""

    @abstractmethod
    def forget_task(self, task_id: int, refusal: Callable[[TaskRecord], str | None]) -> None:
        """Delete a task and everything recorded for it."""

    @abstractmethod
    def replace_source(self, task_id: int, epoch: int, source: str, source_hash: str, detail: str) -> None:
        """The task goes on with a changed script (`--accept-changes`)."""

    @abstractmethod
    def fence_running(self, reason: str) -> list[int]:
        """Mark every running task interrupted, with a `fenced` event saying why (its owner
        lost the journal to another machine: `recover`); their ids."""

    @abstractmethod
    def add_event(self, task_id: int, kind: str, epoch: int | None = None, owner: str | None = None,
                  detail: str | None = None) -> None: ...  # fmt: skip

    @abstractmethod
    def set_task_deadline(self, task_id: int, epoch: int, at: float | None) -> None:
        """The task's absolute deadline (wall clock; None: none)."""

    @abstractmethod
    def carry_steps(self, from_task: int, to_task: int, before_seq: int) -> int:
        """Copy the finished steps of `from_task` numbered below `before_seq` (with their
        hosts and output) into `to_task` (`retry --from`); how many."""

    # --- steps (fenced by epoch) --------------------------------------------------------

    @abstractmethod
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
        """Commit that a step is about to run (before its effect), with the values the
        script observed since the last step (`bindings`: name, seq, value)."""

    @abstractmethod
    def finish_step(self, task_id: int, epoch: int, seq: int, attempt: int, result: dict[str, Any]) -> None:
        """Commit a step's result (exit_status, pipestatus, output, pid)."""

    @abstractmethod
    def end_attempt(self, task_id: int, epoch: int | None, seq: int, attempt: int, outcome: str,
                    error: str | None) -> None:  # fmt: skip
        """An attempt ended without a result (interrupted, error, stopped)."""

    @abstractmethod
    def record_host(
        self, task_id: int, epoch: int, seq: int, attempt: int, host: dict[str, Any], chunks: list[Chunk]
    ) -> None:
        """One host of a remote step finished: its outcome and (capped) output."""

    @abstractmethod
    def record_host_try(self, task_id: int, epoch: int, seq: int, attempt: int, values: dict[str, Any]) -> None:
        """One try on one host inside a fan-out step (`values`: host, try, status, failure,
        message, started_at, ended_at); a try recorded again replaces the row."""

    @abstractmethod
    def record_process(
        self, task_id: int, epoch: int, seq: int, attempt: int, host: str, number: int, pid: int, marker: str
    ) -> None:
        """A try of a remote step started on a host: its process group `pid`, and the
        `marker` (FMSH_ATTEMPT) in its environment. Closed when the host's try is recorded
        as having ended (an exit status or signal came back)."""

    @abstractmethod
    def open_processes(self, task_id: int) -> list[ProcessRecord]:
        """The task's remote process groups not known to have ended."""

    @abstractmethod
    def close_processes(self, task_id: int, epoch: int, processes: list[ProcessRecord], outcome: str) -> None:
        """These are known gone now (`stopped` by a resume, or `gone`)."""

    @abstractmethod
    def add_bindings(self, task_id: int, epoch: int, bindings: list[tuple[str, int, str]]) -> None: ...

    # --- waits and signals --------------------------------------------------------------

    @abstractmethod
    def begin_wait(self, task_id: int, epoch: int, seq: int, name: str, kind: str, deadline: float | None) -> str:
        """An await step starts (or starts again, resumed) waiting until `deadline` (wall
        clock; None: no limit); its state now: a wait that timed out stays `timed-out`
        (final), a signal's wait already given its signal stays `satisfied`, else
        `waiting`."""

    @abstractmethod
    def end_wait(self, task_id: int, epoch: int, seq: int, state: str) -> None:
        """An await step stopped waiting: `satisfied` or `timed-out`."""

    @abstractmethod
    def send_signal(self, task_id: int, name: str, value: str | None, sender: str) -> tuple[str, str]:
        """Journal a signal for a task, deciding in the same transaction what becomes of it:
        ("pending", "") when an await takes it now or later, ("late", why) when the task has
        ended or its await of `name` has timed out. TaskNotFound for an unknown task."""

    @abstractmethod
    def take_signal(self, task_id: int, epoch: int, name: str, seq: int, deadline: float | None) -> str | None:
        """For the await step `seq`: the value of the oldest pending signal `name` sent by
        `deadline`, now delivered to it ("" for a signal without a value); or None. A step
        that runs again gets the signal already delivered to it. When none is taken and
        the deadline has passed, the wait is marked timed out in the same transaction."""

    # --- callbacks (`callback VAR`, `await callback`, `fmsh serve`) ---------------------------

    @abstractmethod
    def create_callback(self, task_id: int, epoch: int, seq: int, token_hash: str) -> int:
        """A new open callback made by step `seq`, found by `token_hash`; its id. The step
        run again (its shell died before its result) replaces the one it made before,
        whose URL no one was given."""

    @abstractmethod
    def find_callback(self, token_hash: str) -> CallbackRecord | None: ...

    @abstractmethod
    def deliver_callback(self, token_hash: str, body: str, sender: str) -> tuple[str, CallbackRecord | None, str]:
        """A POST to a callback URL, decided in one transaction: ("delivered", cb, "") the
        body is now a pending signal `callback:ID` for the task (at most once); ("used", cb,
        when) it was delivered before; ("late", cb, why) the task has ended or its await
        timed out: refused, the body journaled as a late signal (the first time only);
        ("unknown", None, "") no callback has that token."""

    @abstractmethod
    def callbacks(self, task_id: int) -> list[CallbackRecord]: ...

    # --- locks (`lock NAME`) --------------------------------------------------------------

    @abstractmethod
    def acquire_lock(
        self, name: str, holder: str, owner: Owner, lease: float, gone: Callable[[LockRecord], bool]
    ) -> tuple[bool, LockRecord]:
        """Take lock `name` for `holder` (`task ID` or HOST:PID), in one transaction, when it
        is free, its lease has expired, `gone(lock)` says its holder can no longer hold it,
        or `holder` has it already (then it is renewed, same epoch). Taking it adds one to
        its epoch. Returns whether `holder` has it now, and the lock as it now is."""

    @abstractmethod
    def renew_locks(self, locks: list[tuple[str, int]], holder: str, lease: float) -> list[str]:
        """Extend the lease of these (name, epoch) locks of `holder`; the names it no longer
        holds (expired and taken by another, or forced open)."""

    @abstractmethod
    def release_lock(self, name: str, holder: str | None) -> tuple[bool, LockRecord | None]:
        """Free lock `name` if `holder` holds it (None: whoever does: `unlock -f`). Returns
        whether it was released, and the lock as it was (None: never taken)."""

    @abstractmethod
    def locks(self) -> list[LockRecord]:
        """The locks held now (lease not expired), by name."""

    # --- reading ------------------------------------------------------------------------

    @abstractmethod
    def task(self, task_id: int) -> TaskRecord | None: ...

    @abstractmethod
    def tasks(
        self, statuses: list[str] | None = None, name: str | None = None, limit: int | None = None
    ) -> list[TaskRecord]:
        """Newest first."""

    @abstractmethod
    def task_counts(self) -> dict[str, int]:
        """How many tasks the journal holds, by stored status (a status with none is left
        out). Stored, not shown: a `running` task whose owner is gone counts as running."""

    @abstractmethod
    def steps(self, task_id: int) -> list[StepRecord]:
        """In the order they first ran."""

    @abstractmethod
    def step(self, task_id: int, seq: int | None = None) -> StepRecord | None:
        """The step numbered `seq`; with None, the first that has not finished (where a
        stopped task stopped). None when there is no such step."""

    @abstractmethod
    def hosts(self, task_id: int, seq: int | None = None) -> list[HostRecord]: ...

    @abstractmethod
    def attempts(self, task_id: int) -> list[AttemptRecord]: ...

    @abstractmethod
    def events(self, task_id: int) -> list[EventRecord]: ...

    @abstractmethod
    def chunks(self, task_id: int, seq: int | None = None, host: str | None = None) -> Iterator[ChunkRecord]: ...

    @abstractmethod
    def bindings(self, task_id: int) -> list[tuple[str, int, str]]: ...

    @abstractmethod
    def signals(self, task_id: int) -> list[SignalRecord]:
        """In the order they were sent."""

    @abstractmethod
    def waits(self, task_id: int) -> list[WaitRecord]:
        """In step order."""

    @abstractmethod
    def host_tries(self, task_id: int, seq: int | None = None) -> list[HostTryRecord]: ...

    @abstractmethod
    def step_summary(self, task_ids: list[int]) -> dict[int, tuple[int, list[int]]]:
        """For each task: how many steps, and which failed (a non-zero status the script
        did not test)."""

    @abstractmethod
    def integrity_check(self) -> str: ...

    @abstractmethod
    def close(self) -> None: ...
