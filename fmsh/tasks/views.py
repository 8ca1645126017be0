"""`tasks`, `trace` and `log` as text: what the journal holds, for a person to read.

(Richer reports — JSON, timelines — come with the tracing work; these stay plain text
that reads well in a terminal and in a pipe.)
"""

from __future__ import annotations

import time

from fmsh.tasks.owner import describe_owner, owner_gone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.journal.base import Journal, Owner
    from fmsh.journal.records import AttemptRecord, HostRecord, HostTryRecord, StepRecord, TaskRecord


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


# --- trace ----------------------------------------------------------------------------


class _Node:
    __slots__ = ("label", "children", "index")

    def __init__(self, label: str) -> None:
        self.label = label
        self.children: list[_Node] = []
        self.index: dict[str, _Node] = {}

    def child(self, key: str, label: str) -> _Node:
        node = self.index.get(key)
        if node is None:
            node = self.index[key] = _Node(label)
            self.children.append(node)
        return node


def _frame_label(frame: str, site: str) -> str:
    """A call or a loop round, as the tree shows it: its source and where it is."""
    if "#" in frame and "@" not in frame:
        where, _, number = frame.rpartition("#")
        unit = "attempt" if site.startswith("retry ") else "round"  # a retry's attempts are keyed as rounds
        return f"{site or 'loop'} ({where}), {unit} {number}"
    name, _, where = frame.partition("@")
    return f"{site or name} ({where})"


def _step_status(step: StepRecord, task_status: str) -> str:
    if step.status != "finished":
        return "running" if task_status == "running" else "interrupted"
    if step.kind == "background" and step.ended_at is None:
        return "launched"
    return "ok" if step.exit_status == 0 else f"exit {step.exit_status}"


def _host_status(host: HostRecord | HostTryRecord) -> str:
    if host.failure is None:
        return "ok"
    if host.failure == "exit":
        return f"exit {host.status}"
    return f"{host.failure} ({host.status})"


def trace(journal: Journal, task: TaskRecord, here: Owner) -> str:
    status = shown_status(task, here)
    header = f"task {task.id} {task.name}: {status}"
    if task.exit_status is not None:
        header += f" (exit {task.exit_status})"
    lines = [
        header,
        f"  started {when(task.created_at)}, {duration(task_duration(task, status))}; owner "
        f"{describe_owner(task)}, epoch {task.epoch}; source {task.source_name}",
    ]
    if task.retry_of:
        lines.append(f"  a retry of task {task.retry_of} from step {task.retry_from}")
    steps = journal.steps(task.id)
    hosts: dict[int, list[HostRecord]] = {}
    for host in journal.hosts(task.id):
        hosts.setdefault(host.seq, []).append(host)
    tries: dict[tuple[int, str], list[str]] = {}
    for one in journal.host_tries(task.id):
        tries.setdefault((one.seq, one.host), []).append(_host_status(one))
    attempts: dict[int, list[AttemptRecord]] = {}
    for attempt in journal.attempts(task.id):
        attempts.setdefault(attempt.seq, []).append(attempt)
    root = _Node("")
    for step in steps:
        node = root
        parts = step.key.split(">")
        sites = step.context.split(" › ") if step.context else []
        for depth, frame in enumerate(parts[:-1]):
            site = sites[depth] if depth < len(sites) else ""
            node = node.child(">".join(parts[: depth + 1]), _frame_label(frame, site))
        leaf = node.child(f"step {step.seq}", _step_line(step, status, attempts.get(step.seq, [])))
        for host in hosts.get(step.seq, []):
            took = host.ended_at - host.started_at if host.started_at else None
            extra = f", {host.output_bytes} bytes" if host.output_bytes else ""
            outcomes = tries.get((step.seq, host.host), [])
            if len(outcomes) > 1:
                extra += f"  tries {len(outcomes)} ({', '.join(outcomes)})"
            leaf.child(host.host, f"{host.host}  {_host_status(host)}  {duration(took)}{extra}")
    if not steps:
        lines.append("  (no steps yet)")
    _draw(root, "", lines)
    return "\n".join(lines) + "\n"


def _step_line(step: StepRecord, task_status: str, attempts: list[AttemptRecord]) -> str:
    took = step.ended_at - step.started_at if step.ended_at and step.started_at else None
    line = f"{step.seq}  {step.key}  {step.kind}  {step.text}  {_step_status(step, task_status)}  {duration(took)}"
    if len(attempts) > 1:
        outcomes = ", ".join(a.outcome or "running" for a in attempts)
        line += f"  attempts {len(attempts)} ({outcomes})"
    if step.carried_from:
        line += f"  carried over from task {step.carried_from.replace(':', ' step ')}"
    return line


def _draw(node: _Node, prefix: str, lines: list[str]) -> None:
    for k, child in enumerate(node.children):
        last = k == len(node.children) - 1
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{child.label}")
        _draw(child, prefix + ("   " if last else "│  "), lines)
