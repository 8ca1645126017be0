"""The base of builtin commands: one small class per builtin, `run(argv)` its entry point."""

from __future__ import annotations

import os

from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell


class UsageError(ShellError):
    """Bad options or arguments: status 2, as bash gives."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=2)


class Builtin:
    """A builtin command. Instances live as long as their shell."""

    name = ""

    def __init__(self, shell: Shell) -> None:
        self.sh = shell

    def run(self, argv: list[str]) -> int:
        raise NotImplementedError

    def is_step(self, argv: list) -> bool:
        """Whether, in a task, this call is a journaled step (its effect is outside the
        shell, like echo's output) rather than a change to the shell that must run again
        when the task is resumed."""
        return False

    # --- helpers ------------------------------------------------------------------------

    def write(self, text: str, fd: int = 1) -> None:
        """Write to a descriptor; a closed or broken one is the builtin's error."""
        data = text.encode("utf-8", "surrogateescape")
        try:
            while data:
                data = data[os.write(fd, data) :]
        except BrokenPipeError:
            raise
        except OSError as e:
            raise ShellError(f"write error: {e.strerror}") from None

    def warn(self, message: str) -> None:
        """`fmsh: NAME: message` on standard error, without failing."""
        self.sh.report(f"{self.name}: {message}")


def parse_flags(argv: list[str], allowed: str, with_value: str = "") -> tuple[dict[str, str | bool], list[str]]:
    """Short options `-abc`, `-v VALUE`, `+x` (value False) and `--`. Returns (flags, operands).

    Parsing stops at the first operand, as POSIX utilities do.
    """
    flags: dict[str, str | bool] = {}
    i = 1
    while i < len(argv):
        arg = argv[i]
        if not isinstance(arg, str):
            break  # an array literal operand of declare & co
        if arg == "--":
            i += 1
            break
        if len(arg) < 2 or arg[0] not in "-+" or (arg[0] == "+" and "+" not in allowed):
            break
        on = arg[0] == "-"
        j = 1
        while j < len(arg):
            letter = arg[j]
            if letter in with_value and on:
                value = arg[j + 1 :]
                if not value:
                    i += 1
                    if i >= len(argv):
                        raise UsageError(f"-{letter}: option requires an argument")
                    value = argv[i]
                flags[letter] = value
                break
            if letter not in allowed or letter == "+":
                raise UsageError(f"{arg[0]}{letter}: invalid option")
            flags[letter] = on
            j += 1
        i += 1
    return flags, argv[i:]
