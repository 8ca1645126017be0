"""`test` and `[`: POSIX's argument-count rules, then a small expression parser for
the longer forms with `!`, `-a`, `-o` and parentheses."""

from __future__ import annotations

from fmsh.builtins.base import Builtin
from fmsh.runtime import predicates
from fmsh.runtime.errors import ShellError

_UNARY = frozenset("abcdefghkprstuwxzGLNOSnov") | {"R"}
_BINARY = predicates.STRING_BINARY_OPS | predicates.INTEGER_BINARY_OPS | predicates.FILE_BINARY_OPS


class _TestError(ShellError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status=2)


class Test(Builtin):
    name = "test"

    def run(self, argv: list[str]) -> int:
        args = argv[1:]
        if argv[0] == "[":
            if not args or args[-1] != "]":
                raise _TestError("missing `]'")
            args = args[:-1]
        return 0 if self._evaluate(args) else 1

    def _evaluate(self, args: list[str]) -> bool:
        n = len(args)
        if n == 0:
            return False
        if n == 1:
            return args[0] != ""
        if n == 2:
            if args[0] == "!":
                return args[1] == ""
            return self._unary(args[0], args[1])
        if n == 3:
            if args[1] in _BINARY:
                return self._binary(args[0], args[1], args[2])
            if args[0] == "!":
                return not self._evaluate(args[1:])
            if args[0] == "(" and args[2] == ")":
                return args[1] != ""
            if args[1] in ("-a", "-o"):
                return self._parse(args)
            raise _TestError(f"{args[1]}: binary operator expected")
        if n == 4:
            if args[0] == "!":
                return not self._evaluate(args[1:])
            if args[0] == "(" and args[3] == ")":
                return self._evaluate(args[1:3])
        return self._parse(args)

    # --- the general form ---------------------------------------------------------------

    def _parse(self, args: list[str]) -> bool:
        self._args = args
        self._i = 0
        value = self._or()
        if self._i != len(args):
            raise _TestError(f"{args[self._i]}: unexpected argument")
        return value

    def _peek(self) -> str | None:
        return self._args[self._i] if self._i < len(self._args) else None

    def _take(self) -> str:
        if self._i >= len(self._args):
            raise _TestError("argument expected")
        self._i += 1
        return self._args[self._i - 1]

    def _or(self) -> bool:
        value = self._and()
        while self._peek() == "-o":
            self._i += 1
            right = self._and()
            value = value or right
        return value

    def _and(self) -> bool:
        value = self._not()
        while self._peek() == "-a":
            self._i += 1
            right = self._not()
            value = value and right
        return value

    def _not(self) -> bool:
        if self._peek() == "!":
            self._i += 1
            return not self._not()
        return self._primary()

    def _primary(self) -> bool:
        token = self._take()
        if token == "(":
            value = self._or()
            if self._take() != ")":
                raise _TestError("`)' expected")
            return value
        following = self._peek()
        if following in _BINARY and self._i + 1 < len(self._args):
            self._i += 1
            return self._binary(token, following, self._take())
        if len(token) == 2 and token[0] == "-" and token[1] in _UNARY and following is not None:
            self._i += 1
            return self._unary(token, following)
        return token != ""

    # --- predicates ---------------------------------------------------------------------

    def _unary(self, op: str, operand: str) -> bool:
        if len(op) != 2 or op[0] != "-" or op[1] not in _UNARY:
            raise _TestError(f"{op}: unary operator expected")
        letter = op[1]
        if letter == "z":
            return operand == ""
        if letter == "n":
            return operand != ""
        if letter == "v":
            return self.sh.variable_is_set(operand)
        if letter == "o":
            return bool(self.sh.options.values.get(operand))
        if letter == "R":
            return False
        return predicates.file_test(letter, operand)

    def _binary(self, left: str, op: str, right: str) -> bool:
        if op in predicates.INTEGER_BINARY_OPS:
            return predicates.integer_compare(op, _integer(left), _integer(right))
        if op in predicates.FILE_BINARY_OPS:
            return predicates.file_compare(op, left, right)
        return predicates.string_compare(op, left, right)


def _integer(text: str) -> int:
    body = text.strip()
    digits = body[1:] if body[:1] in "+-" else body
    if not digits.isdigit() or not -(2**63) <= int(body) < 2**63:
        raise _TestError(f"{text}: integer expression expected")
    return int(body)
