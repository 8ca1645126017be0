"""The word parser: reads one shell word's parts at the lexer's cursor.

A word is quotes, escapes, `$` expansions, backquotes and literal text with no unquoted
metacharacter between them. `$(...)` and backquotes call back into the command parser;
`$((...))` into the arithmetic parser. Brace expansion is found after the parts are read.
"""

from __future__ import annotations

from fmsh.syntax import ast
from fmsh.syntax.errors import ParseError
from fmsh.syntax.escapes import decode_ansi_c
from fmsh.syntax.lexer import METACHARS, Lexer
from fmsh.syntax.source import Pos, Source

SPECIAL_PARAMS = frozenset("@*#?-$!0")
PATTERN_OPS = frozenset(["#", "##", "%", "%%", "/", "//", "/#", "/%", "^", "^^", ",", ",,"])
_TRANSFORMS = frozenset("QEPAaUuLK")
_EXTGLOB_OPS = frozenset("@*+?!")


def is_name(text: str) -> bool:
    """A valid variable name: [A-Za-z_][A-Za-z0-9_]*."""
    if not text or not (text[0].isalpha() or text[0] == "_") or not text.isascii():
        return False
    return text.replace("_", "a").isalnum()


def outer_error(error: ParseError, inner: Source, outer: Source, where: list[int]) -> ParseError:
    """An error in text cut out of `outer` (a backquoted command, a here-doc body) placed
    in `outer`, so that its report shows the line as written; where[k] is the outer
    offset of the inner text's character k (and, last, of its end)."""
    if error.pos.source is not inner:
        return error  # from deeper still (an alias): already placed as well as it can be
    offset = where[min(error.pos.offset, len(where) - 1)]
    return type(error)(error.message, Pos(outer, offset))


def _in_host_pattern(parts: list[ast.WordPart], buf: list[str]) -> bool:
    """Whether the word being read opens a remote stage (`@...`)."""
    if parts:
        first = parts[0]
        return type(first) is ast.Literal and first.text.startswith("@")
    return bool(buf) and buf[0] == "@"


def _continues_pattern(c: str) -> bool:
    return bool(c) and (c.isalnum() or c in "@[_.")


def _is_assignment_prefix(text: str) -> bool:
    """`name=` or `name+=`: what may open an array literal `name=(...)`."""
    if not text.endswith("="):
        return False
    name = text[:-1]
    return is_name(name[:-1] if name.endswith("+") else name)


