"""`check [--json] FILE...`: check scripts for boundedness without running them (the same
report and statuses as `fmsh --check`, fmsh/check/command.py)."""

from __future__ import annotations

from fmsh.builtins.base import Builtin


class Check(Builtin):
    """What in each FILE may run for ever (FILE:LINE:COL) and its worst-case duration.
    Status 0 bounded, 1 unbounded, 2 usage or syntax error or unreadable file. The
    default timeouts are this shell's (FMSH_STEP_TIMEOUT... then the config file)."""

    name = "check"

    def is_step(self, argv: list) -> bool:
        return True  # its output is an effect, and the files may change between runs

    def run(self, argv: list[str]) -> int:
        from fmsh.check.command import run

        # In-process: the shell's variables, cwd and redirections apply.
        return run(argv[1:], self.sh.vars.get, self.write, lambda text: self.write(text, 2))
