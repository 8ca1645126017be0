"""`secret [-x] [NAME[=VALUE]...]`, `secret [-p]`: variables whose values fmsh never writes down.

A secret's value is replaced by `***` in the journal (and so in `trace`, `log` and the
replica), in `set -x` output and in the history (fmsh/runtime/secrets.py). NAME without
a value and not set is read: at a terminal without echo after the prompt `NAME: `,
otherwise as one line of standard input (`secret DB_PASSWORD < /run/secrets/db`).
It is not a step of a task: on resume it runs again, and reads its value again.
"""

from __future__ import annotations

import os

from fmsh.builtins.base import Builtin, UsageError, parse_flags
from fmsh.runtime import secrets
from fmsh.runtime.errors import ShellError
from fmsh.syntax.word_parser import is_name


class Secret(Builtin):
    name = "secret"

    def run(self, argv: list) -> int:
        flags, operands = parse_flags(argv, "px")
        if flags.get("p") or not operands:
            self._list()
            return 0
        status = 0
        for operand in operands:
            if not isinstance(operand, str):
                raise UsageError("an array cannot be a secret")
            name, equals, value = operand.partition("=")
            if not is_name(name):
                self.warn(f"`{operand}': not a valid identifier")
                status = 1
                continue
            if not equals:
                current = self.sh.vars.get(name)
                if current is None:
                    read = self._read_value(name)
                    if read is None:
                        self.warn(f"{name}: no value on standard input (end of input)")
                        status = 1
                        continue
                    current = read
                value = current
            elif self._in_task_source(value):
                self.warn(
                    f"{name}: the value is written in the task's script, and the journal keeps the script's text; "
                    f"read it instead (`secret {name} < FILE`, or from the environment)"
                )
            cell = self.sh.vars.cell(name)
            if cell is not None and cell.readonly and (equals or self.sh.vars.get(name) is None):
                raise ShellError(f"{name}: readonly variable")
            # Marked before it is set: nothing can write the value down in between.
            secrets.mark(name, value)
            if self.sh.vars.get(name) != value:
                self.sh.vars.set(name, value)
            if flags.get("x"):
                self.sh.vars.export(name)
            if 0 < len(value) < secrets.MIN_LENGTH:
                self.warn(f"{name}: shorter than {secrets.MIN_LENGTH} characters, its value is not masked")
        return status

    def _list(self) -> None:
        shown = [name for name in secrets.names() if self.sh.vars.get(name) is not None]
        self.write("".join(f"secret {name}\n" for name in shown))

    def _read_value(self, name: str) -> str | None:
        """One line from standard input: typed without echo at a terminal."""
        from fmsh.builtins.read import Read, _ByteReader, _no_echo

        terminal = os.isatty(0)
        if terminal:
            self.write(f"{name}: ", 2)
        reader = _ByteReader(0, None)
        try:
            with _no_echo(0 if terminal else -1):
                chars, outcome = Read._read_chars(reader, "\n", True, -1, False)
        finally:
            reader.finish()
        if terminal:
            self.write("\n", 2)  # the newline the user typed was not echoed
        text = "".join(c for c, _ in chars)
        if outcome == "eof" and not text:
            return None
        return text.removesuffix("\r")

    def _in_task_source(self, value: str) -> bool:
        task = self.sh.task
        source = task.task.source if task is not None else None
        return bool(value) and bool(source) and value in str(source)
