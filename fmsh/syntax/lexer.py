"""The command-mode lexer: turns text into operator, newline and word tokens.

Shell lexing depends on context, so the lexer is a cursor that the parsers share: the
command parser pulls tokens with `next_token()`; a WORD token's structure (quotes,
`$...`, nested commands) is read by the word parser at the same cursor. Here-document
bodies are read when the newline that ends their command line is lexed.
"""

from __future__ import annotations

from fmsh.syntax import ast
from fmsh.syntax.errors import IncompleteInput, ParseError
from fmsh.syntax.source import Pos, Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.syntax.word_parser import WordParser

# Token kinds that are not operators spelled by their own text.
WORD = "WORD"
NEWLINE = "NEWLINE"
EOF = "EOF"
REDIR = "REDIR"

# Characters that end an unquoted word.
METACHARS = frozenset(" \t\n;&|<>()")

# Operators by first character, longest first.
_OPERATORS = {
    ";": (";;&", ";;", ";&", ";"),
    "&": ("&&", "&>>", "&>", "&"),
    "|": ("||", "|&", "|"),
    "(": ("(",),
    ")": (")",),
    "<": ("<<<", "<<-", "<<", "<&", "<>", "<"),
    ">": (">>", ">&", ">|", ">"),
}
TOO_DEEP = "nested too deeply to parse"

REDIRECT_OPS = frozenset(["<<<", "<<-", "<<", "<&", "<>", "<", ">>", ">&", ">|", ">", "&>", "&>>"])


class Token:
    """One token. `word` is set for WORD; `fd`/`fd_var` for a redirection operator."""

    __slots__ = ("kind", "text", "offset", "word", "fd", "fd_var", "source")

    def __init__(
        self,
        kind: str,
        text: str,
        offset: int,
        word: ast.Word | None = None,
        fd: int | None = None,
        fd_var: str | None = None,
    ) -> None:
        self.kind = kind
        self.text = text
        self.offset = offset
        self.word = word
        self.fd = fd
        self.fd_var = fd_var
        self.source: Source | None = None  # set by the lexer: an alias has its own

    @property
    def literal(self) -> str | None:
        """The word's text when it is one unquoted literal (how reserved words are told)."""
        if self.word is not None and len(self.word.parts) == 1:
            part = self.word.parts[0]
            if type(part) is ast.Literal:
                return part.text
        return None

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.text!r})"


