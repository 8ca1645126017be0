"""The task commands as a library: list, trace, log, cancel, forget (resume and retry are
in start.py). The `fmsh --tasks`... command line (cli.py) is a thin layer over these, and
the builtins of the same names run that command line.
"""

from __future__ import annotations

from fmsh.runtime.errors import ShellError
from fmsh.tasks.owner import describe_owner, owner_gone, this_process
from fmsh.tasks.start import find_step, find_task, open_existing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from fmsh.journal.records import TaskRecord

STATUSES = ("running", "done", "failed", "interrupted", "cancelled")


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
        if not tasks:
            return "no tasks\n" if (wanted or name) else "no tasks yet\n"
        return views.task_list(journal, tasks, here)
    finally:
        journal.close()


def trace_task(environ: Mapping[str, str], spec: str) -> str:
    from fmsh.tasks import views

    journal = open_existing(environ)
    try:
        return views.trace(journal, find_task(journal, spec), this_process())
    finally:
        journal.close()


def write_log(environ: Mapping[str, str], spec: str, step_spec: str | None, host: str | None) -> int:
    """The output a task's steps left: remote output as it came (stdout to 1, stderr to
    2, `host: ` before each line when a step ran on several hosts; the latest attempt of
    each host), and what captures captured. 1 when there is none to show."""
    from fmsh.interp.shell import write_fd

    journal = open_existing(environ)
    try:
        task = find_task(journal, spec)
        steps = [find_step(journal, task, step_spec)] if step_spec is not None else journal.steps(task.id)
        shown = False
        for step in steps:
            chunks = list(journal.chunks(task.id, step.seq, host))
            latest: dict[str, int] = {}
            for chunk in chunks:
                latest[chunk.host] = max(latest.get(chunk.host, 0), chunk.attempt)
            chunks = [c for c in chunks if c.attempt == latest[c.host]]
            captured = step.kind == "capture" and bool(step.output) and host is None
            if step_spec is None and (chunks or captured):
                write_fd(1, f"--- step {step.seq} ({step.key}) {step.text}\n")
            prefix = len(latest) > 1
            for chunk in chunks:
                data = chunk.data
                if prefix:
                    data = b"".join(chunk.host.encode() + b": " + line for line in data.splitlines(keepends=True))
                write_fd(chunk.stream, data.decode("utf-8", "surrogateescape"))
            if captured:
                write_fd(1, f"{step.output}\n")
            shown = shown or bool(chunks) or captured
            for record in journal.hosts(task.id, step.seq):
                if record.truncated and (host is None or record.host == host):
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
