"""A command's own peak memory, as `/usr/bin/time -f %M` would report it.

Not wait4 on a child of pytest: Linux keeps a process's RSS high-water mark across
execve, and a child that Python spawns (vfork, or fork) starts from pytest's, which is
hundreds of MiB late in a full run. So the command is started by a small trampoline
process that forks it and reports the child's ru_maxrss on a pipe.
"""

from __future__ import annotations

import os
import subprocess
import sys

_TRAMPOLINE = """import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
os.write(int(os.environ["PEAK_FD"]), str(usage.ru_maxrss).encode())
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


class Measured:
    """A started command whose peak resident size (bytes) `peak()` gives once it ended."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, **popen: object) -> None:
        self._read, write = os.pipe()
        full = dict(env if env is not None else os.environ) | {"PEAK_FD": str(write)}
        self.proc = subprocess.Popen(  # type: ignore[call-overload]
            [sys.executable, "-c", _TRAMPOLINE, *argv], env=full, pass_fds=(write,), **popen
        )
        os.close(write)

    def peak(self) -> int:
        """Waits for the command; its peak RSS in bytes."""
        self.proc.wait()
        try:
            return int(os.read(self._read, 64) or b"0") * 1024
        finally:
            os.close(self._read)