class Lexer:
    """A cursor over one Source, shared by the word, arithmetic and command parsers."""

    def __init__(self, source: Source, start: int = 0, end: int | None = None) -> None:
        self.source = source
        self.text = source.text
        self.i = start
        self.end = len(self.text) if end is None else end
        self.pending_heredocs: list[ast.HereDoc] = []
        self._words: WordParser | None = None
        # Aliases to expand in command position (None: no alias expansion), and the
        # texts being read from alias expansions: (name, outer source, text, i, end).
        self.aliases: dict[str, str] | None = None
        self._frames: list[tuple[str, Source, str, int, int]] = []
        self.alias_blank = False  # the alias just read ended in a blank

    # --- cursor primitives --------------------------------------------------------------

    def pos(self, offset: int | None = None) -> Pos:
        return Pos(self.source, self.i if offset is None else offset)

    def error(self, message: str, offset: int | None = None) -> ParseError:
        return ParseError(message, self.pos(offset))

    def incomplete(self, message: str, offset: int | None = None) -> IncompleteInput:
        return IncompleteInput(message, self.pos(offset))

    def peek_char(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.text[j] if j < self.end else ""

    def at_end(self) -> bool:
        return self.i >= self.end

    @property
    def words(self) -> WordParser:
        if self._words is None:
            from fmsh.syntax.word_parser import WordParser

            self._words = WordParser(self)
        return self._words

    # --- tokens -------------------------------------------------------------------------

    def skip_blanks(self) -> None:
        """Skip blanks, line continuations and a comment (up to, not past, the newline)."""
        text, end = self.text, self.end
        i = self.i
        while i < end:
            c = text[i]
            if c == " " or c == "\t":
                i += 1
            elif c == "\\" and i + 1 < end and text[i + 1] == "\n":
                i += 2
            elif c == "#":
                nl = text.find("\n", i, end)
                i = end if nl == -1 else nl
            else:
                break
        self.i = i

    # --- aliases ------------------------------------------------------------------------

    def push_alias(self, name: str, value: str) -> None:
        """Read the alias's text next, then go on where the cursor is now."""
        self._frames.append((name, self.source, self.text, self.i, self.end))
        self.source = Source(f"alias {name}", value)
        self.text, self.i, self.end = value, 0, len(value)

    def expanding(self, name: str) -> bool:
        """Whether `name` is being expanded now (an alias does not expand inside itself)."""
        return any(frame[0] == name for frame in self._frames)

    def _pop_alias(self) -> None:
        self.alias_blank = self.text[-1:] in (" ", "\t")
        _, self.source, self.text, self.i, self.end = self._frames.pop()

    # --- tokens -------------------------------------------------------------------------

    def next_token(self) -> Token:
        try:
            tok = self._next_token()
        except RecursionError:
            # Nesting deeper than Python's stack (`$($($(...` a thousand times): an
            # error of the text, where the reading stopped, not a traceback.
            raise self.error(TOO_DEEP, min(self.i, self.end)) from None
        tok.source = self.source
        return tok

    def _next_token(self) -> Token:
        self.skip_blanks()
        while self.i >= self.end and self._frames:
            self._pop_alias()
            self.skip_blanks()
        text = self.text
        start = self.i
        if start >= self.end:
            return Token(EOF, "", start)
        c = text[start]
        if c == "\n":
            self.i += 1
            if self.pending_heredocs:
                self.read_heredoc_bodies()
            return Token(NEWLINE, "\n", start)
        ops = _OPERATORS.get(c)
        if ops is not None:
            for op in ops:
                if text.startswith(op, start, self.end):
                    self.i = start + len(op)
                    if op in REDIRECT_OPS:
                        return Token(REDIR, op, start)
                    return Token(op, op, start)
        if "0" <= c <= "9":
            j = start
            while j < self.end and "0" <= text[j] <= "9":
                j += 1
            if j < self.end and text[j] in "<>":
                fd_text = text[start:j]
                self.i = j
                tok = self._next_token()
                if tok.kind == REDIR and not tok.text.startswith("&"):
                    tok.fd = int(fd_text) if len(fd_text) < 10 else -1
                    tok.offset = start
                    return tok
                raise self.error("expected a redirection after a descriptor number", start)
        elif c == "{":
            j = start + 1
            while j < self.end and (text[j].isalnum() or text[j] == "_"):
                j += 1
            if j > start + 1 and j + 1 < self.end and text[j] == "}" and text[j + 1] in "<>":
                name = text[start + 1 : j]
                if not name[0].isdigit():
                    self.i = j + 1
                    tok = self._next_token()
                    if tok.kind == REDIR and not tok.text.startswith("&"):
                        tok.fd_var = name
                        tok.offset = start
                        return tok
                    self.i = start
        word = self.words.read_word()
        return Token(WORD, text[start : self.i], start, word=word)

    # --- here-documents -----------------------------------------------------------------

    def read_heredoc_bodies(self) -> None:
        """Read the bodies of the here-docs whose command line just ended."""
        pending, self.pending_heredocs = self.pending_heredocs, []
        for doc in pending:
            self._read_heredoc(doc)

    def _read_heredoc(self, doc: ast.HereDoc) -> None:
        text, end = self.text, self.end
        lines: list[str] = []
        where: list[int] = []  # each body character's offset in the text, for errors
        first_line_offset = self.i
        while self.i < end:
            nl = text.find("\n", self.i, end)
            line_end = end if nl == -1 else nl
            line = text[self.i : line_end]
            line_start = self.i
            self.i = line_end + 1 if nl != -1 else end
            if doc.strip_tabs:
                stripped = line.lstrip("\t")
                line_start += len(line) - len(stripped)
                line = stripped
            if line == doc.delimiter:
                break
            lines.append(line + "\n")
            where.extend(range(line_start, line_start + len(line) + 1))
        where.append(min(self.i, end))
        # A missing delimiter ends the body at end of input, as bash does (with no fuss).
        body = "".join(lines)
        pos = self.pos(first_line_offset)
        if doc.quoted:
            doc.body = ast.Word(pos, [ast.SingleQuoted(pos, body)])
            return
        first_line, _ = self.source.line_col(first_line_offset)
        sub = Source(self.source.name, body, line_offset=first_line - 1)
        try:
            doc.body = Lexer(sub).words.read_heredoc_body()
        except ParseError as e:
            from fmsh.syntax.word_parser import outer_error

            raise outer_error(e, sub, self.source, where) from None
