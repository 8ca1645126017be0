"""Builtins that look names up: `type`, `hash`, `alias`, `unalias` (and `command -v`)."""

from __future__ import annotations

from fmsh.builtins.base import Builtin, parse_flags
from fmsh.expand.quote import shell_quote_always
from fmsh.runtime.errors import ShellError
from fmsh.runtime.process import find_executable
from fmsh.syntax.parser import RESERVED


def describe(builtin: Builtin, name: str, verbose: bool, short: bool, kind_only: bool = False,
             everything: bool = False, path_only: bool = False) -> bool:
    """Print what `name` is, as `type` or `command -v/-V` do. False when it is nothing."""
    sh = builtin.sh
    found = False
    if not path_only:
        if name in sh.aliases:
            found = True
            if kind_only:
                builtin.write("alias\n")
            elif verbose or not short:
                builtin.write(f"{name} is aliased to `{sh.aliases[name]}'\n")
            else:
                builtin.write(f"alias {name}={shell_quote_always(sh.aliases[name])}\n")
            if not everything:
                return True
        if name in RESERVED and name not in ("in",):
            found = True
            if kind_only:
                builtin.write("keyword\n")
            elif verbose or not short:
                builtin.write(f"{name} is a shell keyword\n")
            else:
                builtin.write(f"{name}\n")
            if not everything:
                return True
        if name in sh.functions:
            found = True
            if kind_only:
                builtin.write("function\n")
            elif verbose or not short:
                from fmsh.builtins.variables import function_text

                builtin.write(f"{name} is a function\n{function_text(sh.functions[name])}\n")
            else:
                builtin.write(f"{name}\n")
            if not everything:
                return True
        if sh.builtin(name) is not None:
            found = True
            if kind_only:
                builtin.write("builtin\n")
            elif verbose or not short:
                builtin.write(f"{name} is a shell builtin\n")
            else:
                builtin.write(f"{name}\n")
            if not everything:
                return True
    path = name if "/" in name else (
        sh.hash.paths.get(name) or find_executable(name, sh.vars.get("PATH"))
    )
    if path is not None and ("/" not in name or _executable(path)):
        found = True
        if kind_only:
            builtin.write("file\n")
        elif verbose or not short and not path_only:
            hashed = name in sh.hash.paths
            builtin.write(f"{name} is hashed ({path})\n" if hashed else f"{name} is {path}\n")
        else:
            builtin.write(f"{path}\n")
    elif verbose and not found:
        builtin.warn(f"{name}: not found")
    return found


def _executable(path: str) -> bool:
    import os

    return os.path.isfile(path) and os.access(path, os.X_OK)


class Type(Builtin):
    name = "type"

    def run(self, argv: list[str]) -> int:
        flags, names = parse_flags(argv, "afptP")
        status = 0
        for name in names:
            found = describe(
                self, name, verbose=False, short=bool(flags.get("p") or flags.get("P")),
                kind_only=bool(flags.get("t")), everything=bool(flags.get("a")),
                path_only=bool(flags.get("p") or flags.get("P")),
            )
            if not found:
                if not (flags.get("t") or flags.get("p") or flags.get("P")):
                    self.warn(f"{name}: not found")
                status = 1
        return status


class Hash(Builtin):
    """`hash [-r] [NAME...]`: the remembered locations of commands."""

    name = "hash"

    def run(self, argv: list[str]) -> int:
        flags, names = parse_flags(argv, "rlt", with_value="pd")
        table = self.sh.hash
        if flags.get("r"):
            if names:
                raise ShellError("too many arguments")
            table.clear()
            return 0
        if not names:
            if not table.paths:
                self.write("hash: hash table empty\n")
                return 0
            for path in table.paths.values():
                self.write(f"{path}\n")
            return 0
        status = 0
        for name in names:
            if self.sh.builtin(name) is not None or name in self.sh.functions:
                continue
            if table.find(name, self.sh.vars.get("PATH")) is None:
                self.warn(f"{name}: not found")
                status = 1
            else:
                table.hits[name] = 0
        return status


class Alias(Builtin):
    name = "alias"

    def run(self, argv: list[str]) -> int:
        _, args = parse_flags(argv, "p")
        aliases = self.sh.aliases
        if not args:
            for name in sorted(aliases):
                self.write(f"alias {name}={shell_quote_always(aliases[name])}\n")
            return 0
        status = 0
        for arg in args:
            name, eq, value = arg.partition("=")
            if eq:
                aliases[name] = value
            elif name in aliases:
                self.write(f"alias {name}={shell_quote_always(aliases[name])}\n")
            else:
                self.warn(f"{name}: not found")
                status = 1
        return status


class Unalias(Builtin):
    name = "unalias"

    def run(self, argv: list[str]) -> int:
        flags, names = parse_flags(argv, "a")
        if flags.get("a"):
            self.sh.aliases.clear()
            return 0
        status = 0
        for name in names:
            if self.sh.aliases.pop(name, None) is None:
                self.warn(f"{name}: not found")
                status = 1
        return status
