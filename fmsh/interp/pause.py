"""A pause in the shell itself (between an await's tries, between a retry's attempts):
cut in short slices so that it notices, as `sleep` would, a Ctrl-C for a trap, a task that
can go no further, and a `timeout` around it that passed."""

from __future__ import annotations

import time

from fmsh.runtime import signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell

OUTER_DEADLINE = -1  # an enclosing `timeout` passed: unwind to it
_SLICE = 0.1


def pause(sh: Shell, seconds: float) -> int | None:
    """None when the time has passed; 130 for a Ctrl-C that a trap takes (an untrapped
    one raises Interrupted, as anywhere in the shell); OUTER_DEADLINE. Raises TaskStopped
    when the task running it lost its lease or was cancelled."""
    end = time.monotonic() + seconds
    while True:
        task = sh.task
        if task is not None and task.stop_reason is not None:
            from fmsh.journal.errors import TaskStopped

            raise TaskStopped(task.stop_reason)
        if signals.SIGINT in signals.state.pending:
            return 130  # a trapped SIGINT ends the pause, as it ends sleep(1)
        deadlines = sh.deadlines
        if deadlines is not None and deadlines.any_expired:
            return OUTER_DEADLINE
        left = end - time.monotonic()
        if left <= 0:
            return None
        outer = deadlines.remaining() if deadlines is not None else None
        # (not 0 when an enclosing deadline is due: its timer thread is about to say so)
        time.sleep(max(0.005, min(left, _SLICE, outer if outer is not None else _SLICE)))
