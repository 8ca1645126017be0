"""A local HTTP server for the tests of `await http` and `wait_healthy`: its answers are a
list of (status, body), the last one repeated; it keeps the paths it was asked for."""

from __future__ import annotations

import http.server
import threading


class AnswerServer:
    def __init__(self, answers: list[tuple[int, str]]) -> None:
        self.answers = answers
        self.paths: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                status, body = server.answers[min(len(server.paths), len(server.answers) - 1)]
                server.paths.append(self.path)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/health"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def requests(self) -> int:
        return len(self.paths)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
