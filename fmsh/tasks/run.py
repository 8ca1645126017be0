"""A task running in this shell: the interpreter hands each step to `run_step`, which
journals it before and after its effect, or, when the task is being resumed and the step
already finished, returns the journaled result without running it.

Steps are what has an effect outside the shell: an external command, a pipeline, a
remote stage, a command substitution (its output is the result), a subshell, a
background job, echo/printf (so that a resumed task does not print or append its
messages twice), and `sleep` (a durable timer: a resumed sleep waits only what is left).
Builtins that change the shell itself (cd, export, read, ...) are not steps: they run
again on resume, which is how the shell's state is rebuilt. A step that runs inside
another (the commands of a `$(...)`) is part of it, not a step of its own.

Only the shell's own process journals; forked copies (pipeline stages, subshells) run
their part of a step and exit.
"""

from __future__ import annotations

import json
import os
import time

from fmsh.journal.errors import JournalError, TaskStopped
from fmsh.runtime import signals
from fmsh.runtime.deadlines import DeadlineExpired
from fmsh.runtime.errors import Interrupted, ShellError
from fmsh.tasks.keys import StepKeys, shown, step_text
from fmsh.tasks.replay import NEW, REPLAY, Replay
from fmsh.tasks.result import StepResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fmsh.interp.shell import Shell
    from fmsh.journal.base import Chunk, Journal, Owner
    from fmsh.journal.records import HostRecord, StepRecord, TaskRecord
    from fmsh.remote.output import Sink
    from fmsh.remote.run import HostResult
    from fmsh.replicate.control import Replication
    from fmsh.syntax.source import Pos
    from fmsh.tasks.observations import Observations

_TIME_VARIABLES = ("SECONDS", "EPOCHSECONDS", "EPOCHREALTIME")


class ActiveStep:
    """The step being run (its journal row and attempt)."""

    __slots__ = ("seq", "attempt", "key", "kind", "record", "wake_at", "marker")

    def __init__(self, seq: int, attempt: int, key: str, kind: str, record: StepRecord | None) -> None:
        self.seq = seq
        self.attempt = attempt
        self.key = key
        self.kind = kind
        self.record = record  # the journaled row, when the step runs again
        self.wake_at: float | None = None
        self.marker = ""  # FMSH_ATTEMPT (TaskRun._begin)


