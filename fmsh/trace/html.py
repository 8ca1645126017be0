"""The trace document as one self-contained HTML page: `fmsh --trace ID --html FILE`.

`render(document)` makes the page from the trace document (model.py) alone: a header with
the task and its counts, a timeline (one row per local step and per host of a remote step,
one bar per step attempt or host try, coloured by outcome), the step tree with its hosts
folded by outcome, each step's output, and the signals and events. The CSS and the small
script are report.css and report.js, inlined: the page loads nothing (a Content Security
Policy forbids it) and works from a file. Every string from the document is escaped: step
text and output are hostile input.

The markup is a contract the tests rely on: every bar is an element of class `bar` with
`data-outcome` (ok, exit, timeout, refused, running, interrupted...), `data-step` (the seq),
`data-host` ("" for a local step), `data-try` (a host's try) or `data-attempt` (a step's
attempt); a failed bar also has class `failed`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import time
from html import escape
from importlib import resources
from typing import Any, Iterator

Document = dict[str, Any]

OUTPUT_CAP = 64 * 1024  # characters of output shown per step
COLLAPSE_ABOVE = 400  # host rows: above this, the steps whose hosts all succeeded start folded
NOT_FAILED = {"ok", "running", "interrupted", "launched"}
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # controls, lone surrogates
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_TICKS: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120)
_TICKS += (300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def _e(value: object) -> str:
    """Text for the page: control characters as their pictures (␛), lone surrogates (bytes
    that were not UTF-8) as �, then escaped for HTML text and attributes."""
    text = "" if value is None else str(value)
    return escape(_UNSHOWABLE.sub(_showable, text))


def _showable(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\u2421" if code == 0x7F else chr(0x2400 + code) if code < 0x20 else "\ufffd"


def _asset(name: str) -> str:
    return resources.files("fmsh.trace").joinpath(name).read_text(encoding="utf-8")


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _when(at: float | None, zone: bool = True) -> str:
    if at is None:
        return "-"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) + f".{int(at % 1 * 1000):03d}"
    return stamp + time.strftime(" %z", time.localtime(at)) if zone else stamp


def _tone(outcome: str) -> str:
    """The colour family of an outcome, for badges and groups."""
    if outcome in ("ok", "running"):
        return outcome
    if outcome in ("exit", "timeout", "failed"):
        return outcome
    return "other"


class _Axis:
    """Times as percentages of the timeline, from the task's first start to its last end."""

    def __init__(self, document: Document) -> None:
        task = document["task"]
        starts = [task["created_at"]]
        ends = [task["finished_at"], task["created_at"] + (task["duration"] or 0)]
        for step in document["steps"]:
            starts.append(step["started_at"])
            ends.append(step["ended_at"])
            for item in [*step["attempts"], *step["hosts"], *(t for h in step["hosts"] for t in h["tries"])]:
                starts.append(item["started_at"])
                ends.append(item["ended_at"])
        self.start = min(s for s in starts if s is not None)
        self.end = max([e for e in ends if e is not None] + [s for s in starts if s is not None])
        self.span = max(self.end - self.start, 0.001)

    def pct(self, at: float) -> float:
        return min(100.0, max(0.0, (at - self.start) / self.span * 100))

    def width(self, start: float | None, end: float | None) -> float:
        return self.pct(self.end if end is None else end) - self.pct(self.start if start is None else start)

    def place(self, start: float | None, end: float | None) -> str:
        begin = self.pct(self.start if start is None else start)
        finish = self.pct(self.end if end is None else end)
        return f"left:{begin:.3f}%;width:{max(finish - begin, 0):.3f}%"

    def rel(self, at: float | None) -> str:
        return "-" if at is None else f"+{at - self.start:.3f}s"

    def ticks(self) -> list[tuple[float, str]]:
        step = next((t for t in _TICKS if self.span / t <= 12), math.ceil(self.span / 12 / 86400) * 86400)
        count = int(self.span / step + 1e-9)
        return [(self.pct(self.start + k * step), _tick_label(k * step, step)) for k in range(count + 1)]


