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

Memory stays bounded whatever a host prints: a line longer than LINE_MAX is split into
pieces of that length (every byte is kept; a newline ends each piece, as journald does;
JSON marks the pieces with "partial": true, as Docker's log does), and gather keeps at most
GATHER_MAX bytes of each host's output, then says how many more there were.
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
LINE_MAX = 64 << 10  # the longest line held back whole (bytes); longer ones are split
GATHER_MAX = 1 << 20  # what gather keeps of each host's standard output (bytes)


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


def _cut_at(line: bytes | bytearray) -> int:
    """Where to cut a line that is too long: at LINE_MAX, or up to 3 bytes before it so
    that a UTF-8 character stays whole (its continuation bytes are 10xxxxxx)."""
    cut = LINE_MAX
    while cut > LINE_MAX - 3 and line[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


class _LineBuffer:
    """A stream's bytes cut into whole lines, each at most LINE_MAX bytes long: what is left
    of a line waits for its end, and a line that grows past LINE_MAX gives up a piece."""

    __slots__ = ("rest",)

    def __init__(self) -> None:
        self.rest = bytearray()

    def lines(self, chunk: bytes) -> list[tuple[bytes, bool]]:
        """(line without its newline, whether it is a piece of a longer line) for each
        line that `chunk` completes."""
        rest = self.rest
        rest += chunk
        found: list[tuple[bytes, bool]] = []
        end = rest.rfind(b"\n")
        if end != -1:
            complete = bytes(rest[:end])
            del rest[: end + 1]
            for line in complete.split(b"\n"):
                # A line that came in one chunk may be long too.
                while len(line) > LINE_MAX:
                    cut = _cut_at(line)
                    found.append((line[:cut], True))
                    line = line[cut:]
                found.append((line, False))
        # Strictly longer: a line of exactly LINE_MAX bytes may still get its newline.
        while len(rest) > LINE_MAX:
            cut = _cut_at(rest)
            found.append((bytes(rest[:cut]), True))
            del rest[:cut]
        return found

    def flush(self) -> bytes:
        """What is left (a last line without a newline)."""
        rest, self.rest = bytes(self.rest), bytearray()
        return rest


class Lines(Sink):
    """Whole lines only, so that hosts never interleave within a line; an optional prefix."""

    def __init__(self, names: list[str], stdout_fd: int, stderr_fd: int, prefix: bool) -> None:
        super().__init__(names, stdout_fd, stderr_fd)
        self.prefixes = [f"{name}: ".encode() if prefix else b"" for name in names]
        self.partial: dict[tuple[int, int], _LineBuffer] = {}

    def data(self, host: int, stream: int, chunk: bytes) -> None:
        buffer = self.partial.get((host, stream))
        if buffer is None:
            buffer = self.partial[(host, stream)] = _LineBuffer()
        self._write(host, stream, [line for line, _ in buffer.lines(chunk)])

    def _write(self, host: int, stream: int, lines: list[bytes]) -> None:
        if not lines:
            return
        prefix = self.prefixes[host]
        text = b"".join(prefix + line + b"\n" for line in lines)
        with self.lock:
            self.progress.clear()
            write_all(self._fd(stream), text)
            self.progress.draw()

    def host_done(self, host: int, result: HostResult) -> None:
        for stream in (1, 2):
            buffer = self.partial.pop((host, stream), None)
            rest = buffer.flush() if buffer is not None else b""
            if rest:
                self._write(host, stream, [rest])
        super().host_done(host, result)


class Gathered(Sink):
    """Every host's standard output at the end (its first GATHER_MAX bytes); hosts with the
    same output share one block. Standard error goes out live, prefixed."""

    def __init__(self, names: list[str], stdout_fd: int, stderr_fd: int) -> None:
        super().__init__(names, stdout_fd, stderr_fd)
        self.outputs: dict[int, bytearray] = {}
        self.dropped: dict[int, int] = {}  # bytes past GATHER_MAX, by host
        self.errors = Lines(names, stdout_fd, stderr_fd, prefix=True)
        self.errors.progress = self.progress

    def data(self, host: int, stream: int, chunk: bytes) -> None:
        if stream == 2:
            self.errors.data(host, stream, chunk)
            return
        kept = self.outputs.setdefault(host, bytearray())
        room = GATHER_MAX - len(kept)
        if room > 0:
            kept += chunk[:room]
        if len(chunk) > room:
            self.dropped[host] = self.dropped.get(host, 0) + len(chunk) - max(room, 0)

    def host_done(self, host: int, result: HostResult) -> None:
        self.errors.host_done(host, result)

    def finish(self, results: list[HostResult]) -> None:
        super().finish(results)
        from fmsh.remote.nodeset import fold

        groups: dict[tuple[bytes, int], list[str]] = {}
        for host, name in enumerate(self.names):
            output = bytes(self.outputs.get(host, b""))
            if output:
                groups.setdefault((output, self.dropped.get(host, 0)), []).append(name)
        for (output, dropped), names in groups.items():
            header = f"{fold(names)} ({len(names)})"
            rule = "-" * max(15, len(header))
            block = f"{rule}\n{header}\n{rule}\n".encode() + output + (b"" if output.endswith(b"\n") else b"\n")
            if dropped:
                note = f"[... {dropped} more bytes not shown: gather keeps the first {GATHER_MAX} of each host]"
                block += note.encode() + b"\n"
            write_all(self.stdout_fd, block)


class JsonLines(Sink):
    def __init__(self, names: list[str], stdout_fd: int, stderr_fd: int) -> None:
        super().__init__(names, stdout_fd, stderr_fd)
        self.partial: dict[tuple[int, int], _LineBuffer] = {}

    def _emit(self, record: dict[str, object]) -> None:
        with self.lock:
            write_all(self.stdout_fd, (json.dumps(record, ensure_ascii=False) + "\n").encode())

    def data(self, host: int, stream: int, chunk: bytes) -> None:
        buffer = self.partial.get((host, stream))
        if buffer is None:
            buffer = self.partial[(host, stream)] = _LineBuffer()
        for line, piece in buffer.lines(chunk):
            self._line(host, stream, line, piece)

    def _line(self, host: int, stream: int, line: bytes, piece: bool = False) -> None:
        text = line.decode("utf-8", "replace")
        record: dict[str, object] = {"host": self.names[host], "stream": "stdout" if stream == 1 else "stderr"}
        record["line"] = text
        if piece:
            record["partial"] = True  # the line goes on in the next record
        self._emit(record)

    def host_done(self, host: int, result: HostResult) -> None:
        for stream in (1, 2):
            buffer = self.partial.pop((host, stream), None)
            rest = buffer.flush() if buffer is not None else b""
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
