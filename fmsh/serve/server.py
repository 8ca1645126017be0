"""The HTTP side of `fmsh serve`: the standard library's threading server, with what a
server facing other machines needs — a time limit on every connection (a client that
sends slowly is cut off), a cap on connections at once (past it: 503), TLS when given a
certificate (the handshake in the connection's own thread), HTTP/1.1 keep-alive, and an
access log line per request that never shows a token."""

from __future__ import annotations

import http.server
import socket
import sys
import threading
import time

from fmsh.serve.endpoint import Answer, Endpoint, Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl

CONNECTION_TIMEOUT = 10.0  # seconds a connection may take to send a request
MAX_CONNECTIONS = 256


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the listen backlog (socketserver's 5 drops the SYNs of a burst: 1 s retries)

    def __init__(
        self,
        address: tuple[str, int],
        endpoint: Endpoint,
        tls: ssl.SSLContext | None = None,
        quiet: bool = False,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.endpoint = endpoint
        self.tls = tls
        self.quiet = quiet
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"{'https' if self.tls else 'http'}://{shown}:{port}"

    def process_request(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        if not self.slots.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def log(self, line: str) -> None:
        if not self.quiet:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            sys.stderr.write(f"{stamp} {line}\n")
            sys.stderr.flush()


_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _refuse_busy(request: socket.socket) -> None:
    try:
        request.settimeout(1.0)
        request.sendall(_BUSY)
    except OSError:
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fmsh-serve"
    sys_version = ""
    timeout = CONNECTION_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms wait for an ACK
    server: Server

    def handle(self) -> None:
        try:
            if self.server.tls is not None:
                self.request.do_handshake()  # here, not in accept(): a slow client holds only its own thread
            super().handle()
        except (OSError, ValueError):  # the peer went away, timed out, or spoke no TLS (SSLError is an OSError)
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._answer()

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def do_PUT(self) -> None:  # noqa: N802
        self._answer()

    def do_DELETE(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        text = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = None if text is None or chunked else int(text) if text.strip().isdigit() else -1
        consumed = 0

        def read(n: int) -> bytes:
            nonlocal consumed
            data = self.rfile.read(n)
            consumed += len(data)
            return data

        if length == -1:
            answer = Answer(400, {"error": f"Content-Length `{text}': not a number"}, "bad Content-Length")
        else:
            request = Request(self.command, self.path, headers, length, read, self.client_address[0])
            answer = self.server.endpoint.handle(request)
        if chunked or length == -1 or (length is not None and consumed < length):
            self.close_connection = True  # a body is left unread: the connection cannot go on
        data = answer.data()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        route = _hide_tokens(self.path.split("?", 1)[0])
        self.server.log(f"{self.client_address[0]} {self.command} {route} {answer.status} {answer.log}".rstrip())

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass  # _answer logs each request its own way (http.server's would show the token)

    def log_error(self, format: str, *args: object) -> None:  # noqa: A002
        self.server.log(f"{self.client_address[0]} {_hide_tokens(format % args)}")


def _hide_tokens(text: str) -> str:
    """The token is the callback's credential: never in the log (nor anything that could
    be one, however the path was spelled)."""
    import re

    text = re.sub(r"/cb/[^\s'\"?]*", "/cb/…", text)
    return re.sub(r"[A-Za-z0-9_%-]{40,}", "…", text)
