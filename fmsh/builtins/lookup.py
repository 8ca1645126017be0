"""Builtins that look names up: `type`, `hash`, `alias`, `unalias` (and `command -v`)."""

from __future__ import annotations

import os

from fmsh.builtins.base import Builtin, parse_flags
from fmsh.expand.quote import shell_quote_always
from fmsh.runtime.errors import ShellError
from fmsh.runtime.process import find_executable
from fmsh.syntax.parser import RESERVED


def kinds(builtin: Builtin, name: str, everything: bool) -> list[tuple[str, str]]:
    """What `name` is, in lookup order: (kind, detail) with kind alias, keyword,
    function, builtin or file (detail: the alias text, the function text, the path).
    Without `everything`, only the first."""
    sh = builtin.sh
    found: list[tuple[str, str]] = []
    if name in sh.aliases:
        found.append(("alias", sh.aliases[name]))
    if name in RESERVED and name != "in":
        found.append(("keyword", ""))
    if name in sh.functions:
        from fmsh.builtins.variables import function_text

        found.append(("function", function_text(sh.functions[name])))
    if sh.builtin(name) is not None:
        found.append(("builtin", ""))
    if name not in sh.functions and "/" not in name:
        from fmsh.interp.simple import stdlib_index

        path = stdlib_index().get(name)
        if path is not None:  # a function once called (autoload)
            found.append(("function", f"(in the fmsh standard library, read when first called: {path})"))
    if found and not everything:
        return found[:1]
    found.extend(("file", path) for path in file_paths(builtin, name, everything))
    return found if everything else found[:1]


def file_paths(builtin: Builtin, name: str, everything: bool) -> list[str]:
    """Where `name` is on PATH (every match with `everything`), or itself with a slash."""
    sh = builtin.sh
    if "/" in name:
        return [name] if _executable(name) else []
    if not everything:
        path = sh.hash.paths.get(name) or find_executable(name, sh.vars.get("PATH"))
        return [path] if path else []
    paths = []
    for directory in (sh.vars.get("PATH") or "").split(":"):
        candidate = os.path.join(directory or ".", name)
        if _executable(candidate) and candidate not in paths:
            paths.append(candidate)
    return paths


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _sentence(builtin: Builtin, name: str, kind: str, detail: str) -> str:
    if kind == "alias":
        return f"{name} is aliased to `{detail}'"
    if kind == "keyword":
        return f"{name} is a shell keyword"
    if kind == "function":
        return f"{name} is a function\n{detail}"
    if kind == "builtin":
        return f"{name} is a shell builtin"
    if builtin.sh.hash.paths.get(name) == detail:
        return f"{name} is hashed ({detail})"
    return f"{name} is {detail}"


class Type(Builtin):
    """`type [-afptP] NAME...`: what each name is."""

    name = "type"

    def run(self, argv: list[str]) -> int:
        flags, names = parse_flags(argv, "afptP")
        everything = bool(flags.get("a"))
        status = 0
        for name in names:
            if flags.get("P"):
                found = [("file", p) for p in file_paths(self, name, everything)]
            else:
                found = kinds(self, name, everything)
            if not found:
                if not (flags.get("t") or flags.get("p") or flags.get("P")):
                    self.warn(f"{name}: not found")
                status = 1
                continue
            for kind, detail in found:
                if flags.get("t"):
                    self.write(kind + "\n")
                elif flags.get("p") or flags.get("P"):
                    if kind == "file":  # -p says nothing of builtins and functions
                        self.write(detail + "\n")
                else:
                    self.write(_sentence(self, name, kind, detail) + "\n")
        return status


def command_v(builtin: Builtin, name: str, verbose: bool) -> bool:
    """`command -v` (how to run it) and `command -V` (a sentence)."""
    found = kinds(builtin, name, everything=False)
    if not found:
        if verbose:
            builtin.warn(f"{name}: not found")
        return False
    kind, detail = found[0]
    if verbose:
        builtin.write(_sentence(builtin, name, kind, detail) + "\n")
    elif kind == "alias":
        builtin.write(f"alias {name}={shell_quote_always(detail)}\n")
    else:
        builtin.write((detail if kind == "file" else name) + "\n")
    return True


class Hash(Builtin):
    """`hash [-r] [NAME...]`: the remembered locations of commands."""

    name = "hash"

    def run(self, argv: list[str]) -> int:
        flags, names = parse_flags(argv, "rltd", with_value="p")
        sh = self.sh
        table = sh.hash
        if flags.get("r"):
            if names:
                raise ShellError("too many arguments")
            table.clear()
            return 0
        if isinstance(flags.get("p"), str):
            for name in names:
                table.paths[name] = flags["p"]  # type: ignore[assignment]
                table.hits[name] = 0
            return 0
        if flags.get("d") or flags.get("t"):
            status = 0
            for name in names:
                path = table.paths.get(name)
                if path is None:
                    self.warn(f"{name}: not found")
                    status = 1
                elif flags.get("d"):
                    del table.paths[name]
                else:
                    self.write(f"{name}\t{path}\n" if len(names) > 1 else f"{path}\n")
            return status
        if not names:
            if not table.paths:
                self.write("hash: hash table empty\n")
                return 0
            for path in table.paths.values():
                self.write(f"{path}\n")
            return 0
        status = 0
        for name in names:
            if sh.builtin(name) is not None or name in sh.functions:
                continue
            if table.find(name, sh.vars.get("PATH")) is None:
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
                self.sh.alias_generation += 1
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
        self.sh.alias_generation += 1
        if flags.get("a"):
            self.sh.aliases.clear()
            return 0
        status = 0
        for name in names:
            if self.sh.aliases.pop(name, None) is None:
                self.warn(f"{name}: not found")
                status = 1
        return status
