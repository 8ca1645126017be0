"""The trace document as OpenTelemetry spans: `fmsh --trace ID --otlp URL` sends them to a
collector over OTLP/HTTP, `fmsh --trace ID --otel-json FILE` writes them as OTLP/JSON.

Sending needs the `otel` extra (`pip install 'fmsh[otel]'`): OpenTelemetry is imported
only inside the functions that use it, never when fmsh starts. The OTLP/JSON file is
written here directly (protobuf's JSON mapping takes ~6x longer), so it needs nothing;
the tests check it is what OpenTelemetry's encoder and that mapping give.

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
twice gives the same ids and a backend can deduplicate. None is 0. Times are the
document's seconds as integer nanoseconds.

Sending: the SDK's ReadableSpans, encoded by OpenTelemetry's own OTLP encoder, are POSTed
as protobuf (BATCH spans a request) by a small client here rather than by the SDK's
exporter, whose retry loop takes ~6s on a refused port (with its default timeout of
10s), logs each retry, and reports only success or failure (older versions raise, or
retry a 503 for a minute). Here a refused connection fails at once with what to check,
a 429/502/503/504 is tried again (honouring Retry-After) while the request's `timeout`
allows, an HTTP error says what the collector said, and spans a collector rejected in
a partial success are an error too.

The endpoint may come from the environment: with no URL given,
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as it is) or OTEL_EXPORTER_OTLP_ENDPOINT
(`/v1/traces` added). The headers in OTEL_EXPORTER_OTLP_HEADERS and
OTEL_EXPORTER_OTLP_TRACES_HEADERS (`k=v,k2=v2`, URL-encoded) are sent too, under those
given by the caller. Nothing else is read from OTEL_* variables: the Resource is always
service.name=fmsh, service.version.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fmsh import __version__
from fmsh.runtime.errors import ShellError

MISSING = "OpenTelemetry export needs the otel extra: pip install 'fmsh[otel]'"
SCOPE = "fmsh.trace"
NAME_LENGTH = 80
TRACES_PATH = "/v1/traces"
RETRYABLE = (429, 502, 503, 504)
BATCH = 5000  # spans a request (~2 MB): a collector takes at most 20 MiB by default
RESOURCE = {"service.name": "fmsh", "service.version": __version__}
KINDS = {"internal": 1, "client": 3}  # OTLP's SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT
STATUS_OK, STATUS_ERROR = 1, 2
SPAN_FLAGS = 0x100  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK: the parent (if any) is not remote

Document = dict[str, Any]
Attributes = dict[str, Any]


# --- the spans, as plain data ---------------------------------------------------------


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


# --- OpenTelemetry's spans --------------------------------------------------------------


class _Attributes(dict[str, Any]):
    """Attributes as older SDKs read them (1.20 asks each span's and event's attributes,
    events and links how many were dropped: BoundedAttributes.dropped, BoundedList.dropped)."""

    dropped = 0


class _List(list[Any]):
    dropped = 0


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def spans_of(document: Document) -> list[Any]:
    """The document as OpenTelemetry SDK `ReadableSpan`s, parents before children."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import Event, ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
    except ImportError:
        raise ShellError(MISSING, status=2) from None

    nodes = nodes_of(document)
    trace_id = trace_id_of(document["task"])
    resource = Resource(RESOURCE)
    scope = InstrumentationScope(SCOPE, __version__)
    sampled = TraceFlags(TraceFlags.SAMPLED)
    unset, ok = Status(StatusCode.UNSET), Status(StatusCode.OK)
    kinds = {"internal": SpanKind.INTERNAL, "client": SpanKind.CLIENT}
    spans = []
    for node in nodes:
        assert node.start is not None and node.end is not None
        context = SpanContext(trace_id, node.span_id, is_remote=False, trace_flags=sampled)
        parent = None
        if node.parent is not None:
            parent = SpanContext(trace_id, node.parent.span_id, is_remote=False, trace_flags=sampled)
        if node.error is not None:
            status = Status(StatusCode.ERROR, node.error)
        else:
            status = ok if node.ok else unset
        spans.append(
            ReadableSpan(
                name=node.name,
                context=context,
                parent=parent,
                resource=resource,
                attributes=_Attributes(node.attributes),
                events=_List(Event(name, _Attributes(attributes), _ns(at)) for name, at, attributes in node.events),
                links=_List(),
                kind=kinds[node.kind],
                status=status,
                start_time=_ns(node.start),
                end_time=_ns(node.end),
                instrumentation_scope=scope,
            )
        )
    return spans


# --- OTLP/JSON --------------------------------------------------------------------------


