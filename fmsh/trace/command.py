"""`trace ID` as a library: which view of the trace document to make, and where it goes.

    trace ID                       the text tree (folded hosts; --hosts: a line each)
    trace ID --json [--output]     the document as JSON (schema.json)
    trace ID --html FILE           one self-contained page with a timeline
    trace ID --otel-json FILE      OpenTelemetry spans as OTLP/JSON
    trace ID --otlp URL            ... sent to an OTLP/HTTP endpoint
    trace ID --follow              the tree redrawn as the task runs (follow.py)

The click layer (fmsh/tasks/commands.py) parses the options into a TraceRequest.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from fmsh.trace.model import Document
    from fmsh.trace.tree import Paint


@dataclass
class TraceRequest:
    as_json: bool = False
    output: bool = False  # each step's output in the JSON
    html: str | None = None
    otel_json: str | None = None
    otlp: str | None = None
    each_host: bool = False
    color: str = "auto"  # auto | always | never


def paint_for(color: str, fd: int = 1) -> Paint:
    from fmsh.trace.tree import Paint

    if color == "always":
        return Paint(True)
    if color == "never" or "NO_COLOR" in os.environ:
        return Paint(False)
    return Paint(os.isatty(fd) and os.environ.get("TERM") != "dumb")


def load(environ: Mapping[str, str], spec: str, output: bool = False) -> Document:
    """The trace document of task `spec`."""
    from fmsh.tasks.owner import this_process
    from fmsh.tasks.start import find_task, open_existing
    from fmsh.trace import model

    journal = open_existing(environ)
    try:
        return model.build(journal, find_task(journal, spec), this_process(), output=output)
    finally:
        journal.close()


def report(environ: Mapping[str, str], spec: str, request: TraceRequest) -> int:
    files = [request.html, request.otel_json, request.otlp]
    document = load(environ, spec, output=request.output or request.html is not None)
    if request.html is not None:
        from fmsh.trace import html

        _write(request.html, html.render(document))
        _tell(f"task {document['task']['id']}: a report of {len(document['steps'])} steps in {request.html}",
              request.html)  # fmt: skip
    if request.otel_json is not None:
        from fmsh.trace import otel

        count = otel.export_json(document, request.otel_json)
        _tell(f"task {document['task']['id']}: {count} spans in {request.otel_json}", request.otel_json)
    if request.otlp is not None:
        from fmsh.trace import otel

        count = otel.export_otlp(document, request.otlp)
        _tell(f"task {document['task']['id']}: {count} spans sent to {request.otlp}", None)
    if request.as_json:
        import json

        if not request.output:
            for step in document["steps"]:
                step.pop("output", None)
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    elif not any(f is not None for f in files):
        from fmsh.trace.tree import render

        sys.stdout.write(render(document, paint_for(request.color), request.each_host))
    sys.stdout.flush()
    return 0


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise ShellError(f"cannot write {path}: {e.strerror}") from None


def _tell(message: str, path: str | None) -> None:
    if path != "-":
        sys.stderr.write(f"fmsh: trace: {message}\n")
