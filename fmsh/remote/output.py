"""What a remote stage prints, chosen by FMSH_OUTPUT:

    auto     one host: its bytes as they come (like ssh). Several hosts: whole lines, with
             a `host: ` prefix when the output is a terminal, without when it is piped.
    prefix   whole lines, always prefixed;   plain   whole lines, never prefixed
    gather   each host's output at the end, identical outputs folded under one header
             (`web[01-07,09] (8)`), like clush -b / dshbak -c
    json     one JSON object a line: {"host", "stream", "line"} and, when a host ends,
             {"host", "status", "class"}

On a terminal, a fan-out that runs over a second shows a progress line on standard error,
and one with failures ends with a summary of them by class.
"""

from __future__ import annotations

import json
import os
import threading
import time

from fmsh.remote import failures

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.remote.run import HostResult

MODES = ("auto", "prefix", "plain", "gather", "json")
_PROGRESS_AFTER = 1.0


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Progress:
    """`n/N ok · failed · timed out` on a terminal's standard error, redrawn in place."""

    def __init__(self, fd: int, total: int) -> None:
        self.fd = fd
        self.total = total
        self.enabled = total > 1 and os.isatty(fd)
        self.start = time.monotonic()
        self.shown = False
        self.ok = self.failed = self.timed_out = 0

    def count(self, result: HostResult) -> None:
        if result.kind is None:
            self.ok += 1
        elif result.kind in (failures.TIMEOUT, failures.CONNECT_TIMEOUT):
            self.timed_out += 1
        else:
            self.failed += 1

    def clear(self) -> None:
        if self.shown:
            write_all(self.fd, b"\r\x1b[K")
            self.shown = False

    def draw(self) -> None:
        if not self.enabled or time.monotonic() - self.start < _PROGRESS_AFTER:
            return
        done = self.ok + self.failed + self.timed_out
        text = f"{done}/{self.total} {self.ok} ok · {self.failed} failed · {self.timed_out} timed out"
        write_all(self.fd, b"\r\x1b[K" + text.encode())
        self.shown = True


class Sink:
    """Where a remote stage's output goes. Called from one thread at a time."""

    def __init__(self, names: list[str], stdout_fd: int, stderr_fd: int) -> None:
        self.names = names
        self.stdout_fd = stdout_fd
        self.stderr_fd = stderr_fd
        self.progress = Progress(stderr_fd, len(names))
        self.lock = threading.Lock()

    def data(self, host: int, stream: int, chunk: bytes) -> None:
        raise NotImplementedError

    def host_done(self, host: int, result: HostResult) -> None:
        self.progress.count(result)

    def finish(self, results: list[HostResult]) -> None:
        self.progress.clear()

    def tick(self) -> None:
        """Called now and then by the running stage (the progress line)."""
        with self.lock:
            self.progress.draw()

    def _fd(self, stream: int) -> int:
        return self.stdout_fd if stream == 1 else self.stderr_fd


class Quiet(Sink):
    """Nothing shown: a command run to learn its status (`await file ... on @hosts`)."""

    def data(self, host: int, stream: int, chunk: bytes) -> None:
        pass

    def host_done(self, host: int, result: HostResult) -> None:
        pass

    def finish(self, results: list[HostResult]) -> None:
        pass

    def tick(self) -> None:
        pass


class PassThrough(Sink):
    """One host: the bytes as they arrive (binary data, partial lines, all of it)."""

    def data(self, host: int, stream: int, chunk: bytes) -> None:
        write_all(self._fd(stream), chunk)


class Lines(Sink):
    """Whole lines only, so that hosts never interleave within a line; an optional prefix."""

    def __init__(self, names: list[str], stdout_fd: int, stderr_fd: int, prefix: bool) -> None:
        super().__init__(names, stdout_fd, stderr_fd)
        self.prefixes = [f"{name}: ".encode() if prefix else b"" for name in names]
        self.partial: dict[tuple[int, int], bytes] = {}

    def data(self, host: int, stream: int, chunk: bytes) -> None:
        key = (host, stream)
        buffered = self.partial.get(key, b"") + chunk
        cut = buffered.rfind(b"\n")
        if cut == -1:
            self.partial[key] = buffered
            return
        self.partial[key] = buffered[cut + 1 :]
        prefix = self.prefixes[host]
        lines = buffered[: cut + 1]
        if prefix:
            lines = b"".join(prefix + line for line in lines.splitlines(keepends=True))
        with self.lock:
            self.progress.clear()
            write_all(self._fd(stream), lines)
            self.progress.draw()

    def host_done(self, host: int, result: HostResult) -> None:
        for stream in (1, 2):
            rest = self.partial.pop((host, stream), b"")
            if rest:
                self.data(host, stream, rest + b"\n")
        super().host_done(host, result)


