"""A small OTLP/HTTP client: the trace's spans, encoded as protobuf by otel.py, POSTed to
a collector (`fmsh --trace ID --otlp URL`).

The SDK's ReadableSpans, encoded by OpenTelemetry's own OTLP encoder, are POSTed as
protobuf (BATCH spans a request) by this client rather than by the SDK's exporter, whose
retry loop takes ~6s on a refused port (with its default timeout of 10s), logs each
retry, and reports only success or failure (older versions raise, or retry a 503 for a
minute). Here a refused connection fails at once with what to check, a 429/502/503/504
is tried again (honouring Retry-After) while the request's `timeout` allows, an HTTP
error says what the collector said, and spans a collector rejected in a partial success
are an error too.

The endpoint may come from the environment: with no URL given,
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as it is) or OTEL_EXPORTER_OTLP_ENDPOINT
(`/v1/traces` added). The headers in OTEL_EXPORTER_OTLP_HEADERS and
OTEL_EXPORTER_OTLP_TRACES_HEADERS (`k=v,k2=v2`, URL-encoded) are sent too, under those
given by the caller. Nothing else is read from OTEL_* variables.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from fmsh import __version__
from fmsh.runtime.errors import ShellError

TRACES_PATH = "/v1/traces"
RETRYABLE = (429, 502, 503, 504)
BATCH = 5000  # spans a request (~2 MB): a collector takes at most 20 MiB by default


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


def post(
    url: str,
    spans: Sequence[Any],
    encode: Callable[[Sequence[Any]], bytes],
    headers: Mapping[str, str] | None,
    timeout: float,
    environ: Mapping[str, str],
) -> None:
    """POST the spans to `url`, BATCH a request, each batch's body as `encode` makes it,
    with the environment's headers and the caller's `headers` over them. `timeout` bounds
    each request, its retries included."""
    sent_headers = _headers(headers, environ)
    for first in range(0, len(spans), BATCH):
        batch = spans[first : first + BATCH]
        try:
            _send(url, encode(batch), len(batch), sent_headers, timeout)
        except ShellError as e:
            if not first:
                raise
            raise ShellError(f"{e.message} (after {first} of {len(spans)} spans were sent)", e.status) from None


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
