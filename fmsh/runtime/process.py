"""Processes: finding commands on PATH, spawning them, forking subshells, waiting.

External commands started by the shell itself go through posix_spawn (no copy of the
Python process); pipeline stages, subshells and command substitutions fork, because
their commands run in a copy of the shell, as bash does.
"""

from __future__ import annotations

import os
import stat

from fmsh.runtime import signals

# Python ignores these at start-up; a spawned program must get the defaults back.
_RESET_SIGNALS = (signals.SIGPIPE, signals.SIGXFSZ)


def find_executable(name: str, path: str | None) -> str | None:
    """The first executable regular file called `name` in the PATH directories."""
    for directory in (path if path is not None else "/usr/bin:/bin").split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except (OSError, ValueError):  # ValueError: a NUL in the name
            continue
        if stat.S_ISREG(st.st_mode) and os.access(candidate, os.X_OK):
            return candidate
    return None


class CommandHash:
    """bash's `hash`: remembered PATH lookups, forgotten when PATH changes."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}
        self.hits: dict[str, int] = {}

    def find(self, name: str, path: str | None) -> str | None:
        found = self.paths.get(name)
        if found is not None:
            # Like bash, a remembered path is trusted until `hash -r` or a PATH change.
            self.hits[name] += 1
            return found
        found = find_executable(name, path)
        if found is not None:
            self.paths[name] = found
            self.hits[name] = 1
        return found

    def clear(self) -> None:
        self.paths.clear()
        self.hits.clear()


def reset_signals_for_exec(job: bool = False) -> tuple[int, ...]:
    """Signals to put back to their defaults in a spawned program. `job`: it is a job of
    a shell with job control, which gets the stop signals back too."""
    reset = tuple(s for s in _RESET_SIGNALS if signals.get_handler(s) == signals.SIG_IGN)
    return reset + signals.STOP_SIGNALS if job else reset


def spawn(path: str, argv: list[str], env: dict[str, str], sigdef: tuple[int, ...], own_group: bool = False) -> int:
    """Start `path` with the shell's current descriptors (in a process group of its own
    if asked: a deadline signals groups); raises OSError on failure."""
    if own_group:
        return os.posix_spawn(path, argv, env, setsigdef=sigdef, setpgroup=0)
    return os.posix_spawn(path, argv, env, setsigdef=sigdef)


def status_of(raw: int) -> int:
    """A wait status as the shell shows it: the exit code, or 128 + the signal."""
    if os.WIFSIGNALED(raw):
        return 128 + os.WTERMSIG(raw)
    if os.WIFEXITED(raw):
        return os.WEXITSTATUS(raw)
    if os.WIFSTOPPED(raw):
        return 128 + os.WSTOPSIG(raw)
    return raw


def wait_for(pid: int) -> int:
    """Wait for one child and return its shell status."""
    while True:
        try:
            _, raw = os.waitpid(pid, 0)
            return status_of(raw)
        except ChildProcessError:
            return 127
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
