"""The arithmetic parser: `$((...))`, `((...))`, `for ((;;))` and array subscripts.

Precedence climbing over C's operators as bash has them, reading at the lexer's cursor so
that `$x`, `${...}` and `$(...)` inside an expression are ordinary word parts.
"""

from __future__ import annotations

from fmsh.syntax import ast
from fmsh.syntax.errors import ParseError
from fmsh.syntax.lexer import Lexer

_OPS = (
    "<<=", ">>=", "**", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
    "+=", "-=", "*=", "/=", "%=", "&=", "^=", "|=",
    "+", "-", "*", "/", "%", "<", ">", "=", "!", "~", "&", "^", "|", "?", ":", ",", "(", ")",
    "[", "]",
)  # fmt: skip
ASSIGN_OPS = frozenset(["=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "^=", "|="])

# Binary operators by precedence level, lowest first (below the ternary).
_LEVELS = (
    ("||",),
    ("&&",),
    ("|",),
    ("^",),
    ("&",),
    ("==", "!="),
    ("<", ">", "<=", ">="),
    ("<<", ">>"),
    ("+", "-"),
    ("*", "/", "%"),
)
_BINARY_LEVEL = {op: level for level, ops in enumerate(_LEVELS) for op in ops}
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@_"


def parse_number(text: str) -> int | None:
    """A bash integer constant (decimal, 0x hex, 0 octal, BASE#digits), or None."""
    try:
        if "#" in text:
            base_text, digits = text.split("#", 1)
            base = int(base_text, 10)
            if not 2 <= base <= 64 or not digits:
                return None
            value = 0
            for ch in digits:
                d = _DIGITS.index(ch) if base > 36 else int(ch, 36)
                if base <= 36 and ch in "@_":
                    return None
                if d >= base:
                    return None
                value = value * base + d
            return value
        if text[:2] in ("0x", "0X"):
            return int(text[2:], 16)
        if len(text) > 1 and text[0] == "0":
            return int(text, 8)
        return int(text, 10)
    except ValueError:
        return None


def arithmetic_close(text: str, start: int, end: int) -> int:
    """Where the `((` before `start` closes, when it closes with an adjacent `))`, which
    makes it arithmetic whatever is inside; -1 otherwise (`$( (a) | b)` closes its two
    parentheses apart)."""
    depth = 2
    i = start
    quote = ""
    while i < end:
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"':
                i += 1
        elif c in "'\"":
            quote = c
        elif c == "\\":
            i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 1:
                return i if i + 1 < end and text[i + 1] == ")" else -1
        i += 1
    return -1


def parse_double_paren(lexer: Lexer, inside: int) -> ast.ArithExpr | None:
    """The expression of `((...))` or `$((...))` whose text starts at `inside`, the
    cursor left after the closing `))`. None (cursor unmoved) when the parentheses are
    really two nested groups, `( (a) | b)`. A `((` that closes with `))` but does not
    parse becomes ArithInvalid: as in bash, an error when it runs."""
    save = lexer.i
    lexer.i = inside
    try:
        return ArithParser(lexer).parse_until("))")
    except ParseError as e:
        close = arithmetic_close(lexer.text, inside, lexer.end)
        if close == -1:
            lexer.i = save
            return None
        lexer.i = close + 2
        return ast.ArithInvalid(lexer.pos(inside), lexer.text[inside:close].strip(), e.message)


class ArithParser:
    def __init__(self, lexer: Lexer) -> None:
        self.lx = lexer

    # --- entry points -------------------------------------------------------------------

    def parse_until(self, end: str) -> ast.ArithExpr:
        """An expression followed by `end` (consumed)."""
        expr = self.parse_comma()
        self._expect_end(end)
        return expr

    def parse_optional_until(self, end: str) -> ast.ArithExpr | None:
        """Like parse_until, but the expression may be empty (the clauses of `for ((;;))`)."""
        self._skip_space()
        if self.lx.text.startswith(end, self.lx.i):
            self.lx.i += len(end)
            return None
        return self.parse_until(end)

    def _expect_end(self, end: str) -> None:
        self._skip_space()
        lx = self.lx
        if not lx.text.startswith(end, lx.i, lx.end):
            if lx.at_end():
                raise lx.incomplete(f"expected {end!r} to end the arithmetic expression")
            raise lx.error(f'syntax error in expression (error token is "{self._rest()}")')
        lx.i += len(end)

    def _rest(self) -> str:
        """The text from the cursor to the end of the expression: bash's "error token"."""
        lx = self.lx
        close = lx.text.find(")", lx.i, lx.end)
        return lx.text[lx.i : close if close != -1 else lx.end].strip()

    # --- tokens -------------------------------------------------------------------------

    def _skip_space(self) -> None:
        lx = self.lx
        text = lx.text
        while lx.i < lx.end:
            c = text[lx.i]
            if c in " \t\n":
                lx.i += 1
            elif c == "\\" and lx.peek_char(1) == "\n":
                lx.i += 2
            else:
                break

    def _peek_op(self) -> str | None:
        self._skip_space()
        lx = self.lx
        for op in _OPS:
            if lx.text.startswith(op, lx.i, lx.end):
                return op
        return None

    def _take(self, op: str) -> bool:
        if self._peek_op() == op:
            self.lx.i += len(op)
            return True
        return False

    # --- grammar ------------------------------------------------------------------------

    def parse_comma(self) -> ast.ArithExpr:
        expr = self._assign()
        while self._peek_op() == ",":
            pos = self.lx.pos()
            self.lx.i += 1
            expr = ast.ArithBinary(pos, ",", expr, self._assign())
        return expr

    def _assign(self) -> ast.ArithExpr:
        left = self._ternary()
        op = self._peek_op()
        if op in ASSIGN_OPS and not (op == "=" and self.lx.peek_char(1) == "="):
            if not isinstance(left, ast.ArithVar):
                raise self.lx.error("the left side of an assignment must be a variable")
            pos = self.lx.pos()
            self.lx.i += len(op)
            return ast.ArithAssign(pos, op, left, self._assign())
        return left

    def _ternary(self) -> ast.ArithExpr:
        cond = self._binary(0)
        if self._peek_op() == "?":
            pos = self.lx.pos()
            self.lx.i += 1
            then = self.parse_comma()
            if not self._take(":"):
                raise self.lx.error("expected ':' in a conditional expression")
            return ast.ArithTernary(pos, cond, then, self._ternary())
        return cond

    def _binary(self, level: int) -> ast.ArithExpr:
        if level == len(_LEVELS):
            return self._power()
        left = self._binary(level + 1)
        while True:
            op = self._peek_op()
            if op is None or _BINARY_LEVEL.get(op) != level:
                return left
            pos = self.lx.pos()
            self.lx.i += len(op)
            left = ast.ArithBinary(pos, op, left, self._binary(level + 1))

    def _power(self) -> ast.ArithExpr:
        base = self._unary()
        if self._peek_op() == "**":
            pos = self.lx.pos()
            self.lx.i += 2
            return ast.ArithBinary(pos, "**", base, self._power())
        return base

    def _unary(self) -> ast.ArithExpr:
        op = self._peek_op()
        if op in ("++", "--", "-", "+", "!", "~"):
            pos = self.lx.pos()
            self.lx.i += len(op)
            operand = self._unary()
            if op in ("++", "--") and not isinstance(operand, ast.ArithVar):
                raise self.lx.error(f"{op} needs a variable")
            return ast.ArithUnary(pos, op, operand)
        return self._postfix()

    def _postfix(self) -> ast.ArithExpr:
        expr = self._primary()
        if isinstance(expr, ast.ArithVar):
            op = self._peek_op()
            if op in ("++", "--"):
                pos = self.lx.pos()
                self.lx.i += 2
                return ast.ArithUnary(pos, "post" + op, expr)
        return expr

    def _primary(self) -> ast.ArithExpr:
        self._skip_space()
        lx = self.lx
        pos = lx.pos()
        c = lx.peek_char()
        if c == "(":
            lx.i += 1
            expr = self.parse_comma()
            if not self._take(")"):
                raise (
                    lx.incomplete("expected ')' in arithmetic expression")
                    if lx.at_end()
                    else lx.error("expected ')' in arithmetic expression")
                )
            return expr
        if "0" <= c <= "9":
            j = lx.i
            text = lx.text
            while j < lx.end and (text[j].isalnum() or text[j] in "#@_"):
                j += 1
            literal = text[lx.i : j]
            value = parse_number(literal)
            if value is None:
                raise lx.error(f'value too great for base (error token is "{literal}")')
            lx.i = j
            return ast.ArithNumber(pos, value)
        if c.isalpha() or c == "_":
            j = lx.i
            text = lx.text
            while j < lx.end and (text[j].isalnum() or text[j] == "_"):
                j += 1
            name = text[lx.i : j]
            lx.i = j
            index = None
            if lx.peek_char() == "[":
                lx.i += 1
                index = self.parse_until("]")
            return ast.ArithVar(pos, name, index)
        if c in ("$", "`", '"'):
            words = lx.words
            if c == '"':
                part: ast.WordPart = words._read_double_quoted()
            else:
                part = words._read_dollar_or_backtick(in_dquote=True)
            return ast.ArithWord(pos, ast.Word(pos, [part]))
        if lx.at_end():
            raise lx.incomplete("syntax error: operand expected")
        raise lx.error(f'syntax error: operand expected (error token is "{self._rest() or c}")')
