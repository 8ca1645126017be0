"""The task commands as a library: list, log, cancel, forget (resume and retry are in
start.py, trace in fmsh/trace). The `fmsh --tasks`... command line (cli.py) is a thin
layer over these, and the builtins of the same names run that command line.
"""

from __future__ import annotations

from fmsh.runtime.errors import ShellError
from fmsh.tasks.owner import describe_owner, owner_gone, this_process
from fmsh.tasks.start import find_step, find_task, open_existing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from fmsh.journal.records import ChunkRecord, StepRecord, TaskRecord

STATUSES = ("queued", "running", "done", "failed", "interrupted", "cancelled")


def list_tasks(
    environ: Mapping[str, str], statuses: list[str], name: str | None, limit: int | None, as_json: bool
) -> str:
    from fmsh.journal import open_journal
    from fmsh.tasks import views

    for status in statuses:
        if status not in STATUSES:
            raise ShellError(f"--status {status}: not one of {', '.join(STATUSES)}", status=2)
    if environ.get("FMSH_JOURNAL") == "none":
        return "" if as_json else "no tasks: FMSH_JOURNAL=none (tasks run without a journal)\n"
    journal = open_journal(environ, create=False)
    if journal is None:
        return "" if as_json else "no tasks yet\n"
    try:
        here = this_process()
        # `interrupted` includes running tasks whose owner is gone: filter after asking.
        wanted = set(statuses)
        stored = None if not wanted else sorted(wanted | ({"running"} if "interrupted" in wanted else set()))
        tasks = journal.tasks(stored, name, None if wanted else limit)
        if wanted:
            tasks = [t for t in tasks if views.shown_status(t, here) in wanted][:limit]
        if as_json:
            return views.task_json(journal, tasks, here)
        # The summary is of the whole journal even when --status or --name narrow the
        # table: it says what the journal holds, and what the filters left out.
        summary = views.task_summary(journal, here)
        if not tasks and not summary:
            return "no tasks\n" if (wanted or name) else "no tasks yet\n"
        table = views.task_list(journal, tasks, here) if tasks else _no_match(statuses, name)
        return summary + "\n" + table if summary else table
    finally:
        journal.close()


def _no_match(statuses: list[str], name: str | None) -> str:
    """Under a summary that counts tasks, a bare "no tasks" would contradict it."""
    import shlex

    filters = [f"--status {','.join(statuses)}"] if statuses else []
    if name:
        filters.append(f"--name {shlex.quote(name)}")
    return f"no tasks match {' '.join(filters)}\n" if filters else "no tasks\n"


def write_log(
    environ: Mapping[str, str], spec: str, step_spec: str | None, host: str | None, as_json: bool = False
) -> int:
    """The output a task's steps left: remote output as it came (stdout to 1, stderr to
    2, `host: ` before each line when a step ran on several hosts; the latest attempt of
    each host), and what captures captured. With `as_json`, the same selection as JSON
    lines on 1 (log_objects). 1 when there is none to show."""
    from fmsh.interp.shell import write_fd

    journal = open_existing(environ)
    try:
        task = find_task(journal, spec)
        steps = [find_step(journal, task, step_spec)] if step_spec is not None else journal.steps(task.id)
        shown = False
        for step in steps:
            chunks = _latest_attempts(list(journal.chunks(task.id, step.seq, host)))
            captured = step.kind == "capture" and bool(step.output) and host is None
            cut = [r for r in journal.hosts(task.id, step.seq) if r.truncated and (host is None or r.host == host)]
            if as_json:
                write_fd(1, "".join(log_objects(task.id, step, chunks, captured, {r.host for r in cut})))
            else:
                _write_log_text(step, chunks, captured, header=step_spec is None)
            shown = shown or bool(chunks) or captured
            for record in cut:
                write_fd(
                    2,
                    f"fmsh: log: step {step.seq} on {record.host}: only the first part of its "
                    f"{record.output_bytes} bytes was journaled (FMSH_JOURNAL_OUTPUT sets how much)\n",
                )
        if not shown:
            what = f"step {step_spec} of task {task.id}" if step_spec is not None else f"task {task.id}"
            write_fd(2, f"fmsh: log: {what} has no journaled output" + (f" from {host}" if host else "") + "\n")
            return 1
        return 0
    finally:
        journal.close()


