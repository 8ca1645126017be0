"""The trace document: one task, read from the journal, as plain data (dicts and lists).

Every view of a trace — the text tree, `--json`, the HTML page, OpenTelemetry spans —
is made from this document, never from the journal, so they cannot disagree. Its shape
is described by schema.json (format `fmsh-trace`, version 1) and in the manual (TRACE).

A step's place in the tree comes from its key (`4:3#2>deploy@5:1>7:3`): each part
before the last is a frame — a loop round (`4:3#2`), a retry attempt (a round of a
`retry` site) or a call (`deploy@5:1`) — and the step's context holds each frame's
source, so that the tree can say what the frame is without the script.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fmsh.tasks.owner import describe_owner
from fmsh.tasks.views import shown_status, task_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.journal.base import Journal, Owner
    from fmsh.journal.records import (
        AttemptRecord,
        HostRecord,
        HostTryRecord,
        SignalRecord,
        StepRecord,
        TaskRecord,
        WaitRecord,
    )

FORMAT = "fmsh-trace"
VERSION = 1
CONTEXT_SEPARATOR = " › "

Document = dict[str, Any]


def build(journal: Journal, task: TaskRecord, here: Owner, output: bool = False) -> Document:
    """The trace document of `task`; with `output`, each step's journaled output too."""
    status = shown_status(task, here)
    hosts: dict[int, list[HostRecord]] = {}
    for host in journal.hosts(task.id):
        hosts.setdefault(host.seq, []).append(host)
    tries: dict[tuple[int, str], list[HostTryRecord]] = {}
    for one in journal.host_tries(task.id):
        tries.setdefault((one.seq, one.host), []).append(one)
    attempts: dict[int, list[AttemptRecord]] = {}
    for attempt in journal.attempts(task.id):
        attempts.setdefault(attempt.seq, []).append(attempt)
    waits = {wait.seq: wait for wait in journal.waits(task.id)}
    signals = [_signal(s) for s in journal.signals(task.id)]
    taken = {s["seq"]: s for s in signals if s["seq"] is not None and s["state"] == "delivered"}
    chunks = _chunks(journal, task.id) if output else {}

    steps = []
    for record in journal.steps(task.id):
        step = _step(record, status, attempts.get(record.seq, []))
        step_hosts = [_host(h, tries.get((record.seq, h.host), [])) for h in hosts.get(record.seq, [])]
        step_hosts.sort(key=lambda h: _natural(h["host"]))
        step["hosts"] = step_hosts
        step["groups"] = fold_hosts(step_hosts)
        captured = 0  # a capture's output: for other kinds, `output` is a status or a value
        if record.kind == "capture" and record.output:
            captured = len(record.output.encode("utf-8", "surrogateescape"))
        step["output_bytes"] = sum(h["output_bytes"] for h in step_hosts) + captured
        wait = waits.get(record.seq)
        step["wait"] = None if wait is None else _wait(wait, taken.get(record.seq), _late_for(wait, signals))
        if output:
            step["output"] = chunks.get(record.seq, [])
        steps.append(step)
    events = journal.events(task.id)
    gave_up = [tuple(e.detail.rsplit(" ", 1)) for e in events if e.kind == "retry-gave-up" and e.detail]
    tree = _tree(steps, gave_up)
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": time.time(),
        "task": _task(task, status),
        "summary": _summary(steps, signals, journal.step_summary([task.id]).get(task.id, (0, []))[1]),
        "tree": tree,
        "steps": steps,
        "signals": signals,
        "events": [
            {"at": e.at, "kind": e.kind, "epoch": e.epoch, "owner": e.owner, "detail": e.detail} for e in events
        ],
    }


def _task(task: TaskRecord, status: str) -> dict[str, Any]:
    try:
        args = json.loads(task.args or "[]")
    except ValueError:
        args = []
    return {
        "id": task.id,
        "name": task.name,
        "status": status,
        "exit_status": task.exit_status,
        "origin": task.origin,
        "source_name": task.source_name,
        "args": args,
        "cwd": task.cwd,
        "owner": describe_owner(task) if task.owner_host else None,
        "epoch": task.epoch,
        "created_at": task.created_at,
        "finished_at": task.finished_at,
        "duration": task_duration(task, status),
        "deadline": task.deadline,
        "retry_of": task.retry_of,
        "retry_from": task.retry_from,
        "parent_task": task.parent_task,
        "parent_step": task.parent_step,
    }


def _summary(steps: list[dict[str, Any]], signals: list[dict[str, Any]], failed: list[int]) -> dict[str, Any]:
    results = [h for s in steps for h in s["hosts"]]
    return {
        "steps": len(steps),
        "failed_steps": failed,
        "hosts": len({h["host"] for h in results}),
        "failed_hosts": sum(1 for h in results if h["outcome"] != "ok"),
        "retried_hosts": sum(1 for h in results if len(h["tries"]) > 1),
        "awaits": sum(1 for s in steps if s["kind"] == "await"),
        "signals": len(signals),
    }


