"""The interactive loop. For now a plain line reader (the full prompt is a later piece):
a prompt on standard error, lines read until the input parses, then run."""

from __future__ import annotations

import os

from fmsh.interp.shell import Shell, write_fd
from fmsh.runtime.errors import ExitShell, Interrupted, ShellError
from fmsh.syntax.errors import IncompleteInput, ParseError


def rc_path(shell: Shell) -> str:
    config = shell.vars.get("XDG_CONFIG_HOME") or os.path.join(shell.vars.get("HOME") or "~", ".config")
    return os.path.join(config, "fmsh", "rc")


def run_repl(shell: Shell, norc: bool = False) -> int:
    if not norc:
        path = rc_path(shell)
        if os.path.isfile(path):
            _run(shell, lambda: shell.source_file(path, None))
    pending = ""
    while True:
        try:
            write_fd(2, shell.vars.get("PS1") or "$ " if not pending else shell.vars.get("PS2") or "> ")
            line = _read_line(0)
        except Interrupted:
            write_fd(2, "\n")
            pending = ""
            continue
        if line is None:
            break
        pending += line
        try:
            program = shell.parse(pending, "stdin")
        except IncompleteInput:
            continue
        except ParseError as e:
            write_fd(2, "fmsh: " + e.render() + "\n")
            shell.last_status = 2
            pending = ""
            continue
        text, pending = pending, ""
        status = _run(shell, lambda program=program, text=text: shell.run_line(program, text))  # type: ignore[misc]
        if status is None:
            break
    return shell.finish(shell.last_status)


def _run(shell: Shell, action) -> int | None:  # type: ignore[no-untyped-def]
    """Run one line; None when it asked the shell to exit."""
    try:
        return action()
    except ExitShell as e:
        shell.last_status = e.status
        return None
    except Interrupted:
        write_fd(2, "\n")
        shell.last_status = 130
    except ShellError as e:
        shell.report(e.message)
        shell.last_status = e.status
    return shell.last_status


def _read_line(fd: int) -> str | None:
    """One line: a terminal in canonical mode hands over a line per read; from anything
    else, read a byte at a time so that nothing after the line is taken."""
    size = 4096 if os.isatty(fd) else 1
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = os.read(fd, size)
        if not chunk:
            if not data:
                return None
            break
        data += chunk
    return data.decode("utf-8", "surrogateescape")
