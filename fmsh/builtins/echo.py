"""`echo`."""

from __future__ import annotations

from fmsh.builtins.base import Builtin
from fmsh.syntax.escapes import decode_echo


class Echo(Builtin):
    """`echo [-neE] ARGS`: bash's echo (no escapes unless -e)."""

    name = "echo"

    def is_step(self, argv: list) -> bool:
        return True

    def run(self, argv: list[str]) -> int:
        newline = True
        escapes = self.sh.options.shopt["xpg_echo"]
        i = 1
        while i < len(argv):
            arg = argv[i]
            if len(arg) < 2 or arg[0] != "-" or any(c not in "neE" for c in arg[1:]):
                break
            for c in arg[1:]:
                if c == "n":
                    newline = False
                elif c == "e":
                    escapes = True
                else:
                    escapes = False
            i += 1
        text = " ".join(argv[i:])
        if escapes:
            text, stopped = decode_echo(text)
            if stopped:
                newline = False
        self.write(text + "\n" if newline else text)
        return 0
