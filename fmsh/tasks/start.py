"""Starting a task: a new one for a script that is a task, or an old one taken up again —
`resume` (the same task, from the top, finished steps replayed) and `retry --from STEP`
(a new task, with the finished steps before STEP carried over from the old one).

A resumed task runs in a fresh shell made as the task's first one was: the same script
name and arguments, working directory, `set -o` options and environment (the journaled
one, with secrets and session variables taken from the resuming shell).
"""

from __future__ import annotations

import json
import os

from fmsh.journal.errors import TaskNotFound, TaskRefused
from fmsh.runtime.errors import ShellError
from fmsh.tasks import environment
from fmsh.tasks.lease import lease_seconds
from fmsh.tasks.observations import Observations
from fmsh.tasks.owner import describe_owner, owner_gone, this_process
from fmsh.tasks.replay import Replay
from fmsh.tasks.run import TaskRun

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from fmsh.interp.shell import Shell
    from fmsh.journal.base import Journal, Owner
    from fmsh.journal.records import StepRecord, TaskRecord
    from fmsh.replicate.control import Replication

# What a resumed task must not take from the journal: the clock values are replayed one
# by one (see observations.py).
_OBSERVED = ("SECONDS", "EPOCHSECONDS", "EPOCHREALTIME")


def _seed() -> int:
    """The seed of a new task's $RANDOM (journaled, so that a resumed task draws the same)."""
    return int.from_bytes(os.urandom(6), "big")


def source_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def begin_task(sh: Shell, text: str, source_name: str, origin: str, name: str) -> TaskRun:
    """A new task for the script this shell is about to run."""
    from fmsh.journal import open_journal

    environ = sh.vars.environ()
    sh.fds.reserve_low()  # the journal's descriptors go above 9, out of the user's way
    journal = open_journal(environ)
    assert journal is not None
    replication = None
    try:
        replication = _replicate(environ, journal)
        owner = this_process()
        lease = lease_seconds(environ.get("FMSH_LEASE"))
        parent = environ.get("FMSH_TASK_ID") or ""
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = ""
        values = {
            "name": name,
            "origin": origin,
            "source_name": source_name,
            "source": text,
            "source_hash": source_hash(text),
            "args": json.dumps([sh.script_name, *sh.positional]),
            "cwd": cwd,
            "options": json.dumps(sorted(n for n, on in sh.options.values.items() if on and n != "interactive")),
            "parent_task": int(parent) if parent.isdigit() else None,
            "parent_step": environ.get("FMSH_STEP") if parent.isdigit() else None,
        }
        task = journal.create_task(values, owner, lease)
        seed = _seed()
        journal.add_bindings(task.id, task.epoch, environment.journaled(environ) + [("random-seed", 0, str(seed))])
        return TaskRun(sh, journal, task, owner, lease, Replay([]), Observations(), seed, replication)
    except BaseException:
        if replication is not None:
            replication.detach()
        journal.close()
        raise


def _replicate(environ: Mapping[str, str], journal: Journal) -> Replication | None:
    """The journal's replica, joined before the task's first write (fmsh/replicate), or
    None when the journal does not replicate."""
    from fmsh.replicate.control import replication_for

    replication = replication_for(environ, journal.path)
    if replication is not None:
        replication.attach()
    return replication


# --- finding tasks and steps -----------------------------------------------------------


def open_existing(environ: Mapping[str, str]) -> Journal:
    from fmsh.journal import journal_path, open_journal

    if environ.get("FMSH_JOURNAL") == "none":
        raise ShellError("FMSH_JOURNAL=none: tasks are not journaled, so there is no task to find")
    journal = open_journal(environ, create=False)
    if journal is None:
        raise ShellError(
            f"there is no journal at {journal_path(environ)} yet: no task has run with it "
            "(FMSH_JOURNAL says where the journal is)"
        )
    return journal


def find_task(journal: Journal, spec: str) -> TaskRecord:
    if not spec.isdigit():
        raise ShellError(f"`{spec}': not a task id (a number: `fmsh --tasks` lists them)", status=2)
    task = journal.task(int(spec))
    if task is None:
        raise TaskNotFound(spec, journal.path)
    return task


