"""Syntax highlighting at the prompt, from fmsh's own lexer and parser.

The line is parsed as it would be run; the parser is watched as it goes (which tokens it
read, which words it made command names, which `@` words open a remote stage), so that
what is coloured is what fmsh will do, not what a regular expression guesses:

    fmsh.command   a command name that exists (builtin, function, alias, keyword, PATH)
    fmsh.missing   a command name that does not
    fmsh.keyword   reserved words and modifiers: if, for, do, timeout, retry, await, task...
    fmsh.string    quoted text and here-document bodies
    fmsh.variable  $x, ${x}, $(...), $((...)), `...`
    fmsh.host      the @hosts word of a remote stage
    fmsh.operator  ; & && || | |& ( )
    fmsh.redirect  < > >> 2>&1 <<EOF ...
    fmsh.comment   # to the end of the line
    fmsh.error     from a syntax error to the end of its line

Input that is merely unfinished (an open quote, `if` without `fi`) is not an error: it is
what typing looks like. Anything that goes wrong in here leaves the text plain: a lexer
that raises would take the prompt down with it.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer as PromptLexer
from prompt_toolkit.styles import Style

from fmsh.repl.complete import PathCommands, command_kind
from fmsh.syntax import ast
from fmsh.syntax.errors import IncompleteInput, ParseError
from fmsh.syntax.lexer import EOF, NEWLINE, REDIR, WORD, Lexer, Token
from fmsh.syntax.modifiers import AWAIT_KINDS, MODIFIERS
from fmsh.syntax.parser import RESERVED, CommandParser, as_assignment, parse
from fmsh.syntax.source import Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell

# Longer input is shown plain: a 1 MB paste must not be parsed again on every keystroke.
MAX_HIGHLIGHT = 5_000

# Words shown as keywords where the parser did not take them as arguments of a command.
_KEYWORDS = (
    RESERVED
    | MODIFIERS
    | frozenset(AWAIT_KINDS)
    | frozenset(["await", "task", "backoff", "jitter", "on", "every", "status", "match", "into", "timeout"])
)

# Roles of a word token, set while watching the parser.
_COMMAND = "command"
_ARGUMENT = "argument"
_HOST = "host"
_REMOTE = "remote"  # the words run on the hosts: not looked up here
_NAME = "name"  # a function or task name being defined


def style() -> Style:
    """The colours of the highlighter's classes (ANSI colours: they follow the terminal's
    theme)."""
    return Style.from_dict(
        {
            "fmsh.command": "ansigreen",
            "fmsh.missing": "ansired",
            "fmsh.keyword": "bold",
            "fmsh.string": "ansiyellow",
            "fmsh.variable": "ansicyan",
            "fmsh.host": "ansimagenta bold",
            "fmsh.operator": "ansiblue",
            "fmsh.redirect": "ansiblue",
            "fmsh.comment": "ansibrightblack italic",
            "fmsh.error": "bg:ansired ansiwhite",
        }
    )


class _WatchedLexer(Lexer):
    """fmsh's lexer, keeping every token it hands out and where here-doc bodies lie."""

    def __init__(self, source: Source) -> None:
        super().__init__(source)
        self.seen: dict[int, Token] = {}
        self.heredocs: list[tuple[int, int]] = []
        self._depth = 0  # > 1 while a $(...) inside a word is being read

    def next_token(self) -> Token:
        self._depth += 1
        try:
            tok = super().next_token()
        finally:
            self._depth -= 1
        # Only the outermost tokens: a $(...) is coloured whole, as part of its word, and
        # not from an alias's text either.
        if self._depth == 0 and tok.source is self.source and tok.kind != EOF:
            self.seen[tok.offset] = tok
        return tok

    def read_heredoc_bodies(self) -> None:
        start = self.i
        try:
            super().read_heredoc_bodies()
        finally:
            self.heredocs.append((start, self.i))


