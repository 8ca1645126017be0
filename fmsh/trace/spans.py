"""The task's spans as plain data: the trace document (model.py) as a tree of `Node`s,
with their ids, names, times, attributes and events, before any OpenTelemetry type. otel.py
makes OpenTelemetry's spans and the OTLP/JSON file of them.

The spans (one trace per task; each span's times are the journal's):

    task ID NAME                    the root: created_at .. finished_at (or last activity)
    ├── FRAME                       a call, a loop round or a retry attempt: its children's extent
    │   └── STEP TEXT               a step (its text, cut to 80 characters)
    │       ├── attempt N           only when a resumed task ran the step more than once
    │       │   └── @HOST           ... then the hosts whose result came from that attempt
    │       └── @HOST               a remote step's host
    │           └── @HOST try N     only when the host took more than one try
    └── STEP TEXT

A level appears only when it holds more than one of a kind (attempts, tries), so a plain
run has a span per frame, step and host. A failed step the script did not test, a failed
host or try, a retry attempt that was retried and a failed task have status ERROR. An
await's step carries `fmsh.wait.*` attributes and the signal it took as an event; the
task's life (created, claimed, done...) and each signal sent are events on the root.

IDs are derived, not random: the trace id from (task id, created_at, source name), each
span id from its node's path in the task (`step/7/host/web03/try/2`), so exporting a task
twice gives the same ids and a backend can deduplicate. None is 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NAME_LENGTH = 80

Document = dict[str, Any]
Attributes = dict[str, Any]


@dataclass
class Node:
    """One span before it becomes OpenTelemetry's: times in float seconds, ids as ints."""

    path: str
    name: str
    parent: Node | None
    start: float | None
    end: float | None
    kind: str = "internal"  # internal | client
    attributes: Attributes = field(default_factory=dict)
    events: list[tuple[str, float, Attributes]] = field(default_factory=list)
    error: str | None = None  # the status description of a span whose status is ERROR
    ok: bool = False  # status OK (a task that finished well)
    span_id: int = 0


def _digest(*parts: str | bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part)
        h.update(b"\0")
    return h.digest()


def trace_id_of(task: Mapping[str, Any]) -> int:
    """The task's trace id: the same for the same task in the same journal, never 0."""
    digest = _digest("fmsh-trace", str(task["id"]), repr(float(task["created_at"])), task.get("source_name") or "")
    return int.from_bytes(digest[:16], "big") or 1


def _span_id(trace_id: int, path: str) -> int:
    return int.from_bytes(_digest(trace_id.to_bytes(16, "big"), path)[:8], "big") or 1


