"""`getopts OPTSTRING NAME [ARGS]`: POSIX option parsing, state kept in OPTIND."""

from __future__ import annotations

from fmsh.builtins.base import Builtin, UsageError


class Getopts(Builtin):
    name = "getopts"

    def __init__(self, shell) -> None:  # type: ignore[no-untyped-def]
        super().__init__(shell)
        # Position inside a group of letters (`-abc`), which OPTIND alone cannot hold.
        self._char = 1
        self._last_optind = 1

    def run(self, argv: list[str]) -> int:
        if len(argv) < 3:
            raise UsageError("usage: getopts optstring name [arg ...]")
        spec, name = argv[1], argv[2]
        args = argv[3:] if len(argv) > 3 else list(self.sh.positional)
        vars_ = self.sh.vars
        silent = spec.startswith(":")
        if silent:
            spec = spec[1:]
        try:
            optind = int(vars_.get("OPTIND") or "1")
        except ValueError:
            optind = 1
        if optind != self._last_optind or optind < 1:
            self._char = 1
        if optind < 1:
            optind = 1
        vars_.unset("OPTARG")
        if optind > len(args):
            return self._done(name, optind)
        arg = args[optind - 1]
        if self._char == 1:
            if arg == "--":
                return self._done(name, optind + 1)
            if not arg.startswith("-") or arg == "-":
                return self._done(name, optind)
        letter = arg[self._char]
        self._char += 1
        at_end = self._char >= len(arg)
        index = spec.find(letter)
        if index == -1 or letter == ":":
            if silent:
                vars_.set("OPTARG", letter)
            else:
                self.warn(f"illegal option -- {letter}")
            vars_.set(name, "?")
            return self._advance(optind, at_end, 0)
        if index + 1 < len(spec) and spec[index + 1] == ":":
            if not at_end:
                vars_.set("OPTARG", arg[self._char :])
                return self._set(name, letter, optind + 1)
            if optind < len(args):
                vars_.set("OPTARG", args[optind])
                return self._set(name, letter, optind + 2)
            if silent:
                vars_.set(name, ":")
                vars_.set("OPTARG", letter)
            else:
                self.warn(f"option requires an argument -- {letter}")
                vars_.set(name, "?")
            return self._advance(optind, True, 0)
        vars_.set(name, letter)
        return self._advance(optind, at_end, 0)

    def _advance(self, optind: int, at_end: bool, status: int) -> int:
        if at_end:
            optind += 1
            self._char = 1
        self._store(optind)
        return status

    def _set(self, name: str, letter: str, optind: int) -> int:
        self.sh.vars.set(name, letter)
        self._char = 1
        self._store(optind)
        return 0

    def _done(self, name: str, optind: int) -> int:
        self.sh.vars.set(name, "?")
        self._char = 1
        self._store(optind)
        return 1

    def _store(self, optind: int) -> None:
        self.sh.vars.set("OPTIND", str(optind))
        self._last_optind = optind