def _latest_attempts(chunks: list[ChunkRecord]) -> list[ChunkRecord]:
    """Each host's output from its latest attempt only: an earlier one was run again."""
    latest: dict[str, int] = {}
    for chunk in chunks:
        latest[chunk.host] = max(latest.get(chunk.host, 0), chunk.attempt)
    return [c for c in chunks if c.attempt == latest[c.host]]


def _write_log_text(step: StepRecord, chunks: list[ChunkRecord], captured: bool, header: bool) -> None:
    from fmsh.interp.shell import write_fd

    if header and (chunks or captured):
        write_fd(1, f"--- step {step.seq} ({step.key}) {step.text}\n")
    prefix = len({c.host for c in chunks}) > 1
    for chunk in chunks:
        data = chunk.data
        if prefix:
            data = b"".join(chunk.host.encode() + b": " + line for line in data.splitlines(keepends=True))
        write_fd(chunk.stream, data.decode("utf-8", "surrogateescape"))
    if captured:
        write_fd(1, f"{step.output}\n")


def log_objects(task_id: int, step: StepRecord, chunks: list[ChunkRecord], captured: bool, cut: set[str]) -> list[str]:
    """`log --json`: one JSON line per journaled chunk, every object with the same keys
    (task, seq, key, step, host, attempt, stream, at, text, truncated), so that jq filters
    need no special case. stream is stdout or stderr, or capture for what a capture
    captured (host ""). `truncated` is true on every chunk of a host whose output was
    journaled only in part: a consumer that joins a host's text can tell it is not whole,
    and no notice object mixes in with the output."""
    import json

    def line(host: str, attempt: int, stream: str, at: float | None, text: str, truncated: bool) -> str:
        record = {"task": task_id, "seq": step.seq, "key": step.key, "step": step.text, "host": host,
                  "attempt": attempt, "stream": stream, "at": at, "text": text, "truncated": truncated}  # fmt: skip
        return json.dumps(record) + "\n"

    lines = [
        line(c.host, c.attempt, "stderr" if c.stream == 2 else "stdout", c.at,
             c.data.decode("utf-8", "replace"), c.host in cut)
        for c in chunks
    ]  # fmt: skip
    if captured:
        lines.append(line("", step.attempts, "capture", step.ended_at, step.output or "", False))
    return lines


def cancel_task(environ: Mapping[str, str], spec: str) -> str:
    journal = open_existing(environ)
    try:
        task = find_task(journal, spec)
        here = this_process()

        def refusal(t: TaskRecord) -> str | None:
            if t.status in ("done", "failed", "cancelled"):
                return f"task {t.id} ({t.name}) is already {t.status}; nothing to cancel"
            return None

        task = journal.cancel_task(task.id, refusal)
        if task.owner_pid is not None and not owner_gone(task, here):
            return f"task {task.id} cancelled; its owner {describe_owner(task)} stops before its next step\n"
        return f"task {task.id} cancelled\n"
    finally:
        journal.close()


def forget_task(environ: Mapping[str, str], spec: str) -> str:
    journal = open_existing(environ)
    try:
        task = find_task(journal, spec)
        here = this_process()

        def refusal(t: TaskRecord) -> str | None:
            if t.status == "running" and not owner_gone(t, here):
                return f"task {t.id} is running (owner {describe_owner(t)}); `cancel {t.id}` it first"
            return None

        journal.forget_task(task.id, refusal)
        return f"task {task.id} ({task.name}) forgotten\n"
    finally:
        journal.close()