class _WatchingParser(CommandParser):
    """fmsh's parser, noting the role of each word of the simple commands it makes."""

    def __init__(self, lexer: _WatchedLexer) -> None:
        super().__init__(lexer)
        self.watched = lexer
        self.roles: dict[int, str] = {}

    def _simple_command(self) -> ast.Command:
        first = self.peek().offset
        try:
            command = super()._simple_command()
        except ParseError:
            self._unfinished(first)
            raise
        if isinstance(command, ast.SimpleCommand):
            for i, word in enumerate(command.words):
                self.roles.setdefault(word.pos.offset, _COMMAND if i == 0 else _ARGUMENT)
        elif isinstance(command, ast.RemoteCommand):
            self.roles[command.hosts.pos.offset] = _HOST
            for word in command.words:
                self.roles.setdefault(word.pos.offset, _REMOTE)
        elif isinstance(command, ast.FunctionDef):
            self.roles[command.pos.offset] = _NAME
        return command

    def _unfinished(self, first: int) -> None:
        """A simple command cut short by an error: its name is the first word that is
        neither an assignment nor a redirection's target."""
        tokens = sorted((o, t) for o, t in self.watched.seen.items() if o >= first)
        named = False
        after_redirect = False
        for offset, tok in tokens:
            if tok.kind == REDIR:
                after_redirect = True
                continue
            if tok.kind != WORD or tok.word is None:
                break
            if after_redirect:
                after_redirect = False
                continue
            if not named and as_assignment(tok.word) is not None:
                continue
            if not named:
                self.roles.setdefault(offset, _HOST if tok.text.startswith("@") else _COMMAND)
                named = True
            else:
                self.roles.setdefault(offset, _ARGUMENT)


class FmshLexer(PromptLexer):
    """prompt_toolkit's lexer for the prompt: fmsh's syntax, the live shell's names."""

    def __init__(self, shell: Shell, programs: PathCommands | None = None) -> None:
        self.shell = shell
        # Shared with the completer when the session passes its own: one PATH cache.
        self.programs = programs if programs is not None else PathCommands()

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        lines = document.lines
        try:
            styled = self.highlight(document.text)
        except Exception:  # whatever fails, the text is shown plain
            styled = None

        def get_line(lineno: int) -> StyleAndTextTuples:
            if styled is not None and 0 <= lineno < len(styled):
                return styled[lineno]
            if 0 <= lineno < len(lines):
                return [("", lines[lineno])]
            return []

        return get_line

    def highlight(self, text: str) -> list[StyleAndTextTuples]:
        """The text's lines as (style, text) fragments."""
        if len(text) > MAX_HIGHLIGHT:
            return [[("", line)] for line in text.split("\n")]
        classes = self.classify(text)
        return _fragments(text, classes)

    def classify(self, text: str) -> list[str]:
        """A style class for every character of `text`."""
        classes = [""] * len(text)
        source = Source("prompt", text)
        lexer = _WatchedLexer(source)
        parser = _WatchingParser(lexer)
        error: ParseError | None = None
        try:
            parser.parse_program()
        except IncompleteInput as e:
            error = e
        except ParseError as e:
            error = None if _finishable(text) else e
        except RecursionError:
            error = None
        covered = 0
        redirect_target = False
        tokens = sorted(lexer.seen.items())
        for offset, tok in tokens:
            if offset < covered:
                continue  # inside a word already coloured: the commands of a $(...)
            end = _token_end(text, tok)
            covered = end
            if tok.kind == WORD and tok.word is not None:
                role = parser.roles.get(offset)
                self._word(classes, tok, role, redirect_target)
                redirect_target = False
            elif tok.kind == REDIR:
                _paint(classes, offset, end, "class:fmsh.redirect")
                redirect_target = True
            elif tok.kind != NEWLINE:
                _paint(classes, offset, end, "class:fmsh.operator")
        _comments(text, classes, tokens, lexer.heredocs)
        for start, end in lexer.heredocs:
            _paint(classes, start, end, "class:fmsh.string")
        if isinstance(error, IncompleteInput):
            _unfinished_tail(text, classes, covered)
        elif error is not None:
            start = error.pos.offset if error.pos.source is source else covered
            start = max(0, min(start, len(text)))
            line_end = text.find("\n", start)
            _paint(classes, start, len(text) if line_end == -1 else line_end, "class:fmsh.error")
        return classes

    def _word(self, classes: list[str], tok: Token, role: str | None, redirect_target: bool) -> None:
        offset = tok.offset
        end = offset + len(tok.text)
        base = ""
        if role == _COMMAND:
            name = tok.literal
            if name is not None and name in _KEYWORDS:
                base = "class:fmsh.keyword" if name in RESERVED or name in MODIFIERS else "class:fmsh.command"
            elif name is not None:
                found = command_kind(self.shell, name, self.programs)
                base = "class:fmsh.command" if found else "class:fmsh.missing"
        elif role == _NAME:
            base = "class:fmsh.command"
        elif role == _HOST:
            base = "class:fmsh.host"
        elif role is None and not redirect_target and tok.literal in _KEYWORDS:
            base = "class:fmsh.keyword"
        elif redirect_target:
            base = "class:fmsh.redirect"
        _paint(classes, offset, end, base)
        assert tok.word is not None
        _parts(classes, tok.word.parts, end)


