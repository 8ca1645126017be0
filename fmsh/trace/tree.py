"""`trace ID` as text: the trace document as a tree that a person reads in a terminal.

    task 1 deploy: failed (exit 124), 5.4s
      started 2026-11-28 23:10:46 · owner vm:8471 · epoch 1 · source deploy.fmsh
      11 steps, 1 failed (2) · 20 hosts, 2 failed, 2 retried · 2 awaits · 1 signal
    ├─ 2  L3  @web[01-20] systemctl restart app  exit 124  4.3s
    │  ├─ web[01-18]  ok (18)  0.0s–0.1s
    │  └─ web[19-20]  timeout, tries 2 (timeout, timeout) (2)  4.3s — ran past its 2s
    └─ for svc in nginx app  L4, round 1
       └─ 3  L5  @web[01-03] echo restart $svc  ok  0.0s

Each step: its number (what `log ID N` and `retry ID --from N` take), its line, its
source, its status and how long it took. A fan-out's hosts are folded by outcome
(`--hosts`: a line each). Colour when asked (`--color`), else when writing to a terminal
and NO_COLOR is not set.
"""

from __future__ import annotations

import time
from typing import Any

from fmsh.tasks.views import duration, when

_COLOURS = {
    "ok": "32",  # green
    "failed": "31",  # red
    "timeout": "33",  # yellow
    "running": "36",  # cyan
    "waiting": "36",
    "interrupted": "35",  # magenta
    "dim": "2",
}


