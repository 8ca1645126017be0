"""Exceptions that carry control flow and errors through the evaluators.

Control flow (break, continue, return, exit) unwinds the Python stack to the construct
that handles it. `ShellError` is an error the user caused; it is printed as
`fmsh: message` and never as a traceback.
"""

from __future__ import annotations


class ControlFlow(Exception):
    """Base of break/continue/return/exit."""


class LoopControl(ControlFlow):
    """`break N` / `continue N`: `levels` loops to leave."""

    def __init__(self, levels: int, is_break: bool) -> None:
        super().__init__()
        self.levels = levels
        self.is_break = is_break


class ReturnFromFunction(ControlFlow):
    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status


class ExitShell(ControlFlow):
    """`exit N`, a fatal error in a script, or `set -e` tripping."""

    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status


class ShellError(Exception):
    """An error in what the user asked for.

    `status` is the exit status it gives; `fatal` errors end a non-interactive shell
    (expansion errors, as in bash), others only fail the command.
    """

    def __init__(self, message: str, status: int = 1, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.fatal = fatal


class ExpansionError(ShellError):
    """A word could not be expanded (bad substitution, unbound variable, ${x?}):
    fatal in a script, aborts the line at a prompt."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message, status, fatal=True)


class Interrupted(Exception):
    """SIGINT reached the shell (or its foreground job died of it): unwind, status 130."""


def internal_error_line(error: BaseException) -> str:
    """A bug in fmsh, said in one line with where it happened (never a traceback: with
    FMSH_DEBUG=1 in the environment, the traceback is written first)."""
    import os

    if os.environ.get("FMSH_DEBUG"):
        import traceback

        os.write(2, "".join(traceback.format_exception(error)).encode("utf-8", "replace"))
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}" if tb else ""
    return f"internal error: {type(error).__name__}: {error}{where} (please report it)"
