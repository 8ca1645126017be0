"""`[[ ... ]]`: patterns on the right of == and !=, regexes with =~ (BASH_REMATCH),
arithmetic operands for -eq and friends, no word splitting or globbing."""

from __future__ import annotations

import re

from fmsh.expand.pattern import matches
from fmsh.runtime import predicates
from fmsh.runtime.errors import ShellError
from fmsh.runtime.state import IndexedArray
from fmsh.syntax import ast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell


def evaluate_bool(sh: Shell, expr: ast.BoolExpr) -> bool:
    kind = type(expr)
    words = sh.words
    if kind is ast.BoolWord:
        return words.expand_string(expr.word) != ""  # type: ignore[attr-defined]
    if kind is ast.BoolNot:
        return not evaluate_bool(sh, expr.operand)  # type: ignore[attr-defined]
    if kind is ast.BoolAnd:
        return evaluate_bool(sh, expr.left) and evaluate_bool(sh, expr.right)  # type: ignore[attr-defined]
    if kind is ast.BoolOr:
        return evaluate_bool(sh, expr.left) or evaluate_bool(sh, expr.right)  # type: ignore[attr-defined]
    if kind is ast.BoolUnary:
        return _unary(sh, expr)  # type: ignore[arg-type]
    assert isinstance(expr, ast.BoolBinary)
    return _binary(sh, expr)


def _unary(sh: Shell, expr: ast.BoolUnary) -> bool:
    op = expr.op[1]
    value = sh.words.expand_string(expr.operand)
    if op == "z":
        return value == ""
    if op == "n":
        return value != ""
    if op == "v":
        return sh.variable_is_set(value)
    if op == "o":
        return bool(sh.options.values.get(value))
    if op == "R":
        return False
    return predicates.file_test(op, value)


def _binary(sh: Shell, expr: ast.BoolBinary) -> bool:
    op = expr.op
    words = sh.words
    left = words.expand_string(expr.left)
    if op in ("==", "=", "!="):
        pattern = words.expand_pattern(expr.right)
        result = matches(pattern, left, sh.options.shopt["nocasematch"])
        return result if op != "!=" else not result
    if op == "=~":
        return _regex(sh, left, words.expand_regex(expr.right))
    right = words.expand_string(expr.right)
    if op in predicates.INTEGER_BINARY_OPS:
        return predicates.integer_compare(op, sh.arith.evaluate_text(left), sh.arith.evaluate_text(right))
    if op in predicates.FILE_BINARY_OPS:
        return predicates.file_compare(op, left, right)
    return predicates.string_compare(op, left, right)


def _regex(sh: Shell, text: str, pattern: str) -> bool:
    try:
        regex = re.compile(_posix_classes(pattern))
    except re.error as e:
        raise ShellError(f"invalid regular expression `{pattern}': {e}", status=2) from None
    match = regex.search(text)
    if match is None:
        sh.vars.set_array("BASH_REMATCH", IndexedArray())
        return False
    groups = [match.group(0)] + [g if g is not None else "" for g in match.groups()]
    sh.vars.set_array("BASH_REMATCH", IndexedArray(enumerate(groups)))
    return True


_POSIX_CLASS = re.compile(r"\[:(alpha|digit|alnum|upper|lower|space|blank|punct|xdigit|cntrl|print|graph):\]")
_CLASS_BODIES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f", "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e", "graph": r"\x21-\x7e", "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}  # fmt: skip


def _posix_classes(pattern: str) -> str:
    """POSIX ERE bracket classes ([[:digit:]]) in Python's syntax."""
    return _POSIX_CLASS.sub(lambda m: _CLASS_BODIES[m.group(1)], pattern)
