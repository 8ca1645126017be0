"""`cd` and `pwd`, with bash's logical paths ($PWD keeps symlinks unless -P)."""

from __future__ import annotations

import os

from fmsh.builtins.base import Builtin, parse_flags
from fmsh.runtime.errors import ShellError


def _normalize(path: str) -> str:
    """Resolve `.` and `..` textually, as a logical cd does."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


class Cd(Builtin):
    name = "cd"

    def run(self, argv: list[str]) -> int:
        flags, args = parse_flags(argv, "LPe@")
        sh = self.sh
        if len(args) > 1:
            raise ShellError("too many arguments")
        print_dir = False
        if not args:
            target = sh.vars.get("HOME")
            if target is None:
                raise ShellError("HOME not set")
        elif args[0] == "-":
            target = sh.vars.get("OLDPWD")
            if target is None:
                raise ShellError("OLDPWD not set")
            print_dir = True
        else:
            target = args[0]
        if target == "":
            return 0
        physical = bool(flags.get("P"))
        candidates = [target]
        if not target.startswith("/") and not target.startswith("."):
            cdpath = sh.vars.get("CDPATH")
            if cdpath:
                candidates = [os.path.join(d, target) if d else target for d in cdpath.split(":")] + [target]
        old = sh.vars.get("PWD") or os.getcwd()
        error: OSError | None = None
        for candidate in candidates:
            logical = candidate if candidate.startswith("/") else _normalize(f"{old}/{candidate}")
            try:
                os.chdir(candidate if physical else logical)
            except OSError as e:
                if error is None:
                    error = e
                if physical:
                    continue
                try:
                    os.chdir(candidate)
                    logical = os.getcwd()
                except OSError:
                    continue
            if candidate != target:
                print_dir = True
            new = os.getcwd() if physical else _normalize(logical)
            sh.vars.set("OLDPWD", old)
            sh.vars.set("PWD", new)
            if print_dir:
                self.write(new + "\n")
            return 0
        assert error is not None
        raise ShellError(f"{target}: {error.strerror}")


class Pwd(Builtin):
    name = "pwd"

    def run(self, argv: list[str]) -> int:
        flags, _ = parse_flags(argv, "LP")
        pwd = self.sh.vars.get("PWD")
        if flags.get("P") or pwd is None or not _is_current(pwd):
            try:
                pwd = os.getcwd()
            except OSError as e:
                raise ShellError(f"error retrieving current directory: {e.strerror}") from None
            if flags.get("P"):
                pwd = os.path.realpath(pwd)
        self.write(pwd + "\n")
        return 0


def _is_current(path: str) -> bool:
    try:
        a, b = os.stat(path), os.stat(".")
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
