"""A real `fmsh --serve` process for the tests: started on a free loopback port, its URL
read from what it prints, its access log kept, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from conftest import FMSH_ARGV, TRACEBACK


class Serve:
    def __init__(self, journal: Path | str, *options: str, env: dict[str, str] | None = None) -> None:
        self.journal = str(journal)
        self.options = list(options)
        self.env = {**os.environ, "FMSH_JOURNAL": self.journal, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []  # what it wrote to stderr
        self.url = ""
        self.status: int | None = None

    def start(self, timeout: float = 10.0) -> Serve:
        argv = [
            *FMSH_ARGV,
            "--serve",
            *(self.options or []),
            *([] if "--listen" in self.options else ["--listen", "127.0.0.1:0"]),
        ]
        self.proc = subprocess.Popen(argv, env=self.env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                if " at http" in line and not self.url:
                    self.url = line.rsplit(" at ", 1)[1].strip()
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout) or not self.url:
            self.stop()
            raise AssertionError(f"fmsh --serve did not start: {self.log()}")
        return self

    def log(self) -> str:
        return "\n".join(self.lines)

    def saw(self, text: str, timeout: float = 5.0) -> bool:
        """Whether a line of its stderr holds `text`, waiting for it up to `timeout` s (start()
        returns at the first line: the ones after it may still be on their way)."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self) -> int | None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.status = self.proc.returncode
            time.sleep(0.05)  # the reader thread takes the last lines
            assert TRACEBACK not in self.log(), self.log()
        return self.status

    def __enter__(self) -> Serve:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def post(url: str, body: bytes = b"", headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, dict]:
    """POST with urllib; (status, the JSON answer)."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read() or b"{}")