def find_step(journal: Journal, task: TaskRecord, spec: str) -> StepRecord:
    """A step by its number (as `trace` shows) or its key."""
    steps = journal.steps(task.id)
    for step in steps:
        if (spec.isdigit() and step.seq == int(spec)) or step.key == spec:
            return step
    raise ShellError(f"task {task.id} has no step {spec} (`trace {task.id}` lists its steps)")


# --- why not ---------------------------------------------------------------------------


def _finished_refusal(task: TaskRecord, journal: Journal) -> str | None:
    if task.status == "done":
        return f"task {task.id} ({task.name}) already finished (exit status {task.exit_status}); nothing to resume"
    if task.status == "failed":
        failed = journal.step_summary([task.id]).get(task.id, (0, []))[1]
        where = f" at step {failed[-1]}" if failed else ""
        step = failed[-1] if failed else 1
        return (
            f"task {task.id} ({task.name}) failed{where} (exit status {task.exit_status}); resuming would replay "
            f"the same failure: `retry {task.id} --from {step}` runs it again from that step"
        )
    if task.status == "cancelled":
        return f"task {task.id} ({task.name}) was cancelled; `retry {task.id} --from 1` starts it again"
    return None


def _owner_refusal(task: TaskRecord, here: Owner) -> str | None:
    if task.status == "running" and not owner_gone(task, here):
        import time

        beat = f", last heartbeat {time.time() - task.heartbeat_at:.0f}s ago" if task.heartbeat_at else ""
        return (
            f"task {task.id} ({task.name}) is running, owned by {describe_owner(task)} (epoch {task.epoch}{beat}); "
            f"it is not resumed twice. Wait for it, or `cancel {task.id}`"
        )
    return None


def _claim_refusal(task: TaskRecord, journal: Journal, here: Owner, environ: Mapping[str, str]) -> str | None:
    from fmsh.fleet.worker import handed_off

    refusal = _finished_refusal(task, journal)
    if refusal is not None or handed_off(task, environ):  # a worker claimed it for this process
        return refusal
    return _owner_refusal(task, here)


# --- resume and retry ------------------------------------------------------------------


def _current_text(task: TaskRecord, sh_report) -> tuple[str, int | None]:  # type: ignore[no-untyped-def]
    """The script to run now, and the first line that changed since the task began (None:
    unchanged). A command line is its journaled text; a script file is read again."""
    if task.origin != "script":
        return task.source, None
    path = task.source_name if os.path.isabs(task.source_name) else os.path.join(task.cwd or "", task.source_name)
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
    except OSError as e:
        sh_report(f"task {task.id}: cannot read {path} ({e.strerror}): running the text journaled when it began")
        return task.source, None
    if source_hash(text) == task.source_hash:
        return text, None
    old, new = task.source.splitlines(), text.splitlines()
    line = next((k for k, (a, b) in enumerate(zip(old, new, strict=False), 1) if a != b), min(len(old), len(new)) + 1)
    return text, line


def _shell_for(task: TaskRecord, environ: dict[str, str]) -> Shell:
    from fmsh.interp.shell import Shell
    from fmsh.runtime import signals

    signals.install_default_handlers()
    args = json.loads(task.args or "[]") or [task.source_name]
    sh = Shell(args[0], args[1:], environ=environ)
    for name in json.loads(task.options or "[]"):
        if name in sh.options.values:
            sh.options.set(name, True)
    if task.cwd:
        try:
            os.chdir(task.cwd)
        except OSError as e:
            raise ShellError(f"task {task.id}: cannot go back to its directory {task.cwd}: {e.strerror}") from None
        sh.vars.set("PWD", task.cwd)
    return sh


def _observations(bindings: list[tuple[str, int, str]]) -> tuple[Observations, int]:
    recorded: dict[str, list[str]] = {}
    seed = _seed()
    for name, _, value in bindings:  # sorted by name, then seq
        if name in _OBSERVED:
            recorded.setdefault(name, []).append(value)
        elif name == "random-seed" and value.isdigit():
            seed = int(value)
    return Observations(recorded), seed


