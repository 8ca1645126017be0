"""What a step gave (a small module: the interpreter imports it at start-up)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.journal.records import HostRecord


class StepResult:
    """What a step gave: its status, a pipeline's statuses, a capture's output, a
    background job's pid, the hosts of a replayed remote step."""

    __slots__ = ("exit_status", "pipestatus", "output", "pid", "hosts", "replayed")

    def __init__(
        self,
        exit_status: int,
        pipestatus: list[int] | None = None,
        output: str | None = None,
        pid: int | None = None,
    ) -> None:
        self.exit_status = exit_status
        self.pipestatus = pipestatus
        self.output = output
        self.pid = pid
        self.hosts: list[HostRecord] = []
        self.replayed = False
