"""`tasks` as a person reads it (a table) and as a program does (JSON lines), and the
small formatters that the trace views share (when, duration).
"""

from __future__ import annotations

import time

from fmsh.tasks.owner import describe_owner, owner_gone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.journal.base import Journal, Owner
    from fmsh.journal.records import TaskRecord


def shown_status(task: TaskRecord, here: Owner) -> str:
    """A running task whose owner is gone is, in truth, interrupted."""
    if task.status == "running" and owner_gone(task, here):
        return "interrupted"
    return task.status


def when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def task_duration(task: TaskRecord, status: str) -> float | None:
    """Until it ended; a running task until now; an interrupted one until its last heartbeat."""
    end = task.finished_at or (time.time() if status == "running" else max(task.heartbeat_at or 0, task.updated_at))
    return None if end is None else max(0.0, end - task.created_at)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def task_list(journal: Journal, tasks: list[TaskRecord], here: Owner) -> str:
    summary = journal.step_summary([t.id for t in tasks])
    rows = [["ID", "NAME", "STATUS", "OWNER", "STARTED", "DURATION", "STEPS", "FAILED"]]
    for task in tasks:
        status = shown_status(task, here)
        count, failed = summary.get(task.id, (0, []))
        if task.exit_status not in (None, 0) and status in ("failed", "interrupted", "cancelled"):
            status += f" ({task.exit_status})"
        rows.append(
            [
                str(task.id),
                task.name,
                status,
                describe_owner(task),
                when(task.created_at),
                duration(task_duration(task, shown_status(task, here))),
                str(count),
                ",".join(map(str, failed)) or "-",
            ]
        )
    return _table(rows)


SHOWN_ORDER = ("queued", "running", "done", "failed", "interrupted", "cancelled")
RECENT_FAILURES = 3


def task_summary(journal: Journal, here: Owner) -> str:
    """What the journal holds, above the table: counts by shown status over every task,
    then the newest failed or interrupted tasks with the step each stopped at. "" when
    the journal has no tasks."""
    running = {t.id: shown_status(t, here) for t in journal.tasks(["running"])}
    counts = _shown_counts(journal.task_counts(), running)
    total = sum(counts.values())
    if not total:
        return ""
    order = [*SHOWN_ORDER, *sorted(set(counts) - set(SHOWN_ORDER))]
    parts = [f"{counts[s]} {s}" for s in order if counts.get(s)]
    text = f"{total} task{'' if total == 1 else 's'}: " + " · ".join(parts) + "\n"
    failures = _recent_failures(journal, here, live=sum(s == "running" for s in running.values()))
    if failures:
        failed_steps = journal.step_summary([t.id for t, _ in failures])
        rows = [_failure_row(journal, t, s, failed_steps.get(t.id, (0, []))[1]) for t, s in failures]
        text += "recent failures:\n" + _failure_lines(rows)
    return text


def _shown_counts(stored: dict[str, int], running: dict[int, str]) -> dict[str, int]:
    """Stored counts with the running tasks as shown: those whose owner is gone move to
    interrupted. The running count comes from the tasks just read, not from `stored`, so
    that a task that started or ended between the two reads cannot make it negative."""
    counts = dict(stored)
    gone = sum(s == "interrupted" for s in running.values())
    counts["running"] = len(running) - gone
    counts["interrupted"] = counts.get("interrupted", 0) + gone
    return counts


def _recent_failures(journal: Journal, here: Owner, live: int) -> list[tuple[TaskRecord, str]]:
    """The newest failed or interrupted tasks (as shown), with their shown status. Live
    running tasks come back from the query too and are dropped, hence the larger limit."""
    candidates = journal.tasks(["failed", "running", "interrupted"], limit=RECENT_FAILURES + live)
    shown = [(t, shown_status(t, here)) for t in candidates]
    return [(t, s) for t, s in shown if s in ("failed", "interrupted")][:RECENT_FAILURES]


def _failure_row(journal: Journal, task: TaskRecord, status: str, failed: list[int]) -> list[str]:
    """id, name, start, and `exit 1 at step 4: TEXT (exit 1)`: the first failed step; for
    a task without one (killed mid-step), the step it was in when it stopped."""
    outcome = f"exit {task.exit_status}" if task.exit_status is not None else status
    row = [str(task.id), _one_line(task.name, 24), when(task.created_at), outcome]
    # One step read, not the task's every step (an interrupted task may have 10,000).
    step = journal.step(task.id, failed[0] if failed else None)
    if step is not None:
        if step.finished:
            how = f"exit {step.exit_status}"
        else:
            how = "in flight" if status == "interrupted" else "did not finish"
        row[-1] += f" at step {step.seq}: {_one_line(step.text, 60)} ({how})"
    return row


def _failure_lines(rows: list[list[str]]) -> str:
    """Indented under their heading, ids to the right and names to the left of their column."""
    id_width = max(len(r[0]) for r in rows)
    name_width = max(len(r[1]) for r in rows)
    lines = [f"  {i.rjust(id_width)} {name.ljust(name_width)}  {start}  {rest}" for i, name, start, rest in rows]
    return "".join(line + "\n" for line in lines)


def _one_line(text: str, width: int) -> str:
    """A name or a step's source on one line of the summary (a step can be a block of many
    lines; the table and `trace` show it whole)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def task_json(journal: Journal, tasks: list[TaskRecord], here: Owner) -> str:
    import json

    summary = journal.step_summary([t.id for t in tasks])
    lines = []
    for task in tasks:
        count, failed = summary.get(task.id, (0, []))
        record = {k: v for k, v in task.as_dict().items() if k != "source"}
        record.update(shown_status=shown_status(task, here), steps=count, failed_steps=failed)
        lines.append(json.dumps(record))
    return "".join(line + "\n" for line in lines)