def _cut(text: str, length: int = NAME_LENGTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _set(attributes: Attributes, values: Mapping[str, Any]) -> None:
    """Add the values that are known: OpenTelemetry takes no None."""
    for name, value in values.items():
        if value is not None:
            attributes[name] = value


def _earliest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _latest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def nodes_of(document: Document) -> list[Node]:
    """The spans of a trace document, parents before their children, as plain data."""
    task = document["task"]
    trace_id = trace_id_of(task)
    end = task["finished_at"]
    if end is None and task.get("duration") is not None:
        end = task["created_at"] + task["duration"]
    root = Node(f"task/{task['id']}", _cut(f"task {task['id']} {task['name']}"), None, task["created_at"], end)
    _task_attributes(root, document)
    nodes = [root]
    steps = {step["seq"]: step for step in document["steps"]}
    for item in document["tree"]:
        nodes.extend(_walk(item, root, steps, task))
    for node in nodes:
        node.span_id = _span_id(trace_id, node.path)
    # a span with no start of its own takes its parent's, and one that did not end (a
    # running or interrupted task's step) ends at the task's last activity
    for node in nodes:
        start = node.start
        if start is None:
            start = node.start = node.parent.start if node.parent is not None else None
        if start is None:
            start = node.start = task["created_at"]
        node.end = _latest(start, root.end if node.end is None else node.end)
    return nodes


def _task_attributes(root: Node, document: Document) -> None:
    task, summary = document["task"], document["summary"]
    _set(
        root.attributes,
        {
            "fmsh.task.id": task["id"],
            "fmsh.task.name": task["name"],
            "fmsh.task.status": task["status"],
            "fmsh.task.exit_status": task["exit_status"],
            "fmsh.task.epoch": task["epoch"],
            "fmsh.task.owner": task["owner"],
            "fmsh.task.origin": task["origin"],
            "fmsh.task.source_name": task["source_name"],
            "fmsh.task.args": [str(a) for a in task["args"]] or None,
            "fmsh.task.cwd": task["cwd"],
            "fmsh.task.deadline": task["deadline"],
            "fmsh.task.retry_of": task["retry_of"],
            "fmsh.task.retry_from": task["retry_from"],
            "fmsh.task.parent_task": task["parent_task"],
            "fmsh.task.parent_step": task["parent_step"],
            "fmsh.task.steps": summary["steps"],
            "fmsh.task.failed_steps": list(summary["failed_steps"]) or None,
            "fmsh.task.hosts": summary["hosts"],
            "fmsh.task.failed_hosts": summary["failed_hosts"],
            "fmsh.task.retried_hosts": summary["retried_hosts"],
        },
    )
    if task["status"] == "failed":
        root.error = "failed" if task["exit_status"] is None else f"exit {task['exit_status']}"
    elif task["status"] == "done":
        root.ok = True
    for event in document["events"]:
        attributes: Attributes = {}
        _set(
            attributes,
            {
                "fmsh.event.epoch": event["epoch"],
                "fmsh.event.owner": event["owner"],
                "fmsh.event.detail": event["detail"],
            },
        )
        root.events.append((event["kind"], event["at"], attributes))
    for signal in document["signals"]:
        root.events.append((f"signal {signal['name']}", signal["sent_at"], _signal_attributes(signal)))
    root.events.sort(key=lambda e: e[1])


def _signal_attributes(signal: Mapping[str, Any]) -> Attributes:
    attributes: Attributes = {}
    _set(
        attributes,
        {
            "fmsh.signal.id": signal["id"],
            "fmsh.signal.name": signal["name"],
            "fmsh.signal.value": signal["value"],
            "fmsh.signal.state": signal["state"],
            "fmsh.signal.sender": signal["sender"],
            "fmsh.signal.sent_at": signal["sent_at"],
            "fmsh.signal.step": signal["seq"],
            "fmsh.signal.note": signal["note"],
        },
    )
    return attributes


def _walk(item: Mapping[str, Any], parent: Node, steps: Mapping[int, Document], task: Mapping[str, Any]) -> list[Node]:
    if item["type"] == "step":
        step = steps.get(item["seq"])
        return [] if step is None else _step_nodes(step, parent, task)
    frame = Node(f"frame/{item['key']}", _frame_name(item), parent, None, None)
    _set(
        frame.attributes,
        {
            "fmsh.frame.key": item["key"],
            "fmsh.frame.kind": item["kind"],
            "fmsh.frame.source": item["source"],
            "fmsh.frame.round": item["round"],
            "fmsh.frame.outcome": item["outcome"],
            "fmsh.frame.exit_status": item.get("exit_status"),
            "code.lineno": item["line"],
            "code.filepath": task.get("source_name") or None,
        },
    )
    if item["outcome"] == "failed":
        status = item.get("exit_status")
        frame.error = "attempt failed" if status is None else f"attempt failed: exit {status}"
    nodes = [frame]
    for child in item["children"]:
        nodes.extend(_walk(child, frame, steps, task))
    children = [n for n in nodes[1:] if n.parent is frame]
    frame.start = _earliest(*(n.start for n in children))
    frame.end = _latest(*(n.end for n in children))
    return nodes


def _frame_name(frame: Mapping[str, Any]) -> str:
    source = frame["source"] or frame["kind"]
    if frame["kind"] == "call" or frame["round"] is None:
        return _cut(source)
    unit = "attempt" if frame["kind"] == "retry" else "round"
    suffix = f", {unit} {frame['round']}"
    return _cut(source, NAME_LENGTH - len(suffix)) + suffix


def _step_name(step: Mapping[str, Any]) -> str:
    """The step's text; a backoff's text is its retry's, so it says what it waited."""
    backoff = step.get("backoff")
    if step["kind"] == "backoff" and backoff and backoff["seconds"] is not None:
        after = backoff["after_status"]
        return f"backoff {backoff['seconds']:.3g}s" + ("" if after is None else f" after exit {after}")
    return _cut(step["text"] or step["kind"])


def _step_nodes(step: Mapping[str, Any], parent: Node, task: Mapping[str, Any]) -> list[Node]:
    attempts = step["attempts"]
    start = _earliest(step["started_at"], *(a["started_at"] for a in attempts))
    end = step["ended_at"]
    if end is None and step["status"] != "running":
        end = _latest(*(a["ended_at"] for a in attempts))
    node = Node(f"step/{step['seq']}", _step_name(step), parent, start, end)
    _set(
        node.attributes,
        {
            "fmsh.step.seq": step["seq"],
            "fmsh.step.key": step["key"],
            "fmsh.step.kind": step["kind"],
            "fmsh.step.location": step["location"],
            "fmsh.step.text": step["text"],
            "fmsh.step.status": step["status"],
            "fmsh.step.label": step["label"],
            "fmsh.step.exit_status": step["exit_status"],
            "fmsh.step.tested": step["tested"],
            "fmsh.step.pipestatus": step["pipestatus"] or None,
            "fmsh.step.carried_from": step["carried_from"],
            "fmsh.step.attempts": len(attempts),
            "fmsh.step.output_bytes": step.get("output_bytes"),
            "code.lineno": step["line"],
            "code.filepath": task.get("source_name") or None,
        },
    )
    if step["hosts"]:
        _set(
            node.attributes,
            {
                "fmsh.step.hosts": len(step["hosts"]),
                "fmsh.step.failed_hosts": sum(1 for h in step["hosts"] if h["outcome"] != "ok"),
            },
        )
    if step["status"] == "failed" and not step["tested"]:
        node.error = step["label"]
    wait = step.get("wait")
    if wait:
        _set(
            node.attributes,
            {
                "fmsh.wait.name": wait["name"],
                "fmsh.wait.kind": wait["kind"],
                "fmsh.wait.state": wait["state"],
                "fmsh.wait.deadline": wait["deadline"],
                "fmsh.wait.started_at": wait["started_at"],
                "fmsh.wait.ended_at": wait["ended_at"],
            },
        )
        signal = wait.get("signal")
        if signal and signal.get("delivered_at") is not None:
            node.events.append((f"signal {signal['name']}", signal["delivered_at"], _signal_attributes(signal)))
    backoff = step.get("backoff")
    if backoff:
        _set(
            node.attributes,
            {"fmsh.backoff.seconds": backoff["seconds"], "fmsh.backoff.after_status": backoff["after_status"]},
        )
    nodes = [node]
    by_attempt: dict[int, Node] = {}
    if len(attempts) > 1:
        for attempt in attempts:
            child = Node(
                f"{node.path}/attempt/{attempt['attempt']}",
                f"attempt {attempt['attempt']}",
                node,
                attempt["started_at"],
                attempt["ended_at"],
            )
            _set(
                child.attributes,
                {
                    "fmsh.attempt.number": attempt["attempt"],
                    "fmsh.attempt.epoch": attempt["epoch"],
                    "fmsh.attempt.owner": attempt["owner"],
                    "fmsh.attempt.outcome": attempt["outcome"],
                    "fmsh.attempt.exit_status": attempt["exit_status"],
                    "fmsh.attempt.error": attempt["error"],
                },
            )
            if attempt["outcome"] not in (None, "finished"):
                child.error = attempt["outcome"] + (f": {attempt['error']}" if attempt["error"] else "")
            by_attempt[attempt["attempt"]] = child
            nodes.append(child)
    for host in step["hosts"]:
        nodes.extend(_host_nodes(host, by_attempt.get(host["attempt"], node), step))
    return nodes


def _peer(attributes: Attributes, host: str) -> None:
    attributes["server.address"] = host
    attributes["net.peer.name"] = host


def _host_nodes(host: Mapping[str, Any], parent: Node, step: Mapping[str, Any]) -> list[Node]:
    tries = host["tries"]
    start = _earliest(host["started_at"], *(t["started_at"] for t in tries))
    if start is None:
        start = step["started_at"]
    end = _latest(host["ended_at"], *(t["ended_at"] for t in tries))
    kind = "internal" if len(tries) > 1 else "client"
    node = Node(f"step/{step['seq']}/host/{host['host']}", f"@{host['host']}", parent, start, end, kind)
    _peer(node.attributes, host["host"])
    _set(
        node.attributes,
        {
            "fmsh.host.outcome": host["outcome"],
            "fmsh.host.label": host["label"],
            "fmsh.host.exit_status": host["exit_status"],
            "fmsh.host.failure": host["failure"],
            "fmsh.host.message": host["message"] or None,
            "fmsh.host.attempt": host["attempt"],
            "fmsh.host.tries": len(tries),
            "fmsh.host.output_bytes": host["output_bytes"],
            "fmsh.host.truncated": host["truncated"] or None,
        },
    )
    if host["outcome"] != "ok":
        node.error = host["label"] + (f": {host['message']}" if host["message"] else "")
    nodes = [node]
    if len(tries) > 1:
        for index, one in enumerate(tries):
            number = one["try"]
            attempt = one.get("attempt")  # not in the document (yet): tries of every attempt
            child = Node(
                f"{node.path}/try/{index + 1}",
                f"@{host['host']} try {number}",
                node,
                one["started_at"],
                one["ended_at"],
                "client",
            )
            _peer(child.attributes, host["host"])
            _set(
                child.attributes,
                {
                    "fmsh.try.number": number,
                    "fmsh.try.attempt": attempt,
                    "fmsh.try.outcome": one["outcome"],
                    "fmsh.try.label": one["label"],
                    "fmsh.try.exit_status": one["exit_status"],
                    "fmsh.try.failure": one["failure"],
                    "fmsh.try.message": one["message"] or None,
                    "fmsh.try.waited": one["waited"],
                },
            )
            if one["outcome"] != "ok":
                child.error = one["label"] + (f": {one['message']}" if one["message"] else "")
            nodes.append(child)
    return nodes