# --- steps ----------------------------------------------------------------------------


def _line(location: str | None) -> int | None:
    """The line of a step's own place: the last `file:line:col` of its location."""
    if not location:
        return None
    parts = location.rpartition(CONTEXT_SEPARATOR)[2].split(":")
    try:
        return int(parts[-2])
    except (IndexError, ValueError):
        return None


def _took(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else max(0.0, end - start)


def _step(record: StepRecord, task_status: str, attempts: list[AttemptRecord]) -> dict[str, Any]:
    status, label = _step_status(record, task_status)
    pipestatus = json.loads(record.pipestatus) if record.pipestatus else None
    backoff = None
    if record.kind == "backoff":
        after = record.output
        backoff = {
            "seconds": _took(record.started_at, record.wake_at),
            "after_status": int(after) if after and after.lstrip("-").isdigit() else None,
        }
    return {
        "seq": record.seq,
        "key": record.key,
        "kind": record.kind,
        "location": record.location or "",
        "line": _line(record.location),
        "text": record.text or "",
        "context": record.context.split(CONTEXT_SEPARATOR) if record.context else [],
        "status": status,
        "label": label,
        "exit_status": record.exit_status,
        "tested": bool(record.tested),
        "pipestatus": pipestatus,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "duration": _took(record.started_at, record.ended_at),
        "carried_from": record.carried_from,
        "attempts": [
            {
                "attempt": a.attempt,
                "epoch": a.epoch,
                "owner": a.owner,
                "started_at": a.started_at,
                "ended_at": a.ended_at,
                "outcome": a.outcome,
                "exit_status": a.exit_status,
                "error": a.error,
            }
            for a in attempts
        ],
        "backoff": backoff,
    }


def _step_status(step: StepRecord, task_status: str) -> tuple[str, str]:
    if step.status != "finished":
        return ("running", "running") if task_status == "running" else ("interrupted", "interrupted")
    if step.kind == "background" and step.ended_at is None:
        return "launched", "launched"
    if step.exit_status == 0:
        return "ok", "ok"
    if step.kind == "await" and step.exit_status == 124:
        return "failed", "timed out"
    return "failed", f"exit {step.exit_status}"


# --- hosts ----------------------------------------------------------------------------


def _outcome(failure: str | None, status: int | None) -> tuple[str, str]:
    """(outcome, label) of a host or a try: ok, `exit 3`, or the failure class
    (`timeout`, `refused`...: their status, 124 or 255, says less than the class)."""
    if failure is None:
        return "ok", "ok"
    if failure == "exit":
        return "exit", f"exit {status}"
    return failure, failure


def _host(record: HostRecord, tries: list[HostTryRecord]) -> dict[str, Any]:
    outcome, label = _outcome(record.failure, record.status)
    shown_tries = []
    previous_end: float | None = None
    for one in sorted(tries, key=lambda t: (t.attempt, t.number)):
        try_outcome, try_label = _outcome(one.failure, one.status)
        shown_tries.append(
            {
                "try": one.number,
                "attempt": one.attempt,
                "outcome": try_outcome,
                "label": try_label,
                "exit_status": one.status,
                "failure": one.failure,
                "message": one.message,
                "started_at": one.started_at,
                "ended_at": one.ended_at,
                "duration": _took(one.started_at, one.ended_at),
                "waited": _took(previous_end, one.started_at),
            }
        )
        previous_end = one.ended_at
    return {
        "host": record.host,
        "outcome": outcome,
        "label": label,
        "exit_status": record.status,
        "failure": record.failure,
        "message": record.message,
        "attempt": record.attempt,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "duration": _took(record.started_at, record.ended_at),
        "output_bytes": record.output_bytes or 0,
        "truncated": bool(record.truncated),
        "tries": shown_tries,
    }


def _natural(name: str) -> tuple[Any, ...]:
    """web2 before web10."""
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def fold_hosts(hosts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hosts folded by what happened to them: `web[01-18]` `ok`, then `web[19-20]`
    `timeout, tries 2 (timeout, timeout)`: hosts fold together when their outcome and
    their tries' outcomes are the same. Successes first, then the largest groups."""
    from fmsh.remote.nodeset import fold

    by_label: dict[str, list[str]] = {}
    for host in hosts:
        label = host["label"]
        tries = host["tries"]
        if len(tries) > 1:
            label += f", tries {len(tries)} ({', '.join(t['label'] for t in tries)})"
        by_label.setdefault(label, []).append(host["host"])
    ordered = sorted(by_label.items(), key=lambda item: (not item[0].startswith("ok"), -len(item[1])))
    return [{"nodeset": fold(names), "label": label, "count": len(names), "hosts": names} for label, names in ordered]


# --- waits and signals ----------------------------------------------------------------


def _signal(record: SignalRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "value": record.value,
        "state": record.state,
        "sent_at": record.sent_at,
        "delivered_at": record.delivered_at,
        "seq": record.seq,
        "sender": record.sender,
        "note": record.note,
    }


def _late_for(wait: WaitRecord, signals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The signals (or callback deliveries) refused as late because this await had timed out."""
    mark = f"(step {wait.seq})"
    return [s for s in signals if s["state"] == "late" and s["name"] == wait.name and mark in (s["note"] or "")]


def _wait(record: WaitRecord, signal: dict[str, Any] | None, late: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": record.name,
        "kind": record.kind,
        "deadline": record.deadline,
        "state": record.state,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "signal": signal,
        "late": late,
    }


# --- output ---------------------------------------------------------------------------


def _chunks(journal: Journal, task_id: int) -> dict[int, list[dict[str, Any]]]:
    """Each step's output: the latest attempt of each host, as it came."""
    by_step: dict[int, list[Any]] = {}
    for chunk in journal.chunks(task_id):
        by_step.setdefault(chunk.seq, []).append(chunk)
    shown: dict[int, list[dict[str, Any]]] = {}
    for seq, chunks in by_step.items():
        latest: dict[str, int] = {}
        for chunk in chunks:
            latest[chunk.host] = max(latest.get(chunk.host, 0), chunk.attempt)
        shown[seq] = [
            {
                "host": c.host,
                "stream": c.stream,
                "attempt": c.attempt,
                "at": c.at,
                "text": bytes(c.data).decode("utf-8", "replace"),
            }
            for c in chunks
            if c.attempt == latest[c.host]
        ]
    return shown


# --- the tree -------------------------------------------------------------------------


def _frame(key: str, part: str, site: str) -> dict[str, Any]:
    if "#" in part and "@" not in part:
        where, _, number = part.rpartition("#")
        kind = "retry" if site.startswith("retry ") else "loop"
        unit = "attempt" if kind == "retry" else "round"
        round_number: int | None = int(number) if number.isdigit() else None
        label = f"{site or 'loop'} ({where}), {unit} {number}"
    else:
        name, _, where = part.partition("@")
        kind, round_number = "call", None
        label = f"{site or name} ({where})"
    return {
        "type": "frame",
        "key": key,
        "kind": kind,
        "label": label,
        "source": site,
        "line": _line(where) if where else None,
        "round": round_number,
        "outcome": None,
        "exit_status": None,
        "children": [],
    }


def _tree(steps: list[dict[str, Any]], gave_up: list[tuple[str, ...]]) -> list[dict[str, Any]]:
    root: list[dict[str, Any]] = []
    frames: dict[str, dict[str, Any]] = {}
    for step in steps:
        children = root
        parts = step["key"].split(">")
        sites = step["context"]
        for depth, part in enumerate(parts[:-1]):
            key = ">".join(parts[: depth + 1])
            frame = frames.get(key)
            if frame is None:
                frame = frames[key] = _frame(key, part, sites[depth] if depth < len(sites) else "")
                children.append(frame)
            children = frame["children"]
        children.append({"type": "step", "seq": step["seq"]})
        if step["kind"] == "backoff" and len(parts) > 1:
            # a backoff opens attempt N+1 of a retry: attempt N failed, with the status it journaled
            where, _, number = parts[-2].rpartition("#")
            if number.isdigit() and int(number) > 1:
                before = ">".join([*parts[:-2], f"{where}#{int(number) - 1}"])
                _failed(_attempt_frame(frames, root, before), (step["backoff"] or {}).get("after_status"))
    for key, status in gave_up:  # the last attempt of a retry that gave up
        if "#" in key.rpartition(">")[2]:
            _failed(_attempt_frame(frames, root, key), int(status) if status.lstrip("-").isdigit() else None)
    return root


def _failed(frame: dict[str, Any], status: int | None) -> None:
    frame["outcome"] = "failed"
    frame["exit_status"] = status


def _attempt_frame(frames: dict[str, dict[str, Any]], root: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The frame of a retry's attempt; made, beside its sibling attempts, for an attempt
    that journaled no step of its own (`retry 3 { false; }`)."""
    frame = frames.get(key)
    if frame is not None:
        return frame
    parent_key, _, part = key.rpartition(">")
    where, _, number = part.rpartition("#")
    siblings = frames[parent_key]["children"] if parent_key in frames else root
    prefix = f"{parent_key}>{where}#" if parent_key else f"{where}#"
    attempts = [node for node in siblings if node["type"] == "frame" and node["key"].startswith(prefix)]
    site = attempts[0]["source"] if attempts else "retry"
    frame = frames[key] = _frame(key, part, site)
    later = [node for node in attempts if (node["round"] or 0) > int(number)]
    siblings.insert(siblings.index(later[0]) if later else len(siblings), frame)
    return frame