def resume(spec: str, accept_changes: bool, environ: dict[str, str], report) -> int:  # type: ignore[no-untyped-def]
    """Take a task up again in this process and run it to its end; its exit status."""
    journal = open_existing(environ)
    try:
        task = find_task(journal, spec)
        refusal = _finished_refusal(task, journal)
        if refusal is not None:
            raise TaskRefused(refusal)
        text, changed = _current_text(task, report)
        here = this_process()
        lease = lease_seconds(environ.get("FMSH_LEASE"))
        replication = _replicate(environ, journal)
        try:
            task = journal.claim_task(task.id, here, lease, lambda t: _claim_refusal(t, journal, here, environ))
        except BaseException:
            if replication is not None:
                replication.detach()
            raise
    except BaseException:
        journal.close()
        raise
    steps = journal.steps(task.id)
    strict = changed is not None and not accept_changes
    if changed is not None and accept_changes:
        journal.replace_source(task.id, task.epoch, text, source_hash(text), f"accepted a change from line {changed}")
        task.source, task.source_hash = text, source_hash(text)
    done = sum(1 for s in steps if s.finished)
    if steps or task.queue is None:
        report(f"resuming task {task.id} ({task.name}): {done} of {len(steps)} steps finished, epoch {task.epoch}")
    else:
        report(f"starting task {task.id} ({task.name}) from queue {task.queue}, epoch {task.epoch}")
    replay = Replay(steps, strict, changed, task.id)
    return _run(task, journal, here, lease, replay, text, environ, report, replication)


def retry(spec: str, from_step: str, environ: dict[str, str], report) -> int:  # type: ignore[no-untyped-def]
    """A new task that runs `spec`'s script again, its finished steps before `from_step`
    carried over (not run again); the new task's exit status."""
    journal = open_existing(environ)
    try:
        old = find_task(journal, spec)
        here = this_process()
        refusal = _owner_refusal(old, here)
        if refusal is not None:
            raise TaskRefused(refusal)
        step = find_step(journal, old, from_step)
        text, _ = _current_text(old, report)
        lease = lease_seconds(environ.get("FMSH_LEASE"))
        values = {
            name: getattr(old, name)
            for name in ("name", "origin", "source_name", "args", "cwd", "options", "parent_task", "parent_step")
        }
        values.update(source=text, source_hash=source_hash(text), retry_of=old.id, retry_from=step.seq)
        replication = _replicate(environ, journal)
        try:
            task = journal.create_task(values, here, lease)
            carried = journal.carry_steps(old.id, task.id, step.seq)
        except BaseException:
            if replication is not None:
                replication.detach()
            raise
    except BaseException:
        journal.close()
        raise
    report(f"task {task.id}: a retry of task {old.id} from step {step.seq} ({carried} finished steps carried over)")
    replay = Replay(journal.steps(task.id), task_id=task.id)
    return _run(task, journal, here, lease, replay, text, environ, report, replication)


def _run(task: TaskRecord, journal: Journal, here: Owner, lease: float, replay: Replay, text: str,
         environ: dict[str, str], report, replication: Replication | None = None) -> int:  # type: ignore[no-untyped-def]  # fmt: skip
    try:
        bindings = journal.bindings(task.id)
        restored, missing = environment.restore(bindings, environ)
        for name in missing:
            report(f"task {task.id}: {name} was set when the task began and is not set now (secrets are not journaled)")
        sh = _shell_for(task, restored)
        observations, seed = _observations(bindings)
        run = TaskRun(sh, journal, task, here, lease, replay, observations, seed, replication)
    except BaseException:
        if replication is not None:
            replication.detach()
        journal.close()
        raise
    from fmsh.tasks.leftovers import stop_leftovers

    run.unstopped = stop_leftovers(run, report)  # before a step can run again beside its first copy
    status = sh.run_script(text, task.source_name, resumed=run)
    sh.close()
    return status


def refuse_if_running(journal: Journal, task: TaskRecord, action: str) -> None:
    here = this_process()
    if task.status == "running" and not owner_gone(task, here):
        raise TaskRefused(f"task {task.id} is running (owner {describe_owner(task)}); {action} it once it has stopped")
