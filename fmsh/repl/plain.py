"""The plain line reader, for an interactive shell whose input or output is not a terminal
(`fmsh -i` reading a pipe): the prompt on standard error, lines read until the input
parses, then run."""

from __future__ import annotations

import os

from fmsh.interp.shell import Shell, write_fd
from fmsh.repl.runner import contained, source_rc
from fmsh.runtime.errors import Interrupted
from fmsh.syntax.errors import IncompleteInput, ParseError


def run_plain(shell: Shell, norc: bool = False) -> int:
    if not norc and not source_rc(shell):
        return shell.finish(shell.last_status)
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
        if contained(shell, lambda program=program, text=text: shell.run_line(program, text)) is None:  # type: ignore[misc]
            break
    return shell.finish(shell.last_status)


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
