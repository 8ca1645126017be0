"""`set` and `shopt`: shell options and positional parameters."""

from __future__ import annotations

from fmsh.builtins.base import Builtin, UsageError
from fmsh.expand.quote import shell_quote
from fmsh.runtime.durations import format_duration
from fmsh.runtime.errors import ShellError
from fmsh.runtime.state import AssocArray, IndexedArray


class Set(Builtin):
    """`set [-+abCefhmnuvx] [-+o NAME] [--] [ARGS]`; with no arguments, the variables."""

    name = "set"

    def run(self, argv: list[str]) -> int:
        options = self.sh.options
        if len(argv) == 1:
            return self._print_variables()
        i = 1
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                self.sh.positional = list(argv[i + 1 :])
                return 0
            if arg == "-":
                options.set("xtrace", False)
                options.set("verbose", False)
                self.sh.positional = list(argv[i + 1 :])
                return 0
            if len(arg) < 2 or arg[0] not in "-+":
                break
            on = arg[0] == "-"
            for letter in arg[1:]:
                if letter == "o":
                    i += 1
                    if i >= len(argv):
                        self._print_options(as_commands=not on)
                        return 0
                    self._set_option(argv[i], on)
                    continue
                name = options.by_letter(letter)
                if name is None:
                    raise UsageError(f"{arg[0]}{letter}: invalid option")
                self._set_option(name, on)
            i += 1
        if i < len(argv):
            self.sh.positional = list(argv[i:])
        return 0

    def _set_option(self, name: str, on: bool) -> None:
        setting, eq, value = name.partition("=")
        if setting == "max-hosts":
            self._set_max_hosts(value if eq and on else "")
            return
        if eq or setting in _TIMEOUT_SETTINGS:
            self._set_timeout(setting, value if eq and on else "")
            return
        try:
            self.sh.options.set(name, on)
        except ShellError as e:
            raise UsageError(e.message.removeprefix("set: ")) from None
        if name == "allexport":
            self.sh.vars.allexport = on

    def _set_timeout(self, name: str, value: str) -> None:
        """`set -o step-timeout=30s`: the default timeouts (fmsh/runtime/settings.py) are
        shell variables; this is another way to write them. `set +o NAME` goes back to
        the config file's value or the built-in one."""
        from fmsh.runtime import settings

        if name not in _TIMEOUT_SETTINGS:
            raise UsageError(f"{name}: invalid option name")
        variable = settings.TIMEOUTS[name][0]
        if not value:
            self.sh.vars.unset(variable)
            return
        try:
            settings.seconds(value, f"set -o {name}")
        except settings.SettingError as e:
            raise UsageError(str(e)) from None
        self.sh.vars.set(variable, value)

    def _set_max_hosts(self, value: str) -> None:
        """`set -o max-hosts=N`: the most hosts a pattern may name (FMSH_MAX_HOSTS)."""
        from fmsh.runtime import settings

        variable = settings.MAX_HOSTS[0]
        if not value:
            self.sh.vars.unset(variable)
            return
        try:
            settings.max_hosts(value)
        except settings.SettingError as e:
            raise UsageError(str(e).replace(variable, "max-hosts", 1)) from None
        self.sh.vars.set(variable, value)

    def _print_options(self, as_commands: bool) -> None:
        for name, on in sorted(self.sh.options.values.items()):
            if as_commands:
                self.write(f"set {'-' if on else '+'}o {name}\n")
            else:
                self.write(f"{name:<15}\t{'on' if on else 'off'}\n")
        from fmsh.runtime import settings

        for name in _TIMEOUT_SETTINGS:
            variable, _, _ = settings.TIMEOUTS[name]
            try:
                seconds = settings.timeout(name, self.sh.vars.get(variable))
            except settings.SettingError:
                seconds = None
            shown = "none" if seconds is None else format_duration(seconds)
            if as_commands:
                self.write(f"set -o {name}={shown}\n")
            else:
                self.write(f"{name:<15}\t{shown}\n")
        try:
            limit = settings.max_hosts(self.sh.vars.get(settings.MAX_HOSTS[0]))
        except settings.SettingError:
            limit = None
        shown = "none" if limit is None else str(limit)
        self.write(f"set -o max-hosts={shown}\n" if as_commands else f"{'max-hosts':<15}\t{shown}\n")

    def _print_variables(self) -> int:
        vars_ = self.sh.vars
        for name in sorted(vars_.names()):
            cell = vars_.cell(name)
            if cell is None or cell.value is None:
                continue
            value = cell.value
            if type(value) in (IndexedArray, AssocArray):
                items = " ".join(f"[{k}]={shell_quote(v)}" for k, v in value.items())  # type: ignore[union-attr]
                self.write(f"{name}=({items})\n")
            else:
                self.write(f"{name}={shell_quote(value)}\n")  # type: ignore[arg-type]
        return 0


class Shopt(Builtin):
    """`shopt [-pqsuo] [NAME...]`."""

    name = "shopt"

    def run(self, argv: list[str]) -> int:
        flags = ""
        i = 1
        while i < len(argv) and argv[i].startswith("-") and len(argv[i]) > 1:
            flags += argv[i][1:]
            i += 1
        names = argv[i:]
        options = self.sh.options
        table = options.values if "o" in flags else options.shopt
        if "s" in flags or "u" in flags:
            on = "s" in flags
            status = 0
            for name in names:
                if name not in table:
                    # Oils' groups (strict:all, ysh:all) and unknown names: not fmsh's.
                    self.warn(f"{name}: invalid shell option name")
                    status = 1
                    continue
                if "o" in flags:
                    options.set(name, on)
                else:
                    table[name] = on
                    if name == "expand_aliases":
                        self.sh.alias_generation += 1
            return status
        command = "set {}o {}" if "o" in flags else "shopt {} {}"
        status = 0
        for name in names or sorted(table):
            if name not in table:
                self.warn(f"{name}: invalid shell option name")
                status = 1
                continue
            on = table[name]
            if not on:
                status = 1 if names else status
            if "q" in flags:
                continue
            if "p" in flags:
                sign = ("-" if on else "+") if "o" in flags else ("-s" if on else "-u")
                self.write(command.format(sign, name) + "\n")
            else:
                self.write(f"{name:<15}\t{'on' if on else 'off'}\n")
        return status


_TIMEOUT_SETTINGS = ("step-timeout", "connect-timeout", "await-timeout")
