"""The trace document as OpenTelemetry spans: `fmsh --trace ID --otlp URL` sends them to a
collector over OTLP/HTTP, `fmsh --trace ID --otel-json FILE` writes them as OTLP/JSON.

The spans themselves, their tree and ids, are spans.py's plain data; here they become the
SDK's ReadableSpans (for OpenTelemetry's OTLP encoder) or the OTLP/JSON request. Times are
the document's seconds as integer nanoseconds; the Resource is always service.name=fmsh,
service.version. `export_otlp` encodes the spans and hands them to otlp.py to send.

Sending needs the `otel` extra (`pip install 'fmsh[otel]'`): OpenTelemetry is imported
only inside the functions that use it, never when fmsh starts. The OTLP/JSON file is
written here directly (protobuf's JSON mapping takes ~6x longer), so it needs nothing;
the tests check it is what OpenTelemetry's encoder and that mapping give.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from fmsh import __version__
from fmsh.runtime.errors import ShellError
from fmsh.trace import otlp
from fmsh.trace.spans import Document, nodes_of, trace_id_of

MISSING = "OpenTelemetry export needs the otel extra: pip install 'fmsh[otel]'"
SCOPE = "fmsh.trace"
RESOURCE = {"service.name": "fmsh", "service.version": __version__}
KINDS = {"internal": 1, "client": 3}  # OTLP's SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT
STATUS_OK, STATUS_ERROR = 1, 2
SPAN_FLAGS = 0x100  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK: the parent (if any) is not remote


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


def export_otlp(
    document: Document,
    endpoint: str | None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Send the spans to an OTLP/HTTP collector as protobuf, otlp.BATCH spans a request;
    the number of spans sent.

    `timeout` bounds each request, its retries included. A refused connection, an
    unknown host or an HTTP error is a ShellError that says what to check."""
    env = os.environ if environ is None else environ
    url = otlp.traces_url(endpoint, env)
    spans = spans_of(document)
    try:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    except ImportError:
        raise ShellError(MISSING, status=2) from None
    otlp.post(url, spans, lambda batch: encode_spans(batch).SerializeToString(), headers, timeout, env)
    return len(spans)
