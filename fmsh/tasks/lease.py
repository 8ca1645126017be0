"""The lease on a running task, kept alive by a heartbeat thread.

Every third of the lease (at most every 2 s) the thread extends it (FMSH_LEASE seconds,
30 by default). When
the extension is refused — the task was taken over, cancelled or forgotten — the thread
tells the task (`on_lost`), which stops the shell before its next step; the journal's
epoch fencing refuses the old owner's writes in any case.
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fmsh.journal.base import Journal

DEFAULT_LEASE = 30.0


def lease_seconds(value: str | None) -> float:
    from fmsh.runtime.errors import ShellError

    if not value:
        return DEFAULT_LEASE
    try:
        seconds = float(value)
    except ValueError:
        raise ShellError(f"FMSH_LEASE={value}: not a number of seconds") from None
    if seconds < 1:
        raise ShellError(f"FMSH_LEASE={value}: must be 1 second or more")
    return seconds


class Heartbeat:
    def __init__(
        self, journal: Journal, task_id: int, epoch: int, lease: float, on_lost: Callable[[str], None]
    ) -> None:
        self.journal = journal
        self.task_id = task_id
        self.epoch = epoch
        self.lease = lease
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="fmsh-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        from fmsh.runtime.errors import ShellError

        # Often enough that a `cancel` or a takeover is noticed within seconds.
        interval = min(self.lease / 3, 2.0)
        while not self._stop.wait(interval):
            try:
                reason = self.journal.renew_lease(self.task_id, self.epoch, self.lease)
            except ShellError:
                continue  # a locked journal: try again at the next beat, before the lease runs out
            except Exception:  # noqa: BLE001 - the journal was closed under us: the shell is ending
                return
            if reason is not None and not self._stop.is_set():
                self.on_lost(reason)
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(2.0)
