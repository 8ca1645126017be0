"""The arithmetic evaluator: 64-bit signed integers with C semantics, as bash has them.

A variable's value is itself an expression (`x=1+2; echo $((x*2))` is 6), parsed once
per distinct text and cached.
"""

from __future__ import annotations

from fmsh.runtime.errors import ExpansionError
from fmsh.syntax import ast
from fmsh.syntax.errors import ParseError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fmsh.interp.shell import Shell

_MASK = (1 << 64) - 1
_SIGN = 1 << 63
_MAX_DEPTH = 1024


def wrap(value: int) -> int:
    """Two's complement 64-bit wrap-around."""
    value &= _MASK
    return value - (1 << 64) if value & _SIGN else value


class ArithEvaluator:
    def __init__(self, shell: Shell) -> None:
        self.sh = shell
        self._parsed: dict[str, ast.ArithExpr | None] = {}
        self._depth = 0

    def evaluate(self, expr: ast.ArithExpr) -> int:
        method: Callable[[ArithEvaluator, ast.ArithExpr], int] = _DISPATCH[type(expr)]  # type: ignore[assignment]
        return method(self, expr)

    def evaluate_text(self, text: str, context: str = "") -> int:
        """A string as an expression (a variable's value, `let`, an array index)."""
        text = text.strip()
        if not text:
            return 0
        if text.isdigit() and (text[0] != "0" or len(text) == 1):
            return wrap(int(text))
        expr = self._parsed.get(text)
        if expr is None:
            expr = self._parse(text)
            self._parsed[text] = expr
        if self._depth > _MAX_DEPTH:
            raise ExpansionError(f"{text}: expression recursion level exceeded")
        self._depth += 1
        try:
            return self.evaluate(expr)
        except RecursionError:
            # A variable whose value names itself (x=x) runs out of Python's stack
            # before _MAX_DEPTH: the same error as bash's.
            raise ExpansionError(f"{text}: expression recursion level exceeded") from None
        finally:
            self._depth -= 1

    def _parse(self, text: str) -> ast.ArithExpr:
        from fmsh.syntax.arith_parser import ArithParser
        from fmsh.syntax.lexer import TOO_DEEP, Lexer
        from fmsh.syntax.source import Source

        lexer = Lexer(Source("arithmetic", text))
        try:
            try:
                expr = ArithParser(lexer).parse_comma()
            except RecursionError:
                raise lexer.error(TOO_DEEP) from None
            ArithParser(lexer)._skip_space()
            if not lexer.at_end():
                raise lexer.error("syntax error in expression")
        except ParseError as e:
            token = text[e.pos.offset :] if e.pos.offset < len(text) else text
            raise ExpansionError(f'{text}: {e.message} (error token is "{token}")') from None
        return expr

    # --- variables ----------------------------------------------------------------------

    def _var_value(self, var: ast.ArithVar) -> int:
        sh = self.sh
        if var.index is None:
            text = sh.vars.get(var.name)
        else:
            text = sh.words.array_element(var.name, self._index_key(var))
        if text is None:
            if sh.options.nounset:
                raise ExpansionError(f"{var.name}: unbound variable")
            return 0
        return self.evaluate_text(text)

    def _index_key(self, var: ast.ArithVar) -> int | str:
        from fmsh.runtime.state import AssocArray

        cell = self.sh.vars.cell(var.name)
        assert var.index is not None
        if cell is not None and type(cell.value) is AssocArray:
            return _source_text(var.index, self)
        return self.evaluate(var.index)

    def _assign_var(self, var: ast.ArithVar, value: int) -> None:
        sh = self.sh
        if var.index is None:
            sh.vars.set(var.name, str(value))
        else:
            sh.vars.set_element(var.name, self._index_key(var), str(value))

    # --- nodes --------------------------------------------------------------------------

    def _number(self, expr: ast.ArithNumber) -> int:
        return wrap(expr.value)

    def _var(self, expr: ast.ArithVar) -> int:
        return self._var_value(expr)

    def _word(self, expr: ast.ArithWord) -> int:
        return self.evaluate_text(self.sh.words.expand_string(expr.word))

    def _unary(self, expr: ast.ArithUnary) -> int:
        op = expr.op
        if op in ("++", "--", "post++", "post--"):
            var = expr.operand
            assert isinstance(var, ast.ArithVar)
            old = self._var_value(var)
            new = wrap(old + 1 if op.endswith("++") else old - 1)
            self._assign_var(var, new)
            return new if op in ("++", "--") else old
        value = self.evaluate(expr.operand)
        if op == "-":
            return wrap(-value)
        if op == "+":
            return value
        if op == "!":
            return int(not value)
        return wrap(~value)

    def _binary(self, expr: ast.ArithBinary) -> int:
        op = expr.op
        if op == "&&":
            return int(bool(self.evaluate(expr.left)) and bool(self.evaluate(expr.right)))
        if op == "||":
            return int(bool(self.evaluate(expr.left)) or bool(self.evaluate(expr.right)))
        left = self.evaluate(expr.left)
        right = self.evaluate(expr.right)
        return self.apply(op, left, right)

    def apply(self, op: str, left: int, right: int) -> int:
        if op == "+":
            return wrap(left + right)
        if op == "-":
            return wrap(left - right)
        if op == "*":
            return wrap(left * right)
        if op in ("/", "%"):
            if right == 0:
                raise ExpansionError("division by 0")
            quotient = abs(left) // abs(right)
            if (left < 0) != (right < 0):
                quotient = -quotient
            return wrap(quotient) if op == "/" else wrap(left - right * quotient)
        if op == "**":
            if right < 0:
                raise ExpansionError("exponent less than 0")
            return wrap(pow(left, right, 1 << 64))
        if op == "<<":
            return wrap(left << (right & 63))
        if op == ">>":
            return left >> (right & 63)
        if op == "&":
            return left & right
        if op == "|":
            return left | right
        if op == "^":
            return left ^ right
        if op == "<":
            return int(left < right)
        if op == ">":
            return int(left > right)
        if op == "<=":
            return int(left <= right)
        if op == ">=":
            return int(left >= right)
        if op == "==":
            return int(left == right)
        if op == "!=":
            return int(left != right)
        if op == ",":
            return right
        raise ExpansionError(f"unknown operator {op}")

    def _assign(self, expr: ast.ArithAssign) -> int:
        if expr.op == "=":
            value = self.evaluate(expr.value)
        else:
            current = self._var_value(expr.target)
            value = self.apply(expr.op[:-1], current, self.evaluate(expr.value))
        self._assign_var(expr.target, value)
        return value

    def _invalid(self, expr: ast.ArithInvalid) -> int:
        raise ExpansionError(f"{expr.text}: {expr.message}")

    def _ternary(self, expr: ast.ArithTernary) -> int:
        if self.evaluate(expr.cond):
            return self.evaluate(expr.then)
        return self.evaluate(expr.otherwise)


def _source_text(expr: ast.ArithExpr, evaluator: ArithEvaluator) -> str:
    """An associative array's key written as arithmetic: `m[key]` means the text key."""
    if isinstance(expr, ast.ArithVar) and expr.index is None:
        return expr.name
    if isinstance(expr, ast.ArithWord):
        return evaluator.sh.words.expand_string(expr.word)
    if isinstance(expr, ast.ArithNumber):
        return str(expr.value)
    return str(evaluator.evaluate(expr))


_DISPATCH = {
    ast.ArithNumber: ArithEvaluator._number,
    ast.ArithVar: ArithEvaluator._var,
    ast.ArithWord: ArithEvaluator._word,
    ast.ArithUnary: ArithEvaluator._unary,
    ast.ArithBinary: ArithEvaluator._binary,
    ast.ArithAssign: ArithEvaluator._assign,
    ast.ArithTernary: ArithEvaluator._ternary,
    ast.ArithInvalid: ArithEvaluator._invalid,
}