def _any_value(value: Any) -> dict[str, Any]:
    """An attribute's value as OTLP/JSON's AnyValue (64-bit integers as strings)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _json_attributes(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _any_value(value)} for key, value in attributes.items()]


def json_request(document: Document) -> dict[str, Any]:
    """The spans as an ExportTraceServiceRequest in OTLP/JSON: the protobuf JSON mapping,
    with ids in hex and enums as integers, as the OTLP specification has it.

    Made here rather than by encoding with OpenTelemetry and protobuf's json_format,
    which takes ~12s for 55,000 spans (here: ~2s); the tests check that both give the
    same request. So `--otel-json` needs no extra package."""
    nodes = nodes_of(document)
    trace_id = f"{trace_id_of(document['task']):032x}"
    spans = []
    for node in nodes:
        assert node.start is not None and node.end is not None
        span: dict[str, Any] = {"traceId": trace_id, "spanId": f"{node.span_id:016x}"}
        if node.parent is not None:
            span["parentSpanId"] = f"{node.parent.span_id:016x}"
        span["name"] = node.name
        span["kind"] = KINDS[node.kind]
        span["startTimeUnixNano"] = str(_ns(node.start))
        span["endTimeUnixNano"] = str(_ns(node.end))
        if node.attributes:
            span["attributes"] = _json_attributes(node.attributes)
        if node.events:
            span["events"] = [
                {"timeUnixNano": str(_ns(at)), "name": name, **({"attributes": _json_attributes(a)} if a else {})}
                for name, at, a in node.events
            ]
        if node.error:
            span["status"] = {"message": node.error, "code": STATUS_ERROR}
        elif node.error is not None:
            span["status"] = {"code": STATUS_ERROR}
        else:
            span["status"] = {"code": STATUS_OK} if node.ok else {}
        span["flags"] = SPAN_FLAGS
        spans.append(span)
    scope = {"name": SCOPE, "version": __version__}
    resource = {"attributes": _json_attributes(RESOURCE)}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope, "spans": spans}]}]}


def to_json(document: Document) -> tuple[str, int]:
    """The document's spans as one line of OTLP/JSON, and their number."""
    request = json_request(document)
    text = json.dumps(request, separators=(",", ":"))
    return text + "\n", len(request["resourceSpans"][0]["scopeSpans"][0]["spans"])


def export_json(document: Document, path: str) -> int:
    """Write the spans to `path` (`-`: standard output) as OTLP/JSON: one
    ExportTraceServiceRequest on one line, as the Collector's file exporter writes it.
    Returns the number of spans."""
    text, count = to_json(document)
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return count
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as e:
        raise ShellError(f"cannot write the trace to {path}: {e.strerror or e}", status=1) from None
    return count


# --- OTLP/HTTP --------------------------------------------------------------------------


