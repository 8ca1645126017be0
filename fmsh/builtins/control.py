"""Builtins of control flow and command execution: `:` `true` `false` `break`
`continue` `return` `exit` `eval` `source` `exec` `command` `builtin` `let`."""

from __future__ import annotations

import os

from fmsh.builtins.base import Builtin, UsageError, parse_flags
from fmsh.runtime.errors import (
    ExitShell,
    ExpansionError,
    LoopControl,
    ReturnFromFunction,
    ShellError,
)


def _status_arg(builtin: Builtin, text: str) -> int:
    """The operand of exit/return: a 32-bit integer, truncated to 0..255."""
    body = text.strip()
    if not body:
        return 0
    digits = body[1:] if body[:1] in "+-" else body
    if not digits.isdigit():
        raise ShellError(f"{text}: numeric argument required", status=2)
    value = int(body)
    if not -(2**31) <= value < 2**31:
        raise ShellError(f"{text}: expected a small integer")
    return value & 0xFF


class Colon(Builtin):
    """`:` and `true`: do nothing, successfully."""

    name = "true"

    def run(self, argv: list[str]) -> int:
        return 0


class FalseBuiltin(Builtin):
    name = "false"

    def run(self, argv: list[str]) -> int:
        return 1


class _LoopControl(Builtin):
    is_break = True

    def run(self, argv: list[str]) -> int:
        levels = 1
        if len(argv) > 2:
            raise ShellError("too many arguments")
        if len(argv) == 2:
            # A bad count is fatal, as for every POSIX special builtin.
            if not argv[1].lstrip("-").isdigit():
                raise ShellError(f"{argv[1]}: numeric argument required", fatal=True)
            levels = int(argv[1])
            if levels < 1:
                raise ShellError(f"{levels}: loop count out of range", fatal=True)
        depth = self.sh.cmd.loop_depth
        if depth == 0:
            self.warn("only meaningful in a `for', `while', or `until' loop")
            return 0
        raise LoopControl(min(levels, depth), self.is_break)


class Break(_LoopControl):
    name = "break"


class Continue(_LoopControl):
    name = "continue"
    is_break = False


class Return(Builtin):
    name = "return"

    def run(self, argv: list[str]) -> int:
        sh = self.sh
        # Outside a function, `return` leaves the script (or the -c string, or the
        # subshell) as a sourced script's return would.
        status = sh.last_status if len(argv) < 2 else _status_arg(self, argv[1])
        raise ReturnFromFunction(status)


class Exit(Builtin):
    name = "exit"

    def run(self, argv: list[str]) -> int:
        if len(argv) > 2:
            self.warn("too many arguments")
            raise ExitShell(1)
        try:
            status = self.sh.last_status if len(argv) < 2 else _status_arg(self, argv[1])
        except ShellError as e:
            # exit leaves even with a bad number, as bash does.
            self.warn(e.message)
            raise ExitShell(e.status) from None
        jc = self.sh.jobctl
        if jc is not None and self.sh.job_control and jc.stopped_jobs_block_exit(self.sh):
            self.sh.report("There are stopped jobs.")  # as bash: the next `exit` leaves
            return 1
        raise ExitShell(status)


class Eval(Builtin):
    name = "eval"

    def run(self, argv: list[str]) -> int:
        args = argv[1:]
        if args and args[0] == "--":
            args = args[1:]
        if not args:
            return 0
        return self.sh.eval_text(" ".join(args))


class Source(Builtin):
    """`source FILE [ARGS]` and `. FILE [ARGS]`: run a file in this shell."""

    name = "source"

    def run(self, argv: list[str]) -> int:
        args = argv[1:]
        if args and args[0] == "--":
            args = args[1:]
        if not args:
            raise UsageError("filename argument required")
        path = self._find(args[0])
        return self.sh.source_file(path, args[1:] if len(args) > 1 else None)

    def _find(self, name: str) -> str:
        if "/" in name:
            return name
        if self.sh.options.shopt["sourcepath"]:
            for directory in (self.sh.vars.get("PATH") or "").split(":"):
                candidate = os.path.join(directory or ".", name)
                if os.path.isfile(candidate):
                    return candidate
        return name


class Exec(Builtin):
    """`exec CMD ARGS`: replace the shell. (`exec` with only redirections is handled by
    the simple-command runner, which makes them permanent.)"""

    name = "exec"

    def run(self, argv: list[str]) -> int:
        flags, args = parse_flags(argv, "cl", with_value="a")
        if not args:
            return 0
        runner = self.sh.cmd.simple
        path = runner.resolve(args[0])
        if path is None:
            self.sh.report(f"{args[0]}: not found")
            raise ExitShell(127)
        env = {} if flags.get("c") else self.sh.vars.environ()
        program_argv = list(args)
        if isinstance(flags.get("a"), str):
            program_argv[0] = flags["a"]  # type: ignore[assignment]
        status = runner.exec_program(path, program_argv, env)
        raise ExitShell(status)


class Command(Builtin):
    """`command [-pvV] NAME ARGS`: run NAME skipping functions, or describe it."""

    name = "command"

    def run(self, argv: list[str]) -> int:
        flags, args = parse_flags(argv, "pvV")
        if not args:
            return 0
        if flags.get("v") or flags.get("V"):
            from fmsh.builtins.lookup import command_v

            status = 0
            for name in args:
                if not command_v(self, name, verbose=bool(flags.get("V"))):
                    status = 1
            return status
        if flags.get("p"):
            saved = self.sh.vars.get("PATH")
            try:
                self.sh.vars.set("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
                return self.sh.cmd.simple.run_argv(args, [], [], skip_functions=True)
            finally:
                if saved is not None:
                    self.sh.vars.set("PATH", saved)
        return self.sh.cmd.simple.run_argv(args, [], [], skip_functions=True)


class BuiltinCommand(Builtin):
    """`builtin NAME ARGS`: run the builtin NAME even if a function shadows it."""

    name = "builtin"

    def run(self, argv: list[str]) -> int:
        if len(argv) < 2:
            return 0
        builtin = self.sh.builtin(argv[1])
        if builtin is None:
            raise ShellError(f"{argv[1]}: not a shell builtin")
        return self.sh.run_builtin(builtin, argv[1:])


class Let(Builtin):
    name = "let"

    def run(self, argv: list[str]) -> int:
        if len(argv) < 2:
            raise ShellError("expression expected")
        value = 0
        try:
            for expression in argv[1:]:
                value = self.sh.arith.evaluate_text(expression)
        except ExpansionError as e:
            raise ShellError(e.message) from None  # a failed let, not a fatal expansion
        return 0 if value else 1