class TaskRun:
    def __init__(
        self,
        sh: Shell,
        journal: Journal,
        task: TaskRecord,
        owner: Owner,
        lease: float,
        replay: Replay,
        observations: Observations,
        seed: int,
        replication: Replication | None = None,
    ) -> None:
        from fmsh.tasks.lease import Heartbeat
        from fmsh.tasks.recording import output_cap

        self.sh = sh
        self.journal = journal
        self.task = task
        self.id = task.id
        self.epoch = task.epoch
        self.owner = str(owner)
        self.replay = replay
        self.observations = observations
        self.keys = StepKeys(task.source_name)
        self.depth = 0  # > 0 while a step runs: what runs inside it is part of it
        self.current: ActiveStep | None = None
        self.stop_reason: str | None = None
        self.detached = False  # Ctrl-Z at the prompt: it goes on in the background (Shell.run_line)
        self.output_cap = output_cap(sh.vars.get("FMSH_JOURNAL_OUTPUT"))
        self._background: dict[int, ActiveStep] = {}  # pid -> its step, until reaped
        self._replayed = StepResult(0)  # the result of the step just replayed
        self.replication = replication  # the journal's replica, when it has one (fmsh/replicate)
        self._journal_error: ShellError | None = None  # a write that failed inside a step (journal_failed)
        self.unstopped: set[int] = set()  # steps a dead shell left running where resume could not stop them
        journal.task_id = task.id
        self._install(seed)
        self.heartbeat = Heartbeat(journal, task.id, task.epoch, lease, self._lost)

    def _install(self, seed: int) -> None:
        """Into the shell: the task's variables, the journaled clock, the seeded $RANDOM,
        the reaping of background steps (taken out again by `end`, for the next command
        line at a prompt)."""
        sh = self.sh
        # A task started by another task's step has its parent's values to give back.
        self._outer = {name: sh.vars.get(name) for name in ("FMSH_TASK_ID", "FMSH_STEP")}
        sh.vars.set("FMSH_TASK_ID", str(self.id))
        sh.vars.export("FMSH_TASK_ID")
        sh.vars.set("FMSH_STEP", "")
        sh.vars.export("FMSH_STEP")
        sh._random().seed(seed)
        dynamic = sh.vars.dynamic
        observe = self.observations.observe
        self._clock = {name: dynamic[name] for name in _TIME_VARIABLES}
        for name, live in self._clock.items():
            dynamic[name] = lambda name=name, live=live: observe(name, live)  # type: ignore[misc]
        sh.jobs.on_reaped = self._reaped

    def _uninstall(self) -> None:
        sh = self.sh
        sh.vars.dynamic.update(self._clock)
        sh.jobs.on_reaped = None
        for name, value in self._outer.items():
            if value is None:
                sh.vars.unset(name)
            else:
                sh.vars.set(name, value)

    # --- steps --------------------------------------------------------------------------

    def run_step(
        self, kind: str, pos: Pos | None, action: Callable[[], StepResult], wake_at: float | None = None
    ) -> StepResult:
        """Run (or replay) one step; `action` is its effect."""
        active = self._begin(kind, pos, wake_at)
        if active is None:
            return self._replayed
        self.depth += 1
        try:
            result = action()
            if self._journal_error is not None:
                error, self._journal_error = self._journal_error, None
                raise error
        except BaseException as e:
            if isinstance(e, JournalError) and self.stop_reason is None:
                self.stop_reason = e.message  # said once, by the shell; nothing more is written
            self._abandon(active, e)
            raise
        finally:
            self.depth -= 1
            self.current = None
        self._finish(active, result)
        return result

    def _begin(self, kind: str, pos: Pos | None, wake_at: float | None) -> ActiveStep | None:
        """Journal the start of a step; None when its journaled result stands in for it
        (then in self._replayed)."""
        if self.stop_reason is not None:
            raise TaskStopped(self.stop_reason)
        if self.replication is not None:
            try:
                self.replication.check()  # another machine took the journal over: no further step
            except TaskStopped as e:
                self.stop_reason = e.message
                raise
        if pos is None:  # no command has run yet: cannot happen for a step, but a key needs a place
            from fmsh.syntax.source import Pos, Source

            pos = Pos(Source(self.task.source_name, ""), 0)
        keys = self.keys
        key = keys.key(pos)
        text = step_text(pos, kind)
        context = keys.context()
        location = keys.location(pos)
        fingerprint = _fingerprint(kind, context, text)
        decision, record = self.replay.match(key, kind, shown(context, text), fingerprint, location)
        if decision == REPLAY:
            assert record is not None
            self._replayed = self._result_of(record)
            return None
        if decision == NEW:
            active = ActiveStep(self.replay.new_seq(), 1, key, kind, None)
        else:
            assert record is not None
            active = ActiveStep(record.seq, record.attempts + 1, key, kind, record)
        active.wake_at = record.wake_at if record is not None and record.wake_at else wake_at
        # In the environment of this attempt's remote commands: TASK.SEQ.ATTEMPT.NONCE, the
        # nonce so that a task of the same number in another journal never passes for it.
        active.marker = f"{self.id}.{active.seq}.{active.attempt}.{os.urandom(4).hex()}"
        row = {
            "seq": active.seq,
            "key": key,
            "kind": kind,
            "location": location,
            "text": text,
            "context": context,
            "fingerprint": fingerprint,
            "tested": 1 if self.sh.cmd.errexit_suppressed else 0,
            "wake_at": wake_at,
        }
        try:
            self.journal.start_step(
                self.id, self.epoch, row, decision == NEW, active.attempt, self.owner, self.observations.take()
            )
        except (TaskStopped, JournalError) as e:
            self.stop_reason = e.message  # the task stays resumable: nothing more is written
            raise
        if active.seq in self.unstopped:
            from fmsh.tasks.leftovers import stop_leftovers

            self.unstopped.discard(active.seq)
            stop_leftovers(self, self.sh.report, active.seq)  # its host may be back by now
        self.current = active
        self.sh.vars.set("FMSH_STEP", key)
        return active

    def _finish(self, active: ActiveStep, result: StepResult) -> None:
        values = {
            "exit_status": result.exit_status,
            "pipestatus": json.dumps(result.pipestatus) if result.pipestatus is not None else None,
            "output": result.output,
            "pid": result.pid,
        }
        try:
            self.journal.finish_step(self.id, self.epoch, active.seq, active.attempt, values)
        except (TaskStopped, JournalError) as e:
            self.stop_reason = e.message
            raise
        if self.replication is not None:
            try:
                self.replication.sync()  # the step is acknowledged once the replica has it
            except TaskStopped as e:
                self.stop_reason = e.message  # its effect is done: the task stops before the next one

    def _abandon(self, active: ActiveStep, error: BaseException) -> None:
        """The step ended without a result: the attempt says how; a stop is reported as such."""
        if isinstance(error, Interrupted):
            outcome, message = ("stopped", self.stop_reason) if self.stop_reason else ("interrupted", None)
        elif isinstance(error, TaskStopped):
            outcome, message = "stopped", error.message
        elif isinstance(error, DeadlineExpired):
            outcome, message = "timed-out", "a `timeout' around it passed"
        else:
            outcome, message = "error", getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        try:
            self.journal.end_attempt(self.id, self.epoch, active.seq, active.attempt, outcome, message)
        except ShellError:
            pass  # the journal is what failed; the step runs again on resume in any case
        if self.stop_reason is not None and isinstance(error, Interrupted):
            raise TaskStopped(self.stop_reason) from None

    def _result_of(self, record: StepRecord) -> StepResult:
        result = StepResult(
            record.exit_status if record.exit_status is not None else 0,
            json.loads(record.pipestatus) if record.pipestatus else None,
            record.output,
            record.pid,
        )
        result.replayed = True
        if record.kind in ("remote", "capture", "pipeline"):
            result.hosts = self.journal.hosts(self.id, record.seq)
            if result.hosts:
                self.sh.remote.set_host_arrays([(h.host, h.status, h.failure) for h in result.hosts])
        return result

    # --- kinds of steps that need more than run_step ------------------------------------

    def sleep(self, pos: Pos | None, seconds: float, kind: str = "sleep", note: str | None = None) -> int:
        """`sleep N` in a task (and the wait between a retry's attempts, kind `backoff`): a
        timer that survives the shell. The end time is journaled when the sleep starts; a
        resumed sleep waits only for what is left of it. A `timeout` around it still ends it.
        `note` is journaled as the step's output (a backoff: the failed attempt's status,
        which `trace` shows)."""
        from fmsh.interp.pause import OUTER_DEADLINE, pause

        def wait() -> StepResult:
            active = self.current
            assert active is not None and active.wake_at is not None
            while True:
                left = active.wake_at - time.time()
                if left <= 0:
                    return StepResult(0, output=note)
                status = pause(self.sh, left)
                if status == 130:
                    return StepResult(130)  # a trapped SIGINT ends the sleep, as it ends sleep(1)
                if status == OUTER_DEADLINE:
                    assert self.sh.deadlines is not None
                    self.sh.deadlines.check()

        return self.run_step(kind, pos, wait, wake_at=time.time() + seconds).exit_status

    def retry_gave_up(self, status: int) -> None:
        """A `retry` ran out of attempts (or met a status it does not retry): journaled as
        an event naming the last attempt's frame, so that `trace` can mark it failed (the
        attempts before it are known failed from the backoff step that followed them)."""
        try:
            self.journal.add_event(self.id, "retry-gave-up", self.epoch, None, f"{'>'.join(self.keys.frames)} {status}")
        except (TaskStopped, JournalError) as e:
            self.stop_reason = e.message
            raise

    def deadline(self, seconds: float) -> float:
        """The task's deadline (`task NAME timeout DUR`) as a wall-clock time: set when
        the task first reaches it, journaled, and the same on every resume."""
        if self.task.deadline is None:
            at = time.time() + seconds
            try:
                self.journal.set_task_deadline(self.id, self.epoch, at)
            except (TaskStopped, JournalError) as e:
                self.stop_reason = e.message
                raise
            self.task.deadline = at
        return self.task.deadline

    def background(self, pos: Pos, launch: Callable[[], int]) -> tuple[int, StepResult | None]:
        """`cmd &`: journaled when launched, finished when the shell reaps it (`wait`). A
        replayed one is not launched again: (its journaled pid, its result)."""
        active = self._begin("background", pos, None)
        if active is None:
            replayed = self._replayed
            return replayed.pid or 0, replayed
        self.current = None
        try:
            pid = launch()
        except BaseException as e:
            self._abandon(active, e)
            raise
        self._background[pid] = active
        return pid, None

    def _reaped(self, pid: int, status: int) -> None:
        active = self._background.pop(pid, None)
        if active is not None and self.stop_reason is None:
            try:
                self._finish(active, StepResult(status, pid=pid))
            except ShellError as e:
                self.sh.report(e.message)

    # --- remote stages ------------------------------------------------------------------

    def recording_sink(self, inner: Sink) -> Sink:
        """The sink of a remote stage that runs as (part of) the current step."""
        from fmsh.tasks.recording import RecordingSink

        active = self.current
        if active is None:
            return inner
        started = time.time()

        def process(host: str, number: int, pid: int) -> None:
            journal, seq, attempt = self.journal, active.seq, active.attempt
            journal.record_process(self.id, self.epoch, seq, attempt, host, number, pid, active.marker)

        def record(host: str, result: HostResult, chunks: list[Chunk], seen: int, truncated: bool) -> None:
            values = {
                "host": host,
                "status": result.status,
                "failure": result.kind,
                "message": result.message,
                "started_at": started,
                "ended_at": time.time(),
                "output_bytes": seen,
                "truncated": 1 if truncated else 0,
            }
            self.journal.record_host(self.id, self.epoch, active.seq, active.attempt, values, chunks)

        return RecordingSink(inner, record, self.output_cap, process)

    def finished_hosts(self) -> dict[str, HostRecord]:
        """A fan-out step that runs again: the hosts that already ran it to the end (with
        a status of their own), which it does not run again."""
        active = self.current
        if active is None or active.record is None or active.kind != "remote":
            return {}
        return {h.host: h for h in self.journal.hosts(self.id, active.seq) if h.failure in (None, "exit", "signal")}

    def journal_failed(self, error: ShellError) -> None:
        """A journal write inside the step failed (a host's try, from a remote stage's
        loop): the step fails with the first such error when it ends, so that it is said
        once and the step is not journaled finished without it."""
        if self._journal_error is None:
            self._journal_error = error

    def remote_environment(self) -> dict[str, str]:
        """What a remote command is told, so that it can deduplicate its effect."""
        active = self.current
        environment = {"FMSH_TASK_ID": str(self.id), "FMSH_STEP": active.key if active else ""}
        if active is not None:
            environment["FMSH_ATTEMPT"] = active.marker
        return environment

    # --- the task's life ----------------------------------------------------------------

    def _lost(self, reason: str) -> None:
        """From the heartbeat thread: the lease is gone. Stop what runs, and the shell."""
        self.stop_reason = f"task {self.id}: {reason}; stopping"
        signals.interrupt_foreground()

    def end(self, status: int) -> None:
        """The script is over: the task's outcome, and the lease let go."""
        self.heartbeat.stop()
        self._uninstall()
        try:
            self.sh.jobs.poll()
        except Exception:  # noqa: BLE001 - nothing to reap is not an error
            pass
        if self.stop_reason is None:
            # A resume that refused to go on (the script diverged) leaves the task resumable.
            stopped = self.sh.interrupted or self.replay.diverged or self.detached
            outcome = "interrupted" if stopped else ("done" if status == 0 else "failed")
            try:
                self.journal.end_task(self.id, self.epoch, outcome, status)
            except ShellError as e:
                self.sh.report(e.message)
        if self.replication is not None:
            self.replication.detach()
        self.journal.close()


def _fingerprint(kind: str, context: str, text: str) -> str:
    """What a step must still be for its journaled result to stand: its kind, its source,
    and the source of the calls and loops it is in (`deploy web1` vs `deploy web2`)."""
    import hashlib

    return hashlib.sha256(f"{kind}\0{context}\0{text}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
