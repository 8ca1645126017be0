"""Counting loops: `for ((i = 0; i < 10; i++))` runs a number of rounds known from its
text, and is bounded without `max N`.

A loop counts when its init sets a variable to a number, its condition compares that
variable with a number (<, <=, >, >=), its step moves it by a fixed amount towards the
limit (i++, ++i, i--, i += 2, i = i + 2), and its body never names the variable in a way
that could change it (an assignment, ++/--, or the bare name as a word: `read i`,
`unset i`, `let i=0`). Anything else is not counted; `fmsh check` then asks for `max N`.
"""

from __future__ import annotations

from typing import Any

from fmsh.syntax import ast


def counted_rounds(node: ast.ForArith) -> int | None:
    """The number of rounds of a counting loop, or None."""
    start = _initial(node.init)
    if start is None:
        return None
    name, value = start
    limit = _limit(node.cond, name)
    step = _step(node.step, name)
    if limit is None or step is None or step == 0 or _may_change(node.body, name):
        return None
    op, bound = limit
    if op in ("<", "<=") and step > 0:
        span = bound - value + (1 if op == "<=" else 0)
    elif op in (">", ">=") and step < 0:
        span = value - bound + (1 if op == ">=" else 0)
    else:
        return None  # moves away from its limit: never ends by itself
    return max(0, -(-span // abs(step)))


def _var(expr: ast.ArithExpr | None, name: str | None = None) -> str | None:
    if type(expr) is ast.ArithVar and expr.index is None and (name is None or expr.name == name):  # type: ignore[attr-defined]
        return expr.name  # type: ignore[attr-defined]
    return None


def _number(expr: ast.ArithExpr | None) -> int | None:
    if type(expr) is ast.ArithNumber:
        return expr.value  # type: ignore[attr-defined]
    if type(expr) is ast.ArithUnary and expr.op == "-" and type(expr.operand) is ast.ArithNumber:  # type: ignore[attr-defined]
        return -expr.operand.value  # type: ignore[attr-defined]
    return None


def _initial(expr: ast.ArithExpr | None) -> tuple[str, int] | None:
    if type(expr) is not ast.ArithAssign or expr.op != "=":  # type: ignore[attr-defined]
        return None
    name = _var(expr.target)  # type: ignore[attr-defined]
    value = _number(expr.value)  # type: ignore[attr-defined]
    return None if name is None or value is None else (name, value)


def _limit(expr: ast.ArithExpr | None, name: str) -> tuple[str, int] | None:
    if type(expr) is not ast.ArithBinary or expr.op not in ("<", "<=", ">", ">="):  # type: ignore[attr-defined]
        return None
    bound = _number(expr.right)  # type: ignore[attr-defined]
    if _var(expr.left, name) is None or bound is None:  # type: ignore[attr-defined]
        return None
    return expr.op, bound  # type: ignore[attr-defined]


def _step(expr: Any, name: str) -> int | None:
    kind = type(expr)
    if kind is ast.ArithUnary and _var(expr.operand, name) is not None:  # type: ignore[attr-defined]
        return {"++": 1, "post++": 1, "--": -1, "post--": -1}.get(expr.op)  # type: ignore[attr-defined]
    if kind is not ast.ArithAssign or _var(expr.target, name) is None:  # type: ignore[attr-defined]
        return None
    op, value = expr.op, expr.value  # type: ignore[attr-defined]
    if op in ("+=", "-="):
        amount = _number(value)
        return None if amount is None else (amount if op == "+=" else -amount)
    if op == "=" and type(value) is ast.ArithBinary and value.op in ("+", "-"):  # type: ignore[attr-defined]
        amount = _number(value.right)  # type: ignore[attr-defined]
        if _var(value.left, name) is None or amount is None:  # type: ignore[attr-defined]
            return None
        return amount if value.op == "+" else -amount  # type: ignore[attr-defined]
    return None


def _may_change(body: ast.CommandList, name: str) -> bool:
    """Whether the body could change the variable (conservatively: whether it names it
    as an assignment's target or as a word)."""
    from fmsh.check.bounds import _walk

    for item in _walk(body):
        kind = type(item)
        if kind is ast.Assignment and item.name == name:  # type: ignore[attr-defined]
            return True
        if kind is ast.ArithAssign and item.target.name == name:  # type: ignore[attr-defined]
            return True
        if kind is ast.ArithUnary and item.op in ("++", "--", "post++", "post--"):  # type: ignore[attr-defined]
            if _var(item.operand, name) is not None:  # type: ignore[attr-defined]
                return True
        if kind is ast.Literal and name in item.text.replace("=", " ").split():  # type: ignore[attr-defined]
            return True
    return False
