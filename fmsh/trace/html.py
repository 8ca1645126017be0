"""The trace document as one self-contained HTML page: `fmsh --trace ID --html FILE`.

`render(document)` makes the page from the trace document (model.py) alone: a header with
the task and its counts, the timeline (timeline.py: a row per local step and per host of
a remote step, a bar per step attempt or host try, coloured by outcome), the step tree
with its hosts folded by outcome, each step's output, and the signals and events. The CSS
and the small script are report.css and report.js, inlined: the page loads nothing (a
Content Security Policy forbids it) and works from a file. Every string from the document
is escaped (markup.py): step text and output are hostile input.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from typing import Any

from fmsh.trace.markup import dur, esc, waited_for, when
from fmsh.trace.timeline import timeline

Document = dict[str, Any]

OUTPUT_CAP = 64 * 1024  # characters of output shown per step
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def _asset(name: str) -> str:
    return resources.files("fmsh.trace").joinpath(name).read_text(encoding="utf-8")


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
        f"<title>fmsh task {esc(task['id'])} {esc(task['name'])}: {esc(task['status'])}</title>\n",
        f"<style>\n{_asset('report.css')}</style>\n</head>\n<body>\n",
        _header(document),
        timeline(document),
        _tree(document),
        _output(document),
        _signals(document),
        _events(document),
        f"<footer>fmsh trace report ({esc(document.get('format'))} version {esc(document.get('version'))}), made "
        f"{esc(when(document.get('generated_at')))}</footer>\n",
        f"<script>{script}</script>\n</body>\n</html>\n",
    ]
    return "".join(parts)


# --- the header -----------------------------------------------------------------------


def _header(document: Document) -> str:
    task, summary = document["task"], document["summary"]
    exit_status = "" if task["exit_status"] is None else f'<span class="muted">exit {esc(task["exit_status"])}</span>'
    facts = [
        ("started", when(task["created_at"])),
        ("duration", dur(task["duration"])),
        ("owner", task["owner"] or "-"),
        ("epoch", task["epoch"]),
        ("source", task["source_name"]),
    ]
    if task["args"][1:]:
        facts.append(("args", " ".join(task["args"][1:])))
    if task["cwd"]:
        facts.append(("cwd", task["cwd"]))
    if task["deadline"] is not None:
        facts.append(("deadline", when(task["deadline"])))
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
        f'<header>\n<h1>task {esc(task["id"])} <span class="mono">{esc(task["name"])}</span> '
        f'<span class="status s-{esc(task["status"])}">{esc(task["status"])}</span> {exit_status}</h1>\n'
        '<div class="facts">'
        + "".join(f"<span><b>{name}</b> {esc(value)}</span>" for name, value in facts)
        + '</div>\n<ul class="counts">'
        + "".join(f'<li class="{tone}"><b>{esc(n)}</b> {esc(what)}</li>' for tone, n, what in counts)
        + '</ul>\n<nav><a href="#timeline">Timeline</a><a href="#steps">Steps</a><a href="#output">Output</a>'
        '<a href="#signals">Signals</a><a href="#events">Events</a></nav>\n</header>\n'
    )


# --- the step tree --------------------------------------------------------------------


def _step_item(step: dict[str, Any]) -> str:
    status = step["status"]
    tested = " tested" if step["tested"] and status == "failed" else ""
    line = "" if step["line"] is None else f'<span class="where">line {esc(step["line"])}</span>'
    parts = [
        f'<li class="step" id="step-{step["seq"]}"><div class="step-line"><span class="seq">#{step["seq"]}</span>',
        f'<span class="kind">{esc(step["kind"])}</span><code>{esc(step["text"])}</code>',
        f'<span class="st s-{esc(status)}{tested}">{esc(step["label"])}{" (tested)" if tested else ""}</span>',
        f'<span class="dur">{esc(dur(step["duration"]))}</span>{line}</div>',
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
            items.append(f'<li class="group{tone}">{esc(group["nodeset"])} {esc(label)} ({esc(group["count"])})</li>')
        parts.append(f'<ul class="groups">{"".join(items)}</ul>')
    extra = []
    if len(step["attempts"]) > 1:
        extra.append("attempts: " + ", ".join(f"{a['attempt']} {a['outcome'] or 'running'}" for a in step["attempts"]))
    if step["wait"]:
        wait = step["wait"]
        text = f"awaited {waited_for(wait)}: {wait['state']}"
        if wait["signal"]:
            text += f" (signal {wait['signal']['name']} = {wait['signal']['value']}, from {wait['signal']['sender']})"
        extra.append(text)
    if step["backoff"]:
        extra.append(f"backoff {dur(step['backoff']['seconds'])} after status {step['backoff']['after_status']}")
    if step["pipestatus"] and len(step["pipestatus"]) > 1:
        extra.append("pipestatus " + " ".join(map(str, step["pipestatus"])))
    if step["carried_from"]:
        extra.append(f"carried over from {step['carried_from']}")
    parts.extend(f'<div class="extra">{esc(text)}</div>' for text in extra)
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
            mark = f'<span class="fail-mark">\u2717 attempt {esc(node["round"])} failed{esc(status)}</span>'
        items.append(
            f'<li class="frame-item"><details open><summary>{esc(node["label"])}{mark}</summary>'
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
                    pieces.append(f'<span class="h">{esc(host)}: </span>')
                pieces.append(f'<span class="e">{esc(line)}</span>' if chunk["stream"] == 2 else esc(line))
                at_line_start = line.endswith("\n")
        if not at_line_start:
            pieces.append("\n")
    notes = []
    if cut:
        notes.append(f"{cut} more characters not shown: <code>{esc(log_hint)} {step['seq']}</code> has all of it.")
    truncated = [h["host"] for h in step["hosts"] if h["truncated"]]
    if truncated:
        notes.append(f"The journal kept only the first part of the output of {esc(', '.join(truncated))}.")
    size = f"{step['output_bytes']} bytes" + (f", {len(hosts)} hosts" if prefix else "")
    opened = " open" if step["status"] == "failed" else ""
    return (
        f'<details class="out" id="out-{step["seq"]}"{opened}><summary><span class="seq">#{step["seq"]}</span> '
        f'<code>{esc(step["text"])}</code> <span class="muted">{esc(size)}</span></summary>'
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
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>\n" for row in rows)  # None: ""
    return f'<section id="{name}">\n<h2>{title}</h2>\n<table><tr>{head}</tr>\n{body}</table>\n</section>\n'


def _signals(document: Document) -> str:
    rows = [
        [s["id"], s["name"], s["value"] or "", s["state"], when(s["sent_at"], False),
         when(s["delivered_at"], False), "" if s["seq"] is None else f"#{s['seq']}", s["sender"], s["note"] or ""]
        for s in document["signals"]
    ]  # fmt: skip
    header = ["id", "name", "value", "state", "sent", "delivered", "step", "sender", "note"]
    return _table("signals", "Signals", header, rows)


def _events(document: Document) -> str:
    rows = [[when(e["at"], False), e["kind"], e["epoch"], e["owner"], e["detail"]] for e in document["events"]]
    return _table("events", "Events", ["at", "kind", "epoch", "owner", "detail"], rows)