class Gathered(Sink):
    """Every host's standard output at the end; hosts with the same output share one block.
    Standard error goes out live, prefixed."""

    def __init__(self, names: list[str], stdout_fd: int, stderr_fd: int) -> None:
        super().__init__(names, stdout_fd, stderr_fd)
        self.outputs: dict[int, bytearray] = {}
        self.errors = Lines(names, stdout_fd, stderr_fd, prefix=True)
        self.errors.progress = self.progress

    def data(self, host: int, stream: int, chunk: bytes) -> None:
        if stream == 2:
            self.errors.data(host, stream, chunk)
        else:
            self.outputs.setdefault(host, bytearray()).extend(chunk)

    def host_done(self, host: int, result: HostResult) -> None:
        self.errors.host_done(host, result)

    def finish(self, results: list[HostResult]) -> None:
        super().finish(results)
        from fmsh.remote.nodeset import fold

        groups: dict[bytes, list[str]] = {}
        for host, name in enumerate(self.names):
            output = bytes(self.outputs.get(host, b""))
            if output:
                groups.setdefault(output, []).append(name)
        for output, names in groups.items():
            header = f"{fold(names)} ({len(names)})"
            rule = "-" * max(15, len(header))
            block = f"{rule}\n{header}\n{rule}\n".encode() + output + (b"" if output.endswith(b"\n") else b"\n")
            write_all(self.stdout_fd, block)


class JsonLines(Sink):
    def __init__(self, names: list[str], stdout_fd: int, stderr_fd: int) -> None:
        super().__init__(names, stdout_fd, stderr_fd)
        self.partial: dict[tuple[int, int], bytes] = {}

    def _emit(self, record: dict[str, object]) -> None:
        with self.lock:
            write_all(self.stdout_fd, (json.dumps(record, ensure_ascii=False) + "\n").encode())

    def data(self, host: int, stream: int, chunk: bytes) -> None:
        key = (host, stream)
        buffered = self.partial.get(key, b"") + chunk
        *lines, rest = buffered.split(b"\n")
        self.partial[key] = rest
        for line in lines:
            self._line(host, stream, line)

    def _line(self, host: int, stream: int, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        self._emit({"host": self.names[host], "stream": "stdout" if stream == 1 else "stderr", "line": text})

    def host_done(self, host: int, result: HostResult) -> None:
        for stream in (1, 2):
            rest = self.partial.pop((host, stream), b"")
            if rest:
                self._line(host, stream, rest)
        self._emit(
            {"host": result.name, "status": result.status, "class": result.kind or "ok", "message": result.message}
        )


def make_sink(mode: str, names: list[str], stdout_fd: int, stderr_fd: int) -> Sink:
    if mode == "gather":
        return Gathered(names, stdout_fd, stderr_fd)
    if mode == "json":
        return JsonLines(names, stdout_fd, stderr_fd)
    if mode == "prefix":
        return Lines(names, stdout_fd, stderr_fd, prefix=True)
    if mode == "plain":
        return Lines(names, stdout_fd, stderr_fd, prefix=False)
    if len(names) == 1:
        return PassThrough(names, stdout_fd, stderr_fd)
    return Lines(names, stdout_fd, stderr_fd, prefix=os.isatty(stdout_fd))


def summary(results: list[HostResult]) -> str | None:
    """`3 of 20 hosts failed: web[07-08] refused (2) · web12 exit 1 (1)`, or None."""
    from fmsh.remote.nodeset import fold

    failed = [r for r in results if r.kind is not None]
    if not failed:
        return None
    by_class: dict[str, list[str]] = {}
    for r in failed:
        label = f"{r.kind} {r.status}" if r.kind == failures.EXIT else r.kind
        by_class.setdefault(label or "", []).append(r.name)
    parts = [f"{fold(names)} {label} ({len(names)})" for label, names in by_class.items()]
    return f"{len(failed)} of {len(results)} hosts failed: " + " · ".join(parts)
