"""Deadlines: `timeout DUR` around a block or pipeline, and a task's own deadline.

A deadline in force makes the shell start its processes in process groups of their own,
so that when it passes, the whole group gets the signal (TERM by default), then KILL after
the grace (`-k`), as coreutils' timeout does it. A timer thread does the signalling; the
shell itself notices at its next command and unwinds to the `timeout` that set the
deadline (DeadlineExpired), which gives status 124. Remote stages are given the time that
is left; waits (`sleep`, `await`) look at it as they wait.
"""

from __future__ import annotations

import os
import threading
import time

from fmsh.runtime.errors import ControlFlow

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class DeadlineExpired(ControlFlow):
    """Unwinds the commands under a deadline that has passed, up to its `timeout`."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self.deadline = deadline


class Deadline:
    def __init__(
        self,
        seconds: float,
        signal: int,
        kill_after: float | None,
        foreground: bool = False,
        label: str = "timeout",
    ) -> None:
        self.at = time.monotonic() + seconds
        self.seconds = seconds
        self.signal = signal
        self.kill_after = kill_after
        self.foreground = foreground  # signal the commands themselves, not their groups
        self.label = label
        self.expired = False
        self.killed = False  # KILL was needed
        self.groups: set[int] = set()
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def start(self, on_expiry: Callable[[Deadline], None]) -> None:
        self._timer = threading.Timer(max(0.0, self.remaining()), on_expiry, (self,))
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def send(self, signal: int) -> bool:
        """Signal the processes under this deadline; whether any was still there."""
        alive = False
        for target in list(self.groups):
            try:
                if self.foreground:
                    os.kill(target, signal)
                else:
                    os.killpg(target, signal)
                alive = True
            except OSError:
                self.groups.discard(target)
        return alive


class Deadlines:
    """The deadlines in force, outermost first."""

    def __init__(self) -> None:
        self.stack: list[Deadline] = []
        self.any_expired = False  # read on every command: a plain flag, set by the timers

    def push(self, deadline: Deadline) -> None:
        self.stack.append(deadline)
        deadline.start(self._expire)
        if deadline.remaining() <= 0:
            self._expire(deadline)

    def pop(self, deadline: Deadline) -> None:
        deadline.cancel()
        self.stack.remove(deadline)
        self.any_expired = any(d.expired for d in self.stack)

    def _expire(self, deadline: Deadline) -> None:
        """In the timer thread: the deadline passed."""
        if deadline not in self.stack or deadline.expired:
            return
        deadline.expired = True
        self.any_expired = True
        if deadline.send(deadline.signal) and deadline.kill_after is not None:
            killer = threading.Timer(deadline.kill_after, self._kill, (deadline,))
            killer.daemon = True
            killer.start()

    @staticmethod
    def _kill(deadline: Deadline) -> None:
        import signal as _signal

        if deadline.send(_signal.SIGKILL):
            deadline.killed = True

    def check(self) -> None:
        """Between commands: unwind to the outermost deadline that has passed."""
        for deadline in self.stack:
            if deadline.expired:
                raise DeadlineExpired(deadline)

    def remaining(self) -> float | None:
        """Seconds until the nearest deadline, or None."""
        if not self.stack:
            return None
        return min(d.remaining() for d in self.stack)

    @property
    def grouping(self) -> bool:
        """Whether new processes go into groups of their own (to be signalled as groups)."""
        return any(not d.foreground for d in self.stack)

    def track(self, target: int) -> None:
        """A process group (or, for --foreground, a process) started under the deadlines;
        if one has already passed, it is signalled at once."""
        from fmsh.runtime import signals

        if self.grouping:
            signals.state.groups.add(target)
        for deadline in self.stack:
            deadline.groups.add(target)
            if deadline.expired:
                deadline.send(deadline.signal)

    def untrack(self, target: int) -> None:
        from fmsh.runtime import signals

        signals.state.groups.discard(target)
        for deadline in self.stack:
            deadline.groups.discard(target)
