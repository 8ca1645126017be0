"""What `fmsh serve` does with a request, apart from HTTP's plumbing (server.py):

    POST /cb/TOKEN            deliver a callback (no other credential: the URL is one)
                              202 delivered · 409 delivered before · 410 too late
                              (journaled as late) · 404 no such callback
    POST /signal/ID/NAME      `signal ID NAME BODY`, with `Authorization: Bearer TOKEN`
                              202 kept for an await · 410 too late (journaled as late)
                              · 404 no task ID · 401 wrong or no token · 403 signals off
    GET  /health              200 when the journal answers, else 503

A body is the event's value, bytes as sent, at most `max_body` bytes: a longer one is
413 before anything is read or journaled; one without Content-Length is 411. A journal
that is locked or full is 503 with Retry-After, so that a sender tries again.
Each answer is a small JSON object: what happened, in words too.
"""

from __future__ import annotations

import hmac
import json
from urllib.parse import unquote

from fmsh.journal.errors import JournalError, TaskNotFound
from fmsh.tasks import callbacks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fmsh.journal.base import Journal

DEFAULT_MAX_BODY = 1 << 20


class Answer:
    """The status, the JSON body, extra headers; `log` is what the access log adds."""

    def __init__(self, status: int, body: dict[str, object], log: str = "", headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.log = log
        self.headers = headers or {}

    def data(self) -> bytes:
        return (json.dumps(self.body, sort_keys=True) + "\n").encode()


class Request:
    """What the HTTP side (server.py) hands over: `headers` by lower-case name, `length` the
    Content-Length (None: not given), `read(n)` the body, `sender` the client's address."""

    __slots__ = ("method", "path", "headers", "length", "read", "sender")

    def __init__(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        length: int | None,
        read: Callable[[int], bytes],
        sender: str,
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.length = length
        self.read = read
        self.sender = sender


def _error(status: int, message: str, **headers: str) -> Answer:
    return Answer(status, {"error": message}, message, headers)


class Endpoint:
    def __init__(self, journal: Journal, signal_token: str | None, max_body: int = DEFAULT_MAX_BODY) -> None:
        import threading

        self.journal = journal
        self.signal_token = signal_token.encode() if signal_token else None
        self.max_body = max_body
        self._busy = threading.Condition()
        self._in_flight = 0
        self._closing = False

    def drain(self, timeout: float) -> None:
        """Take no more requests (503), and wait for those in flight, at most `timeout` s."""
        with self._busy:
            self._closing = True
            self._busy.wait_for(lambda: self._in_flight == 0, timeout)

    def handle(self, request: Request) -> Answer:
        with self._busy:
            if self._closing:
                return _error(503, "this fmsh serve is stopping: try another, or again", **{"Retry-After": "1"})
            self._in_flight += 1
        try:
            return self._route(request)
        finally:
            with self._busy:
                self._in_flight -= 1
                self._busy.notify_all()

    def _route(self, request: Request) -> Answer:
        method, route = request.method, request.path.split("?", 1)[0]
        parts = route.split("/")
        if route == "/health":
            return self._health() if method in ("GET", "HEAD") else _error(405, "use GET", Allow="GET, HEAD")
        if len(parts) == 3 and parts[1] == "cb":
            if method != "POST":
                return _error(405, "a callback is delivered with POST", Allow="POST")
            return self._callback(parts[2], request)
        if len(parts) == 4 and parts[1] == "signal":
            if method != "POST":
                return _error(405, "a signal is sent with POST", Allow="POST")
            return self._signal(parts[2], unquote(parts[3]), request)
        return _error(404, "nothing here: callbacks are POSTed to /cb/TOKEN, signals to /signal/ID/NAME")

    # --- each route -----------------------------------------------------------------------

    def _callback(self, token: str, request: Request) -> Answer:
        if not callbacks.is_token(token):
            return _error(404, "no such callback")
        body = self._body(request)
        if isinstance(body, Answer):
            return body
        # Looked up by its SHA-256: how long the lookup takes tells nothing about the token.
        try:
            outcome, callback, why = self.journal.deliver_callback(callbacks.token_hash(token), body, request.sender)
        except JournalError as e:
            return self._unavailable(e)
        if callback is None:
            return _error(404, "no such callback")
        where = {"task": callback.task_id, "callback": callback.id}
        log = f"task {callback.task_id} callback {callback.id}"
        if outcome == "delivered":
            return Answer(202, {"delivered": True, **where}, f"{log} delivered ({_size(body)} bytes)")
        if outcome == "used":
            return Answer(409, {"delivered": False, "error": "this callback was delivered before", **where}, log)
        return Answer(410, {"delivered": False, "error": f"too late: {why}", **where}, f"{log} late: {why}")

    def _signal(self, spec: str, name: str, request: Request) -> Answer:
        if self.signal_token is None:
            return _error(403, "signals are off: this fmsh serve was started without --token-file")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.signal_token):
            return _error(401, "a signal needs `Authorization: Bearer TOKEN` with serve's token",
                          **{"WWW-Authenticate": 'Bearer realm="fmsh"'})  # fmt: skip
        if not spec.isdigit():
            return _error(404, f"`{spec}': not a task id")
        if not name or any(c.isspace() or not c.isprintable() for c in name) or name.startswith("callback:"):
            return _error(400, f"`{name}': not a signal name (one word, as in approve)")
        body = self._body(request)
        if isinstance(body, Answer):
            return body
        try:
            state, why = self.journal.send_signal(int(spec), name, body if request.length else None, request.sender)
        except TaskNotFound:
            return _error(404, f"no task {spec}")
        except JournalError as e:
            return self._unavailable(e)
        log = f"task {spec} signal {name}"
        if state == "late":
            return Answer(410, {"sent": False, "error": f"too late: {why}", "task": int(spec)}, f"{log} late: {why}")
        return Answer(202, {"sent": True, "task": int(spec), "signal": name}, log)

    def _health(self) -> Answer:
        try:
            self.journal.task_counts()
        except JournalError as e:
            return self._unavailable(e)
        return Answer(200, {"ok": True})

    # --- shared -----------------------------------------------------------------------------

    def _body(self, request: Request) -> str | Answer:
        length = request.length
        if length is None:
            return _error(411, "a Content-Length is needed (curl --data-binary sends one)")
        if length > self.max_body:
            return _error(413, f"the body is {length} bytes, more than the {self.max_body} this serve takes")
        data = request.read(length) if length else b""
        if len(data) != length:
            return _error(400, f"the body ended after {len(data)} of its {length} bytes")
        return data.decode("utf-8", "surrogateescape")

    @staticmethod
    def _unavailable(error: JournalError) -> Answer:
        return _error(503, f"the journal cannot take it now: {error.message}", **{"Retry-After": "1"})


def _size(body: str) -> int:
    return len(body.encode("utf-8", "surrogateescape"))