def _tick_label(offset: float, step: float) -> str:
    if offset == 0:
        return "0s"
    if step < 1:
        return f"{offset:.{max(0, -math.floor(math.log10(step)))}f}s"
    if offset < 60 or step < 60 and offset < 120:
        return f"{offset:.0f}s"
    minutes, secs = divmod(int(offset), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


def render(document: Document) -> str:
    """The page, as text: write it to a file and open it in any browser."""
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    policy = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'"
    task = document["task"]
    parts = [
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n",
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>fmsh task {_e(task['id'])} {_e(task['name'])}: {_e(task['status'])}</title>\n",
        f"<style>\n{_asset('report.css')}</style>\n</head>\n<body>\n",
        _header(document),
        _timeline(document),
        _tree(document),
        _output(document),
        _signals(document),
        _events(document),
        f"<footer>fmsh trace report ({_e(document.get('format'))} version {_e(document.get('version'))}), made "
        f"{_e(_when(document.get('generated_at')))}</footer>\n",
        f"<script>{script}</script>\n</body>\n</html>\n",
    ]
    return "".join(parts)


# --- the header -----------------------------------------------------------------------


def _header(document: Document) -> str:
    task, summary = document["task"], document["summary"]
    exit_status = "" if task["exit_status"] is None else f'<span class="muted">exit {_e(task["exit_status"])}</span>'
    facts = [
        ("started", _when(task["created_at"])),
        ("duration", _dur(task["duration"])),
        ("owner", task["owner"] or "-"),
        ("epoch", task["epoch"]),
        ("source", task["source_name"]),
    ]
    if task["args"][1:]:
        facts.append(("args", " ".join(task["args"][1:])))
    if task["cwd"]:
        facts.append(("cwd", task["cwd"]))
    if task["deadline"] is not None:
        facts.append(("deadline", _when(task["deadline"])))
    if task["retry_of"] is not None:
        facts.append(("retry of", f"task {task['retry_of']} from step {task['retry_from']}"))
    if task["parent_task"] is not None:
        facts.append(("parent", f"task {task['parent_task']} step {task['parent_step']}"))
    failed = summary["failed_steps"]
    counts = [
        ("", summary["steps"], "steps"),
        ("bad" if failed else "", len(failed), "failed steps" + (f" (#{', #'.join(map(str, failed))})" * bool(failed))),
        ("", summary["hosts"], "hosts"),
        ("bad" if summary["failed_hosts"] else "", summary["failed_hosts"], "failed hosts"),
        ("warn" if summary["retried_hosts"] else "", summary["retried_hosts"], "retried hosts"),
        ("", summary["awaits"], "awaits"),
        ("", summary["signals"], "signals"),
    ]
    return (
        f'<header>\n<h1>task {_e(task["id"])} <span class="mono">{_e(task["name"])}</span> '
        f'<span class="status s-{_e(task["status"])}">{_e(task["status"])}</span> {exit_status}</h1>\n'
        '<div class="facts">'
        + "".join(f"<span><b>{name}</b> {_e(value)}</span>" for name, value in facts)
        + '</div>\n<ul class="counts">'
        + "".join(f'<li class="{tone}"><b>{_e(n)}</b> {_e(what)}</li>' for tone, n, what in counts)
        + '</ul>\n<nav><a href="#timeline">Timeline</a><a href="#steps">Steps</a><a href="#output">Output</a>'
        '<a href="#signals">Signals</a><a href="#events">Events</a></nav>\n</header>\n'
    )


# --- the timeline ---------------------------------------------------------------------


def _walk(nodes: list[dict[str, Any]], depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """(depth, node) of the tree, in order, each frame before what it holds."""
    for node in nodes:
        yield depth, node
        if node["type"] == "frame":
            yield from _walk(node["children"], depth + 1)


def _frame_steps(frame: dict[str, Any], steps: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    return [steps[n["seq"]] for _, n in _walk(frame["children"]) if n["type"] == "step" and n["seq"] in steps]


def _attempt_outcome(step: dict[str, Any], attempt: dict[str, Any], task_status: str) -> str:
    outcome = attempt["outcome"]
    if outcome is None:
        return "running" if task_status == "running" else "interrupted"
    if outcome == "timed-out":
        return "timeout"
    if outcome != "finished":
        return str(outcome)
    if attempt["exit_status"] == 0:
        return "ok"
    if step["kind"] == "await" and attempt["exit_status"] == 124:
        return "timeout"
    return "exit"


def _bar(
    axis: _Axis, outcome: str, start: float | None, end: float | None, title: str, text: str, **data: object
) -> str:
    """A bar; `text` shows inside it when it is wide enough."""
    classes = "bar" if outcome in NOT_FAILED else "bar failed"
    kind = data.pop("kind", None)
    if kind in ("await", "sleep", "backoff"):
        classes += f" k-{kind}"
        text = ""
    attributes = "".join(f' data-{name}="{_e(value)}"' for name, value in data.items())
    inside = f"<i>{_e(text)}</i>" if text and axis.width(start, end) >= 6 else ""
    return (
        f'<span class="{classes}" data-outcome="{_e(outcome)}"{attributes} '
        f'style="{axis.place(start, end)}" title="{_e(title)}">{inside}</span>'
    )


def _caption(axis: _Axis, start: float | None, end: float | None, text: str, bad: bool = False) -> str:
    """A few words next to a bar: after it, or before it near the right edge."""
    after = axis.pct(axis.end if end is None else end)
    where = f"left:{after:.3f}%" if after < 75 else f"right:{100 - axis.pct(start or axis.start):.3f}%"
    return f'<span class="cap{" bad" if bad else ""}" style="{where}">{_e(text)}</span>'


def _row(classes: str, depth: int, label: str, track: str, title: str = "", **data: object) -> str:
    attributes = "".join(f' data-{name}="{_e(value)}"' for name, value in data.items())
    return (
        f'<div class="row {classes}"{attributes} style="--d:{depth}">'
        f'<div class="lab" title="{_e(title)}">{label}</div><div class="track">{track}</div></div>\n'
    )


def _badge(outcome: str, text: str) -> str:
    return f'<span class="badge b-{_tone(outcome)}">{_e(text)}</span>'


def _waited_for(wait: dict[str, Any]) -> str:
    """`port db1:5432`, `signal approve`: what an await waited for."""
    name, kind = str(wait["name"]), str(wait["kind"])
    return name if name.startswith(kind + " ") else f"{kind} {name}"


def _step_name(step: dict[str, Any]) -> str:
    if step["kind"] == "backoff":
        return "backoff"
    return str(step["text"])


def _host_row(axis: _Axis, step: dict[str, Any], host: dict[str, Any], depth: int) -> tuple[str, bool]:
    seq, name = step["seq"], host["host"]
    tries = host["tries"]
    bars = []
    if not tries:
        title = f"{name}\n#{seq} {step['text']}\n{host['label']} · {_dur(host['duration'])}"
        title += f"\n{axis.rel(host['started_at'])} → {axis.rel(host['ended_at'])}"
        title += f"\n{host['message']}" if host["message"] else ""
        text = f"{host['label']} {_dur(host['duration'])}"
        bars.append(
            _bar(axis, host["outcome"], host["started_at"], host["ended_at"], title, text,
                 step=seq, host=name, attempt=host["attempt"] or "", **{"try": ""})
        )  # fmt: skip
    previous_end = None
    for one in tries:
        if previous_end is not None and one["started_at"] is not None and one["started_at"] > previous_end:
            bars.append(
                f'<span class="gap" style="{axis.place(previous_end, one["started_at"])}" '
                f'title="backoff {_dur(one["waited"])} before try {_e(one["try"])}"></span>'
            )
        title = f"{name} · try {one['try']} of {len(tries)}\n#{seq} {step['text']}"
        title += f"\n{one['label']} · {_dur(one['duration'])}"
        title += f"\n{axis.rel(one['started_at'])} → {axis.rel(one['ended_at'])}"
        if one["waited"] is not None:
            title += f"\nafter a backoff of {_dur(one['waited'])}"
        title += f"\n{one['message']}" if one["message"] else ""
        text = f"{one['label']} {_dur(one['duration'])}"
        bars.append(
            _bar(axis, one["outcome"], one["started_at"], one["ended_at"], title, text,
                 step=seq, host=name, attempt=host["attempt"] or "", **{"try": one["try"]})
        )  # fmt: skip
        previous_end = one["ended_at"]
    retried_after_failure = any(t["outcome"] not in NOT_FAILED for t in tries)
    bad = host["outcome"] not in NOT_FAILED or retried_after_failure
    label = f'<span class="name"><span class="seq">#{seq}</span> {_e(name)}</span>'
    if len(tries) > 1:
        label += f'<span class="badge tries">tries {len(tries)}</span>'
    if host["outcome"] != "ok":
        label += _badge(host["outcome"], host["label"])
    tip = f"#{seq} {name}: {host['label']}" + (f" ({host['message']})" if host["message"] else "")
    return _row("host bad" if bad else "host", depth, label, "".join(bars), tip, step=seq, host=name), bad


def _local_row(axis: _Axis, step: dict[str, Any], depth: int, task_status: str) -> str:
    seq, kind = step["seq"], step["kind"]
    bars, bad = [], False
    for attempt in step["attempts"]:
        outcome = _attempt_outcome(step, attempt, task_status)
        bad = bad or outcome not in NOT_FAILED
        end = attempt["ended_at"]
        title = f"#{seq} {_step_name(step)}\nattempt {attempt['attempt']} · {outcome}"
        title += f" (exit {attempt['exit_status']})" if attempt["exit_status"] not in (None, 0) else ""
        title += f" · {_dur(None if end is None else end - (attempt['started_at'] or end))}"
        title += f"\n{axis.rel(attempt['started_at'])} → {axis.rel(end)}"
        if step["wait"]:
            title += f"\nawaited {_waited_for(step['wait'])}: {step['wait']['state']}"
        if step["backoff"]:
            title += f"\nbackoff {_dur(step['backoff']['seconds'])} after status {step['backoff']['after_status']}"
        title += f"\n{attempt['error']}" if attempt["error"] else ""
        start = attempt["started_at"] if attempt["started_at"] is not None else step["started_at"]
        took = None if end is None or start is None else end - start
        text = f"{step['label'] if len(step['attempts']) == 1 else outcome} {_dur(took)}"
        data: dict[str, object] = {"step": seq, "host": "", "attempt": attempt["attempt"], "kind": kind}
        if step["wait"]:
            data["wait"] = step["wait"]["state"]
        bars.append(_bar(axis, outcome, start, end, title, text, **data))
    start, end = step["started_at"], step["ended_at"]
    if step["wait"]:
        wait = step["wait"]
        state = {"timed-out": "timed out", "satisfied": "satisfied"}.get(wait["state"], wait["state"])
        bars.append(_caption(axis, start, end, f"{_waited_for(wait)} · {state}", wait["state"] == "timed-out"))
    elif step["backoff"]:
        after = step["backoff"]["after_status"]
        text = f"backoff {_dur(step['backoff']['seconds'])}" + ("" if after is None else f" after exit {after}")
        bars.append(_caption(axis, start, end, text))
    label = f'<span class="name"><span class="seq">#{seq}</span> {_e(_step_name(step))}</span>'
    if step["status"] != "ok":
        label += _badge("failed" if step["status"] == "failed" else step["status"], step["label"])
    if len(step["attempts"]) > 1:
        label += f'<span class="badge tries">attempts {len(step["attempts"])}</span>'
    if step["carried_from"]:
        label += f'<span class="badge">from {_e(step["carried_from"])}</span>'
    title = f"#{seq} {step['kind']} {step['text']}\n{step['location']}: {step['label']}"
    return _row("local bad" if bad else "local", depth, label, "".join(bars), title, step=seq, host="")


def _remote_group(axis: _Axis, step: dict[str, Any], depth: int, fold: bool, status: str) -> str:
    seq = step["seq"]
    rows, any_bad = [], False
    for host in step["hosts"]:
        row, bad = _host_row(axis, step, host, depth + 1)
        rows.append(row)
        any_bad = any_bad or bad
    spans = "".join(
        f'<span class="span" data-outcome="{_attempt_outcome(step, a, status)}" '
        f'style="{axis.place(a["started_at"], a["ended_at"])}" title="attempt {_e(a["attempt"])}"></span>'
        for a in step["attempts"]
    )
    folded = ", ".join(f"{g['nodeset']} {g['label']} ({g['count']})" for g in step["groups"])
    label = f'<span class="name"><span class="seq">#{seq}</span> {_e(step["text"])}</span>'
    label += _badge("failed" if step["status"] == "failed" else step["status"], step["label"])
    head = _row("head bad" if any_bad else "head", depth, label, spans, f"#{seq} {step['text']}\n{folded}", step=seq)
    collapsed = " collapsed" if fold and not any_bad else ""
    height = 23 * (1 if collapsed else len(rows) + 1)  # what the browser assumes of it off screen
    return (
        f'<div class="grp{collapsed}" data-step="{seq}" style="contain-intrinsic-size:auto {height}px">\n'
        f"{head}{''.join(rows)}</div>\n"
    )


def _frame_row(axis: _Axis, frame: dict[str, Any], depth: int, steps: dict[int, dict[str, Any]]) -> str:
    inside = _frame_steps(frame, steps)
    starts = [s["started_at"] for s in inside if s["started_at"] is not None]
    ends = [s["ended_at"] for s in inside if s["ended_at"] is not None]
    failed = frame["outcome"] == "failed"
    if frame["kind"] == "call":
        short = frame["label"]
    else:
        short = f"{'attempt' if frame['kind'] == 'retry' else 'round'} {frame['round']} · {frame['source'] or 'loop'}"
    label = f'<span class="name">{_e(short)}</span>'
    track = ""
    if starts:
        outcome = "failed" if failed else "ok"
        end = max(ends) if ends else None
        track = f'<span class="span" data-outcome="{outcome}" style="{axis.place(min(starts), end)}"></span>'
        if failed:
            track += _caption(axis, min(starts), end, f"attempt {frame['round']} failed", bad=True)
    if failed:
        status = "" if frame["exit_status"] is None else f" (exit {frame['exit_status']})"
        label += _badge("failed", f"failed{status}")
    return _row("frame bad" if failed else "frame", depth, label, track, frame["label"], frame=frame["key"])


def _timeline(document: Document) -> str:
    axis = _Axis(document)
    steps = {s["seq"]: s for s in document["steps"]}
    fold = sum(len(s["hosts"]) for s in document["steps"]) > COLLAPSE_ABOVE
    status = document["task"]["status"]
    rows, seen = [], set()
    nodes = list(_walk(document["tree"]))
    placed = {node["seq"] for _, node in nodes if node["type"] == "step"}
    nodes += [(0, {"type": "step", "seq": seq}) for seq in steps if seq not in placed]
    for depth, node in nodes:
        if node["type"] == "frame":
            rows.append(_frame_row(axis, node, depth, steps))
            continue
        step = steps.get(node["seq"])
        if step is None or step["seq"] in seen:
            continue
        seen.add(step["seq"])
        if step["hosts"]:
            rows.append(_remote_group(axis, step, depth, fold, status))
        else:
            rows.append(_local_row(axis, step, depth, status))
    ticks = axis.ticks()
    grid = "".join(f'<i style="left:{at:.3f}%"></i>' for at, _ in ticks)
    labels = "".join(f'<span class="tick" style="left:{at:.3f}%">{_e(text)}</span>' for at, text in ticks)
    legend = "".join(
        f'<span><span class="swatch{" failed" * (o not in NOT_FAILED)}{k}" data-outcome="{o}"></span>{text}</span>'
        for o, k, text in [
            ("ok", "", "ok"), ("exit", "", "exit status"), ("timeout", "", "timeout"),
            ("refused", "", "refused, auth, host key, unreachable..."), ("running", "", "running"),
            ("interrupted", "", "interrupted"), ("timeout", " k-await", "await"), ("ok", " k-backoff", "backoff"),
        ]
    )  # fmt: skip
    return (
        '<section id="timeline">\n<h2>Timeline</h2>\n'
        f'<div class="legend">{legend}<span><span class="gap"></span>wait between tries</span>'
        '<label><input type="checkbox" id="only-bad"> only rows with a failure</label></div>\n'
        f'<div class="tl">\n<div class="grid">{grid}</div>\n'
        f'<div class="row axis"><div class="lab">from {_e(_when(axis.start, zone=False))}</div>'
        f'<div class="track">{labels}</div></div>\n' + "".join(rows) + "</div>\n</section>\n"
    )


# --- the step tree --------------------------------------------------------------------


def _step_item(step: dict[str, Any]) -> str:
    status = step["status"]
    tested = " tested" if step["tested"] and status == "failed" else ""
    line = "" if step["line"] is None else f'<span class="where">line {_e(step["line"])}</span>'
    parts = [
        f'<li class="step" id="step-{step["seq"]}"><div class="step-line"><span class="seq">#{step["seq"]}</span>',
        f'<span class="kind">{_e(step["kind"])}</span><code>{_e(step["text"])}</code>',
        f'<span class="st s-{_e(status)}{tested}">{_e(step["label"])}{" (tested)" if tested else ""}</span>',
        f'<span class="dur">{_e(_dur(step["duration"]))}</span>{line}</div>',
    ]
    if step["groups"]:
        items = []
        for group in step["groups"]:
            label = group["label"]
            tone = "" if label.startswith("ok") else " g-timeout" if label.startswith("timeout") else " g-bad"
            if not tone and "tries" in label:
                tone = " g-timeout"
            if tone == " g-bad" and not label.startswith("exit"):
                tone = " g-other"
            items.append(f'<li class="group{tone}">{_e(group["nodeset"])} {_e(label)} ({_e(group["count"])})</li>')
        parts.append(f'<ul class="groups">{"".join(items)}</ul>')
    extra = []
    if len(step["attempts"]) > 1:
        extra.append("attempts: " + ", ".join(f"{a['attempt']} {a['outcome'] or 'running'}" for a in step["attempts"]))
    if step["wait"]:
        wait = step["wait"]
        text = f"awaited {_waited_for(wait)}: {wait['state']}"
        if wait["signal"]:
            text += f" (signal {wait['signal']['name']} = {wait['signal']['value']}, from {wait['signal']['sender']})"
        extra.append(text)
    if step["backoff"]:
        extra.append(f"backoff {_dur(step['backoff']['seconds'])} after status {step['backoff']['after_status']}")
    if step["pipestatus"] and len(step["pipestatus"]) > 1:
        extra.append("pipestatus " + " ".join(map(str, step["pipestatus"])))
    if step["carried_from"]:
        extra.append(f"carried over from {step['carried_from']}")
    parts.extend(f'<div class="extra">{_e(text)}</div>' for text in extra)
    return "".join(parts) + "</li>\n"


def _tree_items(nodes: list[dict[str, Any]], steps: dict[int, dict[str, Any]]) -> str:
    items = []
    for node in nodes:
        if node["type"] == "step":
            if node["seq"] in steps:
                items.append(_step_item(steps[node["seq"]]))
            continue
        mark = ""
        if node["outcome"] == "failed":
            status = "" if node["exit_status"] is None else f" (exit {node['exit_status']})"
            mark = f'<span class="fail-mark">\u2717 attempt {_e(node["round"])} failed{_e(status)}</span>'
        items.append(
            f'<li class="frame-item"><details open><summary>{_e(node["label"])}{mark}</summary>'
            f"<ul>{_tree_items(node['children'], steps)}</ul></details></li>\n"
        )
    return "".join(items)


def _tree(document: Document) -> str:
    steps = {s["seq"]: s for s in document["steps"]}
    body = _tree_items(document["tree"], steps) or '<li class="muted">no steps yet</li>'
    return f'<section id="steps">\n<h2>Steps</h2>\n<ul class="tree">\n{body}</ul>\n</section>\n'


# --- output, signals, events ----------------------------------------------------------


def _step_output(step: dict[str, Any], log_hint: str) -> str:
    chunks = step.get("output") or []
    by_host: dict[str, list[dict[str, Any]]] = {}
    for chunk in chunks:
        by_host.setdefault(chunk["host"], []).append(chunk)
    hosts = [h["host"] for h in step["hosts"] if h["host"] in by_host]
    hosts += sorted(set(by_host) - set(hosts))
    prefix = len(hosts) > 1 or len(step["hosts"]) > 1
    pieces, shown, cut = [], 0, 0
    for host in hosts:
        at_line_start = True
        for chunk in by_host[host]:
            text = _ANSI.sub("", chunk["text"]).replace("\r\n", "\n")
            if shown >= OUTPUT_CAP:
                cut += len(text)
                continue
            if shown + len(text) > OUTPUT_CAP:
                cut += shown + len(text) - OUTPUT_CAP
                text = text[: OUTPUT_CAP - shown]
            shown += len(text)
            for line in text.splitlines(keepends=True):
                if prefix and at_line_start:
                    pieces.append(f'<span class="h">{_e(host)}: </span>')
                pieces.append(f'<span class="e">{_e(line)}</span>' if chunk["stream"] == 2 else _e(line))
                at_line_start = line.endswith("\n")
        if not at_line_start:
            pieces.append("\n")
    notes = []
    if cut:
        notes.append(f"{cut} more characters not shown: <code>{_e(log_hint)} {step['seq']}</code> has all of it.")
    truncated = [h["host"] for h in step["hosts"] if h["truncated"]]
    if truncated:
        notes.append(f"The journal kept only the first part of the output of {_e(', '.join(truncated))}.")
    size = f"{step['output_bytes']} bytes" + (f", {len(hosts)} hosts" if prefix else "")
    opened = " open" if step["status"] == "failed" else ""
    return (
        f'<details class="out" id="out-{step["seq"]}"{opened}><summary><span class="seq">#{step["seq"]}</span> '
        f'<code>{_e(step["text"])}</code> <span class="muted">{_e(size)}</span></summary>'
        f"<pre>{''.join(pieces)}</pre>" + "".join(f'<div class="note">{n}</div>' for n in notes) + "</details>\n"
    )


def _output(document: Document) -> str:
    hint = f"fmsh --log {document['task']['id']}"
    body = "".join(_step_output(s, hint) for s in document["steps"] if s.get("output"))
    if not body:
        body = '<p class="muted">No output was journaled (or the document was made without it).</p>\n'
    return f'<section id="output">\n<h2>Output</h2>\n{body}</section>\n'


def _table(name: str, title: str, header: list[str], rows: list[list[object]]) -> str:
    if not rows:
        return f'<section id="{name}">\n<h2>{title}</h2>\n<p class="muted">None.</p>\n</section>\n'
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>\n" for row in rows)  # None: ""
    return f'<section id="{name}">\n<h2>{title}</h2>\n<table><tr>{head}</tr>\n{body}</table>\n</section>\n'


def _signals(document: Document) -> str:
    rows = [
        [s["id"], s["name"], s["value"] or "", s["state"], _when(s["sent_at"], False),
         _when(s["delivered_at"], False), "" if s["seq"] is None else f"#{s['seq']}", s["sender"], s["note"] or ""]
        for s in document["signals"]
    ]  # fmt: skip
    header = ["id", "name", "value", "state", "sent", "delivered", "step", "sender", "note"]
    return _table("signals", "Signals", header, rows)


def _events(document: Document) -> str:
    rows = [[_when(e["at"], False), e["kind"], e["epoch"], e["owner"], e["detail"]] for e in document["events"]]
    return _table("events", "Events", ["at", "kind", "epoch", "owner", "detail"], rows)
