"""What can go wrong with the journal or with a task in it, said so that a user knows what
to do next. Every one is a ShellError: printed as `fmsh: message`, never a traceback."""

from __future__ import annotations

from fmsh.runtime.errors import ShellError

# The exit status of a shell stopped because its journal or its task could not go on
# (EX_TEMPFAIL: try again later, e.g. `resume` it).
JOURNAL_STATUS = 75


class JournalError(ShellError):
    """The journal cannot be used: the message names the file and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=JOURNAL_STATUS, fatal=True)


class JournalLocked(JournalError):
    pass


class JournalDamaged(JournalError):
    pass


class JournalFull(JournalError):
    """SQLITE_FULL: the journal's filesystem has no room for the next write."""


class TaskNotFound(ShellError):
    def __init__(self, spec: str, path: str) -> None:
        super().__init__(f"no task {spec} in the journal {path} (`fmsh --tasks -a` lists them)", status=1)


class TaskRefused(ShellError):
    """A task cannot be resumed, cancelled or forgotten in the state it is in."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=1)


class TaskStopped(ShellError):
    """The task this shell runs can go no further: its lease was taken over, it was
    cancelled, or its journal failed. Fatal: the shell ends before its next step."""

    def __init__(self, message: str, status: int = JOURNAL_STATUS) -> None:
        super().__init__(message, status=status, fatal=True)
