"""The reading end of a command substitution, `$(…)`, with a limit on what it keeps.

bash keeps whatever a substitution prints; an ops shell that captures `$(@db1 cat dump)`
must not run out of memory on a 1 GB answer. Past the limit (FMSH_CAPTURE_MAX, 64M unless
set; 0 for none) the pipe is closed, so the writer dies of SIGPIPE as it would writing to
`head`, and the substitution is an expansion error instead of a value silently cut short.
"""

from __future__ import annotations

import os

from fmsh.runtime.errors import ExpansionError

CAPTURE_MAX = 64 << 20


class Capture:
    """Reads a pipe to its end (or to the limit) and gives the text, as `$(…)` does."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd: int | None = fd
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.over = False

    def read(self) -> None:
        fd = self.fd
        assert fd is not None
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            self.size += len(chunk)
            if self.limit and self.size > self.limit:
                self.over = True
                self.chunks.clear()
                self.close()
                return
            self.chunks.append(chunk)

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def text(self) -> str:
        """The output, NUL bytes dropped (as bash does) and trailing newlines removed."""
        if self.over:
            raise ExpansionError(
                f"$(…) printed more than {_size(self.limit)} (FMSH_CAPTURE_MAX): "
                "redirect its output to a file, or raise the limit"
            )
        data = b"".join(self.chunks)
        if b"\0" in data:
            data = data.replace(b"\0", b"")
        return data.decode("utf-8", "surrogateescape").rstrip("\n")


def _size(n: int) -> str:
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return f"{n} bytes"