class Paint:
    """ANSI colour, or none."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, style: str, text: str) -> str:
        if not self.on or not text:
            return text
        return f"\x1b[{_COLOURS[style]}m{text}\x1b[0m"

    def status(self, label: str) -> str:
        """A status as its colour says it: ok, a failure, a timeout, running."""
        if label == "ok" or label.startswith("ok,"):
            return self("ok", label)
        if "timeout" in label or "timed out" in label:
            return self("timeout", label)
        if label in ("running", "launched") or label.startswith("waiting"):
            return self("running", label)
        if label == "interrupted":
            return self("interrupted", label)
        return self("failed", label)


def render(document: dict[str, Any], paint: Paint | None = None, each_host: bool = False) -> str:
    paint = paint or Paint(False)
    lines = _header(document, paint)
    steps = {step["seq"]: step for step in document["steps"]}
    if not steps:
        lines.append("  (no steps yet)")
    _draw(document["tree"], steps, "", lines, paint, each_host)
    return "\n".join(lines) + "\n"


def _header(document: dict[str, Any], paint: Paint) -> list[str]:
    task = document["task"]
    status = task["status"]
    shown = paint("ok", "done") if status == "done" else paint.status(status)
    head = f"task {task['id']} {task['name']}: {shown}"
    if task["exit_status"] is not None:
        head += f" (exit {task['exit_status']})"
    head += f", {duration(task['duration'])}"
    lines = [head]
    about = [f"started {when(task['created_at'])}"]
    if task["owner"]:
        about.append(f"owner {task['owner']}")
    about += [f"epoch {task['epoch']}", f"source {task['source_name']}"]
    if task["deadline"]:
        about.append(f"deadline {when(task['deadline'])}")
    lines.append("  " + " · ".join(about))
    if task["retry_of"]:
        lines.append(f"  a retry of task {task['retry_of']} from step {task['retry_from']}")
    summary = document["summary"]
    counts = [f"{summary['steps']} step{'s' if summary['steps'] != 1 else ''}"]
    if summary["failed_steps"]:
        failed = summary["failed_steps"]
        counts[0] += ", " + paint("failed", f"{len(failed)} failed ({', '.join(map(str, failed[:10]))}"
                                  + (", …" if len(failed) > 10 else "") + ")")  # fmt: skip
    if summary["hosts"]:
        hosts = f"{summary['hosts']} host{'s' if summary['hosts'] != 1 else ''}"
        if summary["failed_hosts"]:
            hosts += ", " + paint("failed", f"{summary['failed_hosts']} failed")
        if summary["retried_hosts"]:
            hosts += f", {summary['retried_hosts']} retried"
        counts.append(hosts)
    if summary["awaits"]:
        counts.append(f"{summary['awaits']} await{'s' if summary['awaits'] != 1 else ''}")
    if summary["signals"]:
        counts.append(f"{summary['signals']} signal{'s' if summary['signals'] != 1 else ''}")
    lines.append("  " + " · ".join(counts))
    return lines


def _draw(
    nodes: list[dict[str, Any]],
    steps: dict[int, dict[str, Any]],
    prefix: str,
    lines: list[str],
    paint: Paint,
    each_host: bool,
) -> None:
    for k, node in enumerate(nodes):
        last = k == len(nodes) - 1
        branch = prefix + ("└─ " if last else "├─ ")
        below = prefix + ("   " if last else "│  ")
        if node["type"] == "frame":
            lines.append(branch + _frame_line(node, paint))
            _draw(node["children"], steps, below, lines, paint, each_host)
            continue
        step = steps[node["seq"]]
        lines.append(branch + _step_line(step, paint))
        details = _step_details(step, paint, each_host)
        for j, detail in enumerate(details):
            lines.append(below + ("└─ " if j == len(details) - 1 else "├─ ") + detail)


def _frame_line(frame: dict[str, Any], paint: Paint) -> str:
    source = frame["source"] or frame["key"]
    where = f"L{frame['line']}" if frame["line"] is not None else frame["key"]
    line = f"{_cut(source, 60)}  {paint('dim', where)}"
    if frame["kind"] == "loop":
        line += f", round {frame['round']}"
    elif frame["kind"] == "retry":
        line += f", attempt {frame['round']}"
        if frame["outcome"] == "failed":
            status = frame.get("exit_status")
            line += ": " + paint("failed", "failed" + (f" (exit {status})" if status is not None else ""))
    return line


def _step_line(step: dict[str, Any], paint: Paint) -> str:
    where = f"L{step['line']}" if step["line"] is not None else step["location"]
    parts = [str(step["seq"]), paint("dim", where), _text(step), paint.status(_label(step))]
    parts.append(paint("dim", duration(step["duration"] if step["ended_at"] else _so_far(step))))
    line = "  ".join(parts)
    if step["tested"] and step["status"] == "failed":
        line += paint("dim", " (tested)")
    attempts = step["attempts"]
    if len(attempts) > 1:
        outcomes = ", ".join(a["outcome"] or "running" for a in attempts)
        line += f"  attempts {len(attempts)} ({outcomes})"
    if step["carried_from"]:
        line += "  carried over from task " + step["carried_from"].replace(":", " step ")
    return line


def _text(step: dict[str, Any]) -> str:
    if step["kind"] == "backoff" and step["backoff"]:
        backoff = step["backoff"]
        text = f"backoff {duration(backoff['seconds'])}"
        if backoff["after_status"] is not None:
            text += f" after exit {backoff['after_status']}"
        return text
    return _cut(step["text"], 100)


def _label(step: dict[str, Any]) -> str:
    wait = step["wait"]
    if step["status"] == "running" and wait is not None and wait["state"] == "waiting":
        return "waiting"
    return str(step["label"])


def _so_far(step: dict[str, Any]) -> float | None:
    if step["status"] == "running" and step["started_at"]:
        return max(0.0, time.time() - step["started_at"])
    return None


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _step_details(step: dict[str, Any], paint: Paint, each_host: bool) -> list[str]:
    details: list[str] = []
    if step["hosts"]:
        details += _hosts(step, paint) if each_host else _groups(step, paint)
    wait = step["wait"]
    if wait is not None:
        details.append(_wait_line(wait, paint))
    return details


def _span(hosts: list[dict[str, Any]]) -> str:
    return _span_of([h["duration"] for h in hosts if h["duration"] is not None])


def _span_of(took: list[float]) -> str:
    """`0.4s–0.6s`, or one duration when they round the same."""
    if not took:
        return "-"
    low, high = min(took), max(took)
    return duration(low) if duration(low) == duration(high) else f"{duration(low)}–{duration(high)}"


def _groups(step: dict[str, Any], paint: Paint) -> list[str]:
    by_host = {h["host"]: h for h in step["hosts"]}
    lines = []
    for group in step["groups"]:
        members = [by_host[name] for name in group["hosts"]]
        count = f" ({group['count']})" if len(step["hosts"]) > 1 else ""
        line = f"{group['nodeset']}  {paint.status(members[0]['label'])}{count}  {paint('dim', _span(members))}"
        tries = members[0]["tries"]
        if len(tries) > 1:
            line += f"  tries {len(tries)} ({', '.join(t['label'] for t in tries)})"
            waited = [t["waited"] for h in members for t in h["tries"] if t["waited"]]
            if waited:
                line += paint("dim", f", waited {_span_of(waited)}")
        messages = {h["message"] for h in members}
        if len(messages) == 1 and (message := messages.pop()) and members[0]["outcome"] not in ("ok", "exit"):
            line += f" — {_cut(message, 80)}"
        lines.append(line)
    return lines


def _hosts(step: dict[str, Any], paint: Paint) -> list[str]:
    lines = []
    for host in step["hosts"]:
        line = f"{host['host']}  {paint.status(host['label'])}  {paint('dim', duration(host['duration']))}"
        if host["output_bytes"]:
            line += paint("dim", f", {host['output_bytes']} bytes" + (" (truncated)" if host["truncated"] else ""))
        tries = host["tries"]
        if len(tries) > 1:
            line += f"  tries {len(tries)} ({', '.join(t['label'] for t in tries)})"
        if host["outcome"] not in ("ok", "exit") and host["message"]:
            line += f" — {_cut(host['message'], 80)}"
        lines.append(line)
    return lines


def _wait_line(wait: dict[str, Any], paint: Paint) -> str:
    what = f"signal {wait['name']}" if wait["kind"] == "signal" else wait["name"]
    if wait["kind"] == "until":
        what = f"until {wait['name']}"
    line = f"waited for {what}"
    if wait["state"] == "waiting":
        line = f"waiting for {what}"
    if wait["deadline"]:
        line += f", deadline {when(wait['deadline'])}"
    state = {"satisfied": "ok", "timed-out": "timed out", "waiting": "waiting"}.get(wait["state"], wait["state"])
    line += ": " + paint.status(state)
    signal = wait["signal"]
    if signal is not None:
        value = signal["value"]
        line += f" — {signal['name']}" + (f"={_cut(value, 40)!r}" if value else "")
        line += f" from {signal['sender']} at {when(signal['sent_at'])}"
    late = wait.get("late") or []
    if late:
        first = late[0]
        value = first["value"]
        line += f" — late: {first['name']}" + (f"={_cut(value, 40)!r}" if value else "")
        line += f" from {first['sender']} at {when(first['sent_at'])}"
        line += f" (and {len(late) - 1} more)" if len(late) > 1 else ""
    return line