def traces_url(endpoint: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Where to POST: a base URL gets `/v1/traces`, one whose path already ends so is kept.
    With no endpoint, the OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT of the environment."""
    from urllib.parse import urlsplit, urlunsplit

    env = os.environ if environ is None else environ
    url = (endpoint or "").strip()
    if not url:
        url = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        if url:
            return _checked(url)
        url = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        if not url:
            raise ShellError(
                "no OTLP endpoint: give a URL (http://collector:4318) or set OTEL_EXPORTER_OTLP_ENDPOINT", status=2
            )
    parts = urlsplit(_checked(url))
    path = parts.path.rstrip("/")
    if not path.endswith(TRACES_PATH):
        path += TRACES_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _checked(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ShellError(f"not an OTLP/HTTP endpoint: {url} (expected http://HOST:4318 or https://...)", status=2)
    return url


def _parse_headers(text: str) -> dict[str, str]:
    """`k=v,k2=v2` (values URL-encoded), as OTEL_EXPORTER_OTLP_HEADERS has them."""
    from urllib.parse import unquote

    headers = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            headers[unquote(name.strip())] = unquote(value.strip())
    return headers


def _headers(given: Mapping[str, str] | None, environ: Mapping[str, str]) -> dict[str, str]:
    headers = {}
    for variable in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        headers.update(_parse_headers(environ.get(variable, "")))
    headers.update(given or {})
    headers["Content-Type"] = "application/x-protobuf"
    headers.setdefault("User-Agent", f"fmsh/{__version__}")
    return headers


def _reason(error: BaseException) -> str:
    import socket

    reason = getattr(error, "reason", error)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is an OpenTelemetry collector listening there? OTLP/HTTP is usually port 4318)"
    if isinstance(reason, TimeoutError):
        return "no answer in time (check the address, or allow a longer timeout)"
    if isinstance(reason, socket.gaierror):
        return "cannot resolve the host name (check the URL)"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror[0].lower() + reason.strerror[1:]
    return str(reason) or type(reason).__name__


def _detail(status: int, content_type: str, body: bytes) -> str:
    """What a collector said when it refused: a google.rpc.Status or text."""
    message = ""
    if "protobuf" in content_type:
        try:
            from google.rpc.status_pb2 import Status

            parsed = Status()
            parsed.ParseFromString(body)
            message = parsed.message
        except Exception:  # an unreadable body is only less detail
            message = ""
    elif body:
        text = body.decode("utf-8", "replace")
        try:
            loaded = json.loads(text)
            message = loaded.get("message", "") if isinstance(loaded, dict) else ""
        except ValueError:
            message = ""
        message = message or text
    message = " ".join(message.split())[:200]
    hint = ""
    if status in (401, 403):
        hint = " (check the headers it needs: OTEL_EXPORTER_OTLP_HEADERS)"
    elif status in (404, 405):
        hint = " (is this the collector's OTLP/HTTP endpoint? usually http://HOST:4318/v1/traces)"
    elif status == 413:
        hint = " (the trace is too large for it: raise its request size limit)"
    return (f": {message}" if message else "") + hint


def _partial(body: bytes, count: int) -> str | None:
    """A collector that took the request but rejected some spans says so in the answer."""
    if not body:
        return None
    try:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        answer = ExportTraceServiceResponse()
        answer.ParseFromString(body)
    except Exception:  # not a protobuf answer: nothing to report
        return None
    rejected = answer.partial_success.rejected_spans
    if rejected:
        why = answer.partial_success.error_message
        return f"it rejected {rejected} of {count} spans" + (f": {why}" if why else "")
    return None


def export_otlp(
    document: Document,
    endpoint: str | None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Send the spans to an OTLP/HTTP collector as protobuf, BATCH spans a request; the
    number of spans sent.

    `timeout` bounds each request, its retries included. A refused connection, an
    unknown host or an HTTP error is a ShellError that says what to check."""
    env = os.environ if environ is None else environ
    url = traces_url(endpoint, env)
    spans = spans_of(document)
    try:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    except ImportError:
        raise ShellError(MISSING, status=2) from None
    sent_headers = _headers(headers, env)
    for first in range(0, len(spans), BATCH):
        batch = spans[first : first + BATCH]
        try:
            _send(url, encode_spans(batch).SerializeToString(), len(batch), sent_headers, timeout)
        except ShellError as e:
            if not first:
                raise
            raise ShellError(f"{e.message} (after {first} of {len(spans)} spans were sent)", e.status) from None
    return len(spans)


def _send(url: str, body: bytes, count: int, headers: Mapping[str, str], timeout: float) -> None:
    """One request, tried again after a 429/502/503/504 while time is left."""
    deadline = time.monotonic() + timeout
    for tries, (status, content_type, answer, retry_after) in enumerate(_posts(url, body, headers, deadline)):
        if 200 <= status < 300:
            partial = _partial(answer, count) if "protobuf" in content_type else None
            if partial:
                raise ShellError(f"{url} took the trace, but {partial}", status=1)
            return
        wait = min(retry_after if retry_after is not None else 0.5 * 2**tries, 5.0)
        if status not in RETRYABLE or wait >= deadline - time.monotonic():
            from http import HTTPStatus

            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = ""
            raise ShellError(
                f"{url} refused the trace: HTTP {status} {phrase}".rstrip() + _detail(status, content_type, answer),
                status=1,
            )
        time.sleep(wait)


def _posts(
    url: str, body: bytes, headers: Mapping[str, str], deadline: float
) -> Iterator[tuple[int, str, bytes, float | None]]:
    """POST until the caller stops asking: (HTTP status, content type, body, Retry-After)
    of each answer; a connection that fails is a ShellError at once."""
    import urllib.error
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        """A collector does not redirect; following one would turn the POST into a GET."""

        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirects)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ShellError(f"cannot send the trace to {url}: no answer in time (allow a longer timeout)", status=1)
        post = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with opener.open(post, timeout=left) as response:
                yield response.status, response.headers.get("Content-Type", ""), response.read(), None
        except urllib.error.HTTPError as e:
            retry_after = _retry_after(e.headers.get("Retry-After") if e.headers else None)
            content_type = e.headers.get("Content-Type", "") if e.headers else ""
            try:
                answer = e.read()
            except OSError:
                answer = b""
            yield e.code, content_type, answer, retry_after
        except (urllib.error.URLError, OSError) as e:
            raise ShellError(f"cannot send the trace to {url}: {_reason(e)}", status=1) from None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