def _finishable(text: str) -> bool:
    """Whether a line with a syntax error is only unfinished: `timeout 5 ` and `@web`
    are errors as they stand (a command must follow) but are what typing them looks like
    on the way. They are when a command written after them would make the line parse."""
    for ending in (" x", "x x"):
        try:
            parse(Source("prompt", text + ending))
        except IncompleteInput:
            return True
        except (ParseError, RecursionError):
            continue
        return True
    return False


def _token_end(text: str, tok: Token) -> int:
    """Where a token ends: a redirection's text leaves out its descriptor (`2>` has the
    text `>` and the offset of the 2)."""
    if tok.kind == REDIR and (tok.fd is not None or tok.fd_var is not None):
        at = text.find(tok.text, tok.offset)
        if at != -1:
            return at + len(tok.text)
    return tok.offset + len(tok.text)


def _paint(classes: list[str], start: int, end: int, style: str) -> None:
    for i in range(max(0, start), min(end, len(classes))):
        classes[i] = style


def _parts(classes: list[str], parts: list[ast.WordPart], end: int) -> None:
    """Colour the quoted and expanded parts of a word (each part runs to where the next
    starts; the last to the end of the word)."""
    for i, part in enumerate(parts):
        start = part.pos.offset
        stop = parts[i + 1].pos.offset if i + 1 < len(parts) else end
        kind = type(part)
        if kind is ast.SingleQuoted:
            _paint(classes, start, stop, "class:fmsh.string")
        elif kind is ast.DoubleQuoted:
            _paint(classes, start, stop, "class:fmsh.string")
            inner = part.parts  # type: ignore[attr-defined]
            if inner:
                _parts(classes, inner, stop - 1)
                # The literal text inside stays a string: repaint what _parts left plain.
                for j, sub in enumerate(inner):
                    if type(sub) is ast.Literal or type(sub) is ast.Escaped:
                        sub_stop = inner[j + 1].pos.offset if j + 1 < len(inner) else stop - 1
                        _paint(classes, sub.pos.offset, sub_stop, "class:fmsh.string")
        elif kind in (ast.ParamSub, ast.CommandSub, ast.ArithSub):
            _paint(classes, start, stop, "class:fmsh.variable")


def _comments(text: str, classes: list[str], tokens: list[tuple[int, Token]], heredocs: list[tuple[int, int]]) -> None:
    """Comments lie between tokens (the lexer skips them): a `#` in a gap, outside a
    here-doc body, runs to the end of its line."""
    position = 0
    gaps: list[tuple[int, int]] = []
    for offset, tok in tokens:
        if offset > position:
            gaps.append((position, offset))
        position = max(position, _token_end(text, tok))
    gaps.append((position, len(text)))
    for start, end in gaps:
        i = start
        while i < end:
            if any(a <= i < b for a, b in heredocs):
                i += 1
                continue
            c = text[i]
            if c == "#" and (i == 0 or text[i - 1] in " \t\n;&|()"):
                line_end = text.find("\n", i)
                stop = len(text) if line_end == -1 else line_end
                _paint(classes, i, stop, "class:fmsh.comment")
                i = stop
            elif c == "\\":
                i += 2
            else:
                i += 1


def _unfinished_tail(text: str, classes: list[str], start: int) -> None:
    """What the lexer could not finish (an open quote, `$(` ...): from its first quote or
    `$` on, shown as what it is becoming."""
    for i in range(start, len(text)):
        c = text[i]
        if c in "'\"":
            _paint(classes, i, len(text), "class:fmsh.string")
            return
        if c in "$`":
            _paint(classes, i, len(text), "class:fmsh.variable")
            return


def _fragments(text: str, classes: list[str]) -> list[StyleAndTextTuples]:
    """Runs of one style, split into lines (prompt_toolkit asks for one line at a time)."""
    lines: list[StyleAndTextTuples] = []
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        fragments: StyleAndTextTuples = []
        run = start
        for i in range(start + 1, end + 1):
            if i == end or classes[i] != classes[run]:
                fragments.append((classes[run], text[run:i]))
                run = i
        lines.append(fragments)
        start = end + 1
    return lines