class WordParser:
    """Reads words at a Lexer's cursor. One per lexer."""

    def __init__(self, lexer: Lexer) -> None:
        self.lx = lexer

    # --- entry points -------------------------------------------------------------------

    def read_word(self) -> ast.Word:
        """An unquoted word in command mode, up to the next metacharacter."""
        lx = self.lx
        start = lx.i
        parts = self._read_parts(METACHARS, in_word=True)
        if not parts:
            raise lx.error(f"unexpected character {lx.peek_char()!r}")
        word = ast.Word(lx.pos(start), parts)
        from fmsh.syntax.braces import find_braces

        return find_braces(word)

    def read_heredoc_body(self) -> ast.Word:
        """An unquoted here-doc body: only `$`, backquotes and `\\` are special."""
        start = self.lx.i
        parts = self._read_expanding_text("$`\\", closing="")
        return ast.Word(self.lx.pos(start), [ast.DoubleQuoted(self.lx.pos(start), parts)])

    def _read_expanding_text(self, escapable: str, closing: str) -> list[ast.WordPart]:
        """Text where `$` and backquotes expand and a backslash quotes only the
        characters in `escapable` (and joins lines): a double-quoted string up to its
        `closing` quote (consumed), or a here-doc body up to the end."""
        lx = self.lx
        start = lx.i
        text = lx.text
        parts: list[ast.WordPart] = []
        buf: list[str] = []
        while True:
            if lx.i >= lx.end:
                if closing:
                    raise lx.incomplete("unterminated double quote", start - 1)
                break
            c = text[lx.i]
            if c == closing:
                lx.i += 1
                break
            if c == "\\":
                nxt = lx.peek_char(1)
                if nxt == "\n":
                    lx.i += 2
                elif nxt and nxt in escapable:
                    buf.append(nxt)
                    lx.i += 2
                else:
                    buf.append(c)
                    lx.i += 1
            elif c == "$" or c == "`":
                self._flush(buf, parts)
                parts.append(self._read_dollar_or_backtick(in_dquote=True))
            else:
                buf.append(c)
                lx.i += 1
        self._flush(buf, parts)
        return parts

    def read_regex_word(self) -> ast.Word:
        """The right side of `[[ x =~ re ]]`: parentheses and `|` belong to the word."""
        lx = self.lx
        lx.skip_blanks()
        start = lx.i
        parts: list[ast.WordPart] = []
        depth = 0
        while not lx.at_end():
            c = lx.peek_char()
            if c in " \t\n" and depth == 0:
                break
            if c == "(":
                depth += 1
                parts.append(ast.Literal(lx.pos(), c))
                lx.i += 1
            elif c == ")" and depth > 0:
                depth -= 1
                parts.append(ast.Literal(lx.pos(), c))
                lx.i += 1
            elif c == "|" and depth > 0 or c in "<>" and depth > 0:
                parts.append(ast.Literal(lx.pos(), c))
                lx.i += 1
            elif c in METACHARS:
                break
            else:
                parts.extend(self._read_parts(METACHARS | {"(", ")"}, in_word=False))
        if not parts:
            raise lx.error("expected a regular expression after =~")
        return ast.Word(lx.pos(start), parts)

    # --- parts --------------------------------------------------------------------------

    def _flush(self, buf: list[str], parts: list[ast.WordPart]) -> None:
        """Move buffered literal characters into a Literal part.

        A literal run ends at the cursor, so its start is the cursor minus its length
        whenever no line continuation or escape was dropped inside it: close enough for
        a caret, and literals never carry errors of their own.
        """
        if buf:
            text = "".join(buf)
            parts.append(ast.Literal(self.lx.pos(max(self.lx.i - len(text), 0)), text))
            buf.clear()

    def _read_parts(
        self, stop: frozenset[str] | set[str], in_word: bool, param_op: str = "", in_dquote: bool = False
    ) -> list[ast.WordPart]:
        """Parts until an unquoted character in `stop` (not consumed) or the end.

        in_word:   a command-mode word (tilde, array literals and extglob apply)
        param_op:  inside `${x<op>...}`: blanks are literal; `'` quotes unless the
                   whole expansion sits in double quotes and op is not a pattern op
        """
        lx = self.lx
        text = lx.text
        parts: list[ast.WordPart] = []
        buf: list[str] = []
        while lx.i < lx.end:
            c = text[lx.i]
            if c in stop:
                if c == "(" and in_word:
                    if buf and buf[-1] in _EXTGLOB_OPS and lx.i + 1 < lx.end:
                        op = buf.pop()
                        self._flush(buf, parts)
                        parts.append(self._read_extglob(op))
                        continue
                    if not parts and _is_assignment_prefix("".join(buf)):
                        self._flush(buf, parts)
                        parts.append(self._read_array_literal())
                        continue
                if c == "&" and in_word and _in_host_pattern(parts, buf) and _continues_pattern(lx.peek_char(1)):
                    # `@web[1-9]&db*`: a nodeset intersection, not `&` (a space before
                    # `&` still means a background job).
                    buf.append(c)
                    lx.i += 1
                    continue
                break
            if c == "\\":
                nxt = lx.peek_char(1)
                if nxt == "\n":
                    lx.i += 2
                    continue
                self._flush(buf, parts)
                if nxt == "":
                    parts.append(ast.Literal(lx.pos(), "\\"))
                    lx.i += 1
                elif param_op and in_dquote:
                    # Inside "${x:-...}" a backslash follows double-quote rules; in a
                    # pattern it quotes any character.
                    if nxt in '$`"\\}' or param_op in PATTERN_OPS:
                        parts.append(ast.Escaped(lx.pos(), nxt))
                    else:
                        parts.append(ast.Escaped(lx.pos(), "\\" + nxt))
                    lx.i += 2
                else:
                    parts.append(ast.Escaped(lx.pos(), nxt))
                    lx.i += 2
            elif c == "'":
                if param_op and in_dquote and param_op not in PATTERN_OPS:
                    buf.append(c)
                    lx.i += 1
                    continue
                self._flush(buf, parts)
                parts.append(self._read_single_quoted())
            elif c == '"':
                self._flush(buf, parts)
                parts.append(self._read_double_quoted())
            elif c == "$" or c == "`":
                if c == "$" and lx.peek_char(1) == "'" and not (param_op and in_dquote and param_op not in PATTERN_OPS):
                    self._flush(buf, parts)
                    parts.append(self._read_ansi_c())
                    continue
                if c == "$" and lx.peek_char(1) == '"' and not in_dquote:
                    self._flush(buf, parts)
                    lx.i += 1
                    parts.append(self._read_double_quoted())
                    continue
                self._flush(buf, parts)
                parts.append(self._read_dollar_or_backtick(in_dquote=in_dquote))
            elif c == "~" and in_word and not parts and not buf:
                tilde = self._try_tilde(stop)
                if tilde is None:
                    buf.append(c)
                    lx.i += 1
                else:
                    parts.append(tilde)
            else:
                buf.append(c)
                lx.i += 1
        self._flush(buf, parts)
        return parts

    def _try_tilde(self, stop: frozenset[str] | set[str]) -> ast.Tilde | None:
        lx = self.lx
        j = lx.i + 1
        text = lx.text
        while j < lx.end and text[j] not in stop and text[j] != "/":
            ch = text[j]
            if not (ch.isalnum() or ch in "._-+"):
                return None
            j += 1
        tilde = ast.Tilde(lx.pos(), text[lx.i + 1 : j])
        lx.i = j
        return tilde

    def _read_single_quoted(self) -> ast.SingleQuoted:
        lx = self.lx
        start = lx.i
        close = lx.text.find("'", start + 1, lx.end)
        if close == -1:
            raise lx.incomplete("unterminated single quote", start)
        lx.i = close + 1
        return ast.SingleQuoted(lx.pos(start), lx.text[start + 1 : close])

    def _read_ansi_c(self) -> ast.SingleQuoted:
        lx = self.lx
        start = lx.i
        text = lx.text
        j = start + 2
        while j < lx.end and text[j] != "'":
            # \c takes the next character, even a quote: $'\c'' is Ctrl-'.
            j += (3 if text[j + 1 : j + 2] == "c" else 2) if text[j] == "\\" else 1
        if j >= lx.end:
            raise lx.incomplete("unterminated $'...' string", start)
        lx.i = j + 1
        return ast.SingleQuoted(lx.pos(start), decode_ansi_c(text[start + 2 : j]))

    def _read_double_quoted(self) -> ast.DoubleQuoted:
        start = self.lx.i
        self.lx.i += 1
        return ast.DoubleQuoted(self.lx.pos(start), self._read_expanding_text('"$`\\', closing='"'))

    def _read_extglob(self, op: str) -> ast.ExtGlob:
        """`@(a|b)` and friends; the cursor is at the `(`, the operator already read."""
        lx = self.lx
        start = lx.i - 1
        lx.i += 1
        alternatives: list[ast.Word] = []
        while True:
            alt_start = lx.i
            parts = self._read_parts(frozenset("|)\n"), in_word=False)
            alternatives.append(ast.Word(lx.pos(alt_start), parts))
            c = lx.peek_char()
            if c == "|":
                lx.i += 1
            elif c == ")":
                lx.i += 1
                return ast.ExtGlob(lx.pos(start), op, alternatives)
            else:
                raise lx.incomplete(f"unterminated {op}( pattern", start)

    def _read_array_literal(self) -> ast.ArrayLiteral:
        """`(a b [k]=v ...)` after `name=`; the cursor is at the `(`."""
        lx = self.lx
        start = lx.i
        lx.i += 1
        elements: list[ast.Word] = []
        while True:
            lx.skip_blanks()
            c = lx.peek_char()
            if c == "":
                raise lx.incomplete("unterminated array literal", start)
            if c == "\n":
                lx.i += 1
                continue
            if c == ")":
                lx.i += 1
                return ast.ArrayLiteral(lx.pos(start), elements)
            if c in METACHARS:
                raise lx.error(f"unexpected {c!r} in an array literal")
            elements.append(self.read_word())

    # --- $ and backquotes ---------------------------------------------------------------

    def _read_dollar_or_backtick(self, in_dquote: bool) -> ast.WordPart:
        lx = self.lx
        start = lx.i
        if lx.text[start] == "`":
            return self._read_backtick(in_dquote)
        lx.i += 1
        c = lx.peek_char()
        if c == "(":
            if lx.peek_char(1) == "(":
                arith = self._try_arith_sub(start)
                if arith is not None:
                    return arith
            return self._read_command_sub(start)
        if c == "{":
            return self._read_braced_param(start, in_dquote)
        if c and (c.isalpha() or c == "_"):
            j = lx.i
            text = lx.text
            while j < lx.end and (text[j].isalnum() or text[j] == "_") and text[j].isascii():
                j += 1
            name = text[lx.i : j]
            lx.i = j
            return ast.ParamSub(lx.pos(start), name, "", None, "", None, None, False)
        if c and ("0" <= c <= "9" or c in SPECIAL_PARAMS):
            lx.i += 1
            return ast.ParamSub(lx.pos(start), c, "", None, "", None, None, False)
        return ast.Literal(lx.pos(start), "$")

    def _try_arith_sub(self, start: int) -> ast.ArithSub | None:
        """`$((...))`, or None when the text is really `$( (...) )`."""
        from fmsh.syntax.arith_parser import parse_double_paren

        expr = parse_double_paren(self.lx, self.lx.i + 2)
        return ast.ArithSub(self.lx.pos(start), expr) if expr is not None else None

    def _read_command_sub(self, start: int) -> ast.CommandSub:
        from fmsh.syntax.parser import CommandParser

        lx = self.lx
        lx.i += 1
        parser = CommandParser(lx)
        body = parser.parse_list(frozenset(), closing=")")
        parser.expect(")", f"unterminated $( at {lx.pos(start)}", start, incomplete=True)
        return ast.CommandSub(lx.pos(start), body)

    def _read_backtick(self, in_dquote: bool) -> ast.CommandSub:
        from fmsh.syntax.parser import CommandParser

        lx = self.lx
        start = lx.i
        text = lx.text
        j = start + 1
        out: list[str] = []
        where: list[int] = []  # each character's offset in the outer text, for errors
        while True:
            if j >= lx.end:
                raise lx.incomplete("unterminated backquote", start)
            c = text[j]
            if c == "`":
                break
            if c == "\\" and j + 1 < lx.end:
                nxt = text[j + 1]
                if nxt in "$`\\" or (in_dquote and nxt == '"'):
                    out.append(nxt)
                    where.append(j + 1)
                    j += 2
                    continue
                if nxt == "\n":
                    j += 2
                    continue
            out.append(c)
            where.append(j)
            j += 1
        where.append(j)
        lx.i = j + 1
        line, _ = lx.source.line_col(start)
        sub = Source(lx.source.name, "".join(out), line_offset=line - 1)
        try:
            body = CommandParser(Lexer(sub)).parse_program().body
        except ParseError as e:
            raise outer_error(e, sub, lx.source, where) from None
        return ast.CommandSub(lx.pos(start), body)

    def _read_braced_param(self, start: int, in_dquote: bool) -> ast.WordPart:
        """`${...}`; the cursor is at the `{`."""
        lx = self.lx
        lx.i += 1
        prefix = ""
        c = lx.peek_char()
        if c in "#!" and lx.peek_char(1) not in ("}", ""):
            save = lx.i
            lx.i += 1
            name = self._read_param_name()
            nxt = lx.peek_char()
            if name is not None and (nxt in "}[" or (c == "!" and nxt in "@*:-=?+#%/^,")):
                prefix = c
                lx.i = save + 1
            else:
                lx.i = save
        name = self._read_param_name()
        if name is None:
            raise lx.error("bad substitution: expected a parameter name")
        index: ast.Word | None = None
        if lx.peek_char() == "[" and is_name(name):
            index = self._read_subscript()
        op = ""
        arg: ast.Word | None = None
        arg2: ast.Word | None = None
        c = lx.peek_char()
        if not c:
            raise lx.incomplete("unterminated ${", start)
        if prefix == "!" and c in "@*" and lx.peek_char(1) == "}":
            # ${!prefix@} / ${!prefix*}: names starting with the prefix.
            op = c
            lx.i += 1
        elif c == "}":
            pass
        elif c == ":":
            nxt = lx.peek_char(1)
            if nxt in "-=?+" and nxt:
                op = ":" + nxt
                lx.i += 2
                arg = self._read_param_arg(op, in_dquote, "}")
            else:
                op = ":"
                lx.i += 1
                arg = self._read_param_arg(op, in_dquote, ":}")
                if lx.peek_char() == ":":
                    lx.i += 1
                    arg2 = self._read_param_arg(op, in_dquote, "}")
        elif c in "-=?+":
            op = c
            lx.i += 1
            arg = self._read_param_arg(op, in_dquote, "}")
        elif c in "#%^,":
            op = c
            lx.i += 1
            if lx.peek_char() == c:
                op += c
                lx.i += 1
            arg = self._read_param_arg(op, in_dquote, "}")
        elif c == "/":
            op = "/"
            lx.i += 1
            if lx.peek_char() in ("/", "#", "%"):
                op += lx.peek_char()
                lx.i += 1
            arg = self._read_param_arg(op, in_dquote, "/}")
            if lx.peek_char() == "/":
                lx.i += 1
                arg2 = self._read_param_arg("", in_dquote, "}")
        elif c == "@" and lx.peek_char(1) in _TRANSFORMS and lx.peek_char(1):
            op = "@" + lx.peek_char(1)
            lx.i += 2
        else:
            # bash reports this when the expansion runs; an error at parse time is earlier
            # and names the place.
            raise lx.error("bad substitution")
        if lx.peek_char() != "}":
            raise lx.incomplete("unterminated ${", start)
        lx.i += 1
        return ast.ParamSub(lx.pos(start), name, prefix, index, op, arg, arg2, True)

    def _read_param_name(self) -> str | None:
        lx = self.lx
        text = lx.text
        c = lx.peek_char()
        if c and (c.isalpha() or c == "_") and c.isascii():
            j = lx.i
            while j < lx.end and (text[j].isalnum() or text[j] == "_") and text[j].isascii():
                j += 1
            name = text[lx.i : j]
            lx.i = j
            return name
        if "0" <= c <= "9":
            j = lx.i
            while j < lx.end and "0" <= text[j] <= "9":
                j += 1
            name = text[lx.i : j]
            lx.i = j
            return name
        if c and c in SPECIAL_PARAMS:
            lx.i += 1
            return c
        return None

    def _read_subscript(self) -> ast.Word:
        """`[...]` after an array name, as a word (arithmetic for indexed arrays, a key
        for associative ones: the evaluator decides)."""
        lx = self.lx
        start = lx.i
        lx.i += 1
        depth = 0
        parts: list[ast.WordPart] = []
        text = lx.text
        buf: list[str] = []
        while True:
            if lx.i >= lx.end:
                raise lx.incomplete("unterminated subscript", start)
            c = text[lx.i]
            if c == "]" and depth == 0:
                lx.i += 1
                break
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            if c in "$`":
                self._flush(buf, parts)
                parts.append(self._read_dollar_or_backtick(in_dquote=True))
            elif c == '"':
                self._flush(buf, parts)
                parts.append(self._read_double_quoted())
            elif c == "'":
                self._flush(buf, parts)
                parts.append(self._read_single_quoted())
            else:
                buf.append(c)
                lx.i += 1
        self._flush(buf, parts)
        return ast.Word(lx.pos(start), parts)

    def _read_param_arg(self, op: str, in_dquote: bool, stop: str) -> ast.Word:
        lx = self.lx
        start = lx.i
        parts = self._read_parts(frozenset(stop), in_word=False, param_op=op or "/", in_dquote=in_dquote)
        if lx.at_end():
            raise lx.incomplete("unterminated ${", start)
        return ast.Word(lx.pos(start), parts)
