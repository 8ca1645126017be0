"""The timeline of the HTML report (html.py): where each step and host spent its time.

One row per local step and per host of a remote step, in the order of the step tree, a
frame (call, loop round, retry attempt) as a row of its own over what it holds; a remote
step is a group, a head row over its hosts' rows, folded when all its hosts succeeded and
the task has more than COLLAPSE_ABOVE host rows. Each row holds one bar per step attempt
or host try, placed on an axis from the task's first start to its last end (ticks at a
round step), coloured by outcome; the wait between a host's tries shows as a gap, an
await or a backoff as a caption.

The markup is a contract the tests rely on: every bar is an element of class `bar` with
`data-outcome` (ok, exit, timeout, refused, running, interrupted...), `data-step` (the seq),
`data-host` ("" for a local step), `data-try` (a host's try) or `data-attempt` (a step's
attempt); a failed bar also has class `failed`. A row is a `.row` of class `local`,
`host`, `head` (a remote step's) or `frame`, and `bad` too when it holds a failure.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

from fmsh.trace.markup import dur, esc, waited_for, when

Document = dict[str, Any]

COLLAPSE_ABOVE = 400  # host rows: above this, the steps whose hosts all succeeded start folded
NOT_FAILED = {"ok", "running", "interrupted", "launched"}
_TICKS: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120)
_TICKS += (300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


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
    attributes = "".join(f' data-{name}="{esc(value)}"' for name, value in data.items())
    inside = f"<i>{esc(text)}</i>" if text and axis.width(start, end) >= 6 else ""
    return (
        f'<span class="{classes}" data-outcome="{esc(outcome)}"{attributes} '
        f'style="{axis.place(start, end)}" title="{esc(title)}">{inside}</span>'
    )


def _caption(axis: _Axis, start: float | None, end: float | None, text: str, bad: bool = False) -> str:
    """A few words next to a bar: after it, or before it near the right edge."""
    after = axis.pct(axis.end if end is None else end)
    where = f"left:{after:.3f}%" if after < 75 else f"right:{100 - axis.pct(start or axis.start):.3f}%"
    return f'<span class="cap{" bad" if bad else ""}" style="{where}">{esc(text)}</span>'


def _row(classes: str, depth: int, label: str, track: str, title: str = "", **data: object) -> str:
    attributes = "".join(f' data-{name}="{esc(value)}"' for name, value in data.items())
    return (
        f'<div class="row {classes}"{attributes} style="--d:{depth}">'
        f'<div class="lab" title="{esc(title)}">{label}</div><div class="track">{track}</div></div>\n'
    )


def _badge(outcome: str, text: str) -> str:
    return f'<span class="badge b-{_tone(outcome)}">{esc(text)}</span>'


def _step_name(step: dict[str, Any]) -> str:
    if step["kind"] == "backoff":
        return "backoff"
    return str(step["text"])


def _host_row(axis: _Axis, step: dict[str, Any], host: dict[str, Any], depth: int) -> tuple[str, bool]:
    seq, name = step["seq"], host["host"]
    tries = host["tries"]
    bars = []
    if not tries:
        title = f"{name}\n#{seq} {step['text']}\n{host['label']} · {dur(host['duration'])}"
        title += f"\n{axis.rel(host['started_at'])} → {axis.rel(host['ended_at'])}"
        title += f"\n{host['message']}" if host["message"] else ""
        text = f"{host['label']} {dur(host['duration'])}"
        bars.append(
            _bar(axis, host["outcome"], host["started_at"], host["ended_at"], title, text,
                 step=seq, host=name, attempt=host["attempt"] or "", **{"try": ""})
        )  # fmt: skip
    previous_end = None
    for one in tries:
        if previous_end is not None and one["started_at"] is not None and one["started_at"] > previous_end:
            bars.append(
                f'<span class="gap" style="{axis.place(previous_end, one["started_at"])}" '
                f'title="backoff {dur(one["waited"])} before try {esc(one["try"])}"></span>'
            )
        title = f"{name} · try {one['try']} of {len(tries)}\n#{seq} {step['text']}"
        title += f"\n{one['label']} · {dur(one['duration'])}"
        title += f"\n{axis.rel(one['started_at'])} → {axis.rel(one['ended_at'])}"
        if one["waited"] is not None:
            title += f"\nafter a backoff of {dur(one['waited'])}"
        title += f"\n{one['message']}" if one["message"] else ""
        text = f"{one['label']} {dur(one['duration'])}"
        bars.append(
            _bar(axis, one["outcome"], one["started_at"], one["ended_at"], title, text,
                 step=seq, host=name, attempt=host["attempt"] or "", **{"try": one["try"]})
        )  # fmt: skip
        previous_end = one["ended_at"]
    retried_after_failure = any(t["outcome"] not in NOT_FAILED for t in tries)
    bad = host["outcome"] not in NOT_FAILED or retried_after_failure
    label = f'<span class="name"><span class="seq">#{seq}</span> {esc(name)}</span>'
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
        title += f" · {dur(None if end is None else end - (attempt['started_at'] or end))}"
        title += f"\n{axis.rel(attempt['started_at'])} → {axis.rel(end)}"
        if step["wait"]:
            title += f"\nawaited {waited_for(step['wait'])}: {step['wait']['state']}"
        if step["backoff"]:
            title += f"\nbackoff {dur(step['backoff']['seconds'])} after status {step['backoff']['after_status']}"
        title += f"\n{attempt['error']}" if attempt["error"] else ""
        start = attempt["started_at"] if attempt["started_at"] is not None else step["started_at"]
        took = None if end is None or start is None else end - start
        text = f"{step['label'] if len(step['attempts']) == 1 else outcome} {dur(took)}"
        data: dict[str, object] = {"step": seq, "host": "", "attempt": attempt["attempt"], "kind": kind}
        if step["wait"]:
            data["wait"] = step["wait"]["state"]
        bars.append(_bar(axis, outcome, start, end, title, text, **data))
    start, end = step["started_at"], step["ended_at"]
    if step["wait"]:
        wait = step["wait"]
        state = {"timed-out": "timed out", "satisfied": "satisfied"}.get(wait["state"], wait["state"])
        bars.append(_caption(axis, start, end, f"{waited_for(wait)} · {state}", wait["state"] == "timed-out"))
    elif step["backoff"]:
        after = step["backoff"]["after_status"]
        text = f"backoff {dur(step['backoff']['seconds'])}" + ("" if after is None else f" after exit {after}")
        bars.append(_caption(axis, start, end, text))
    label = f'<span class="name"><span class="seq">#{seq}</span> {esc(_step_name(step))}</span>'
    if step["status"] != "ok":
        label += _badge("failed" if step["status"] == "failed" else step["status"], step["label"])
    if len(step["attempts"]) > 1:
        label += f'<span class="badge tries">attempts {len(step["attempts"])}</span>'
    if step["carried_from"]:
        label += f'<span class="badge">from {esc(step["carried_from"])}</span>'
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
        f'style="{axis.place(a["started_at"], a["ended_at"])}" title="attempt {esc(a["attempt"])}"></span>'
        for a in step["attempts"]
    )
    folded = ", ".join(f"{g['nodeset']} {g['label']} ({g['count']})" for g in step["groups"])
    label = f'<span class="name"><span class="seq">#{seq}</span> {esc(step["text"])}</span>'
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
    label = f'<span class="name">{esc(short)}</span>'
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


def timeline(document: Document) -> str:
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
    labels = "".join(f'<span class="tick" style="left:{at:.3f}%">{esc(text)}</span>' for at, text in ticks)
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
        f'<div class="row axis"><div class="lab">from {esc(when(axis.start, zone=False))}</div>'
        f'<div class="track">{labels}</div></div>\n' + "".join(rows) + "</div>\n</section>\n"
    )
