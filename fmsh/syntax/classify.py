"""What each character of a text is, from fmsh's own lexer and parser: the one
classification behind the prompt's colours (fmsh/repl/highlight.py) and the Pygments
lexer (fmsh/syntax/pygments_lexer.py).

The text is parsed as it would be run; the parser is watched as it goes (which tokens it
read, which words it made command names, which `@` words open a remote stage), so that
what is classified is what fmsh will do, not what a regular expression guesses. The kinds:

    command     a command name (`missing` instead when `is_command` says it does not exist)
    definition  the name of a function or task being defined
    keyword     reserved words and modifiers: if, for, do, timeout, retry, await, task...
    string      quoted text
    heredoc     here-document bodies
    variable    $x, ${x}, $(...), $((...)), `...`
    host        the @hosts word of a remote stage
    operator    ; & && || | |& ( )
    redirect    < > >> 2>&1 <<EOF ...
    target      the word a redirection reads or writes
    comment     # to the end of the line
    error       from a syntax error to the end of its line
    ""          anything else (arguments, blanks)

Input that is merely unfinished (an open quote, `if` without `fi`) is not an error: it is
what typing looks like. Nothing here imports a UI library (the prompt must stay fast, and
Pygments must not need prompt_toolkit); the callers map the kinds to their styles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fmsh.syntax import ast
from fmsh.syntax.errors import IncompleteInput, ParseError
from fmsh.syntax.lexer import EOF, NEWLINE, REDIR, WORD, Lexer, Token
from fmsh.syntax.modifiers import AWAIT_KINDS, MODIFIERS
from fmsh.syntax.parser import RESERVED, CommandParser, as_assignment, parse
from fmsh.syntax.source import Source

PLAIN = ""
COMMAND = "command"
MISSING = "missing"
DEFINITION = "definition"
KEYWORD = "keyword"
STRING = "string"
HEREDOC = "heredoc"
VARIABLE = "variable"
HOST = "host"
OPERATOR = "operator"
REDIRECT = "redirect"
TARGET = "target"
COMMENT = "comment"
ERROR = "error"
KINDS = (
    PLAIN,
    COMMAND,
    MISSING,
    DEFINITION,
    KEYWORD,
    STRING,
    HEREDOC,
    VARIABLE,
    HOST,
    OPERATOR,
    REDIRECT,
    TARGET,
    COMMENT,
    ERROR,
)

# Words shown as keywords where the parser did not take them as arguments of a command.
KEYWORDS = (
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
        # Only the outermost tokens: a $(...) is classified whole, as part of its word,
        # and not from an alias's text either.
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
        elif isinstance(command, ast.TaskBlock):
            # `task NAME [timeout DUR] {`: the word after `task` is the name.
            after = [o for o in self.watched.seen if o > first]
            if after:
                self.roles[min(after)] = _NAME
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


def classify(text: str, is_command: Callable[[str], bool] | None = None) -> list[str]:
    """A kind (see the module's docstring) for every character of `text`.

    is_command: whether a command name exists (the prompt asks its shell); without it
    every command name is a `command`. May raise on input the parser cannot take at all:
    callers that must not fail catch it.
    """
    classes = [PLAIN] * len(text)
    source = Source("text", text)
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
            continue  # inside a word already classified: the commands of a $(...)
        end = _token_end(text, tok)
        covered = end
        if tok.kind == WORD and tok.word is not None:
            _word(classes, tok, parser.roles.get(offset), redirect_target, is_command)
            redirect_target = False
        elif tok.kind == REDIR:
            _paint(classes, offset, end, REDIRECT)
            redirect_target = True
        elif tok.kind != NEWLINE:
            _paint(classes, offset, end, OPERATOR)
    _comments(text, classes, tokens, lexer.heredocs)
    for start, end in lexer.heredocs:
        _paint(classes, start, end, HEREDOC)
    if isinstance(error, IncompleteInput):
        _unfinished_tail(text, classes, covered)
    elif error is not None:
        start = error.pos.offset if error.pos.source is source else covered
        start = max(0, min(start, len(text)))
        line_end = text.find("\n", start)
        _paint(classes, start, len(text) if line_end == -1 else line_end, ERROR)
    return classes


def spans(text: str, is_command: Callable[[str], bool] | None = None) -> Iterator[tuple[int, str, str]]:
    """The text as runs of one kind: (offset, kind, text), in order, covering all of it."""
    classes = classify(text, is_command)
    run = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or classes[i] != classes[run]:
            yield run, classes[run], text[run:i]
            run = i


def _word(
    classes: list[str], tok: Token, role: str | None, redirect_target: bool, is_command: Callable[[str], bool] | None
) -> None:
    offset = tok.offset
    end = offset + len(tok.text)
    base = PLAIN
    if role == _COMMAND:
        name = tok.literal
        if name is not None and name in KEYWORDS:
            base = KEYWORD if name in RESERVED or name in MODIFIERS else COMMAND
        elif name is not None:
            base = COMMAND if is_command is None or is_command(name) else MISSING
    elif role == _NAME:
        base = DEFINITION
    elif role == _HOST:
        base = HOST
    elif role is None and not redirect_target and tok.literal in KEYWORDS:
        base = KEYWORD
    elif redirect_target:
        base = TARGET
    _paint(classes, offset, end, base)
    assert tok.word is not None
    _parts(classes, tok.word.parts, end)


def _finishable(text: str) -> bool:
    """Whether a text with a syntax error is only unfinished: `timeout 5 ` and `@web`
    are errors as they stand (a command must follow) but are what typing them looks like
    on the way. They are when a command written after them would make the text parse."""
    for ending in (" x", "x x"):
        try:
            parse(Source("text", text + ending))
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


def _paint(classes: list[str], start: int, end: int, kind: str) -> None:
    for i in range(max(0, start), min(end, len(classes))):
        classes[i] = kind


def _parts(classes: list[str], parts: list[ast.WordPart], end: int, starts: list[int] | None = None) -> None:
    """Classify the quoted and expanded parts of a word (each part runs to where the next
    starts, `starts` when given; the last to the end of the word)."""
    if starts is None:
        starts = [part.pos.offset for part in parts]
    for i, part in enumerate(parts):
        start = starts[i]
        stop = starts[i + 1] if i + 1 < len(parts) else end
        kind = type(part)
        if kind is ast.SingleQuoted:
            _paint(classes, start, stop, STRING)
        elif kind is ast.DoubleQuoted:
            _paint(classes, start, stop, STRING)
            inner = part.parts  # type: ignore[attr-defined]
            if inner:
                inner_starts = _quoted_starts(inner, stop)
                _parts(classes, inner, stop - 1, inner_starts)
                # The literal text inside stays a string: repaint what _parts left plain.
                for j, sub in enumerate(inner):
                    if type(sub) is ast.Literal or type(sub) is ast.Escaped:
                        sub_stop = inner_starts[j + 1] if j + 1 < len(inner) else stop - 1
                        _paint(classes, inner_starts[j], sub_stop, STRING)
        elif kind in (ast.ParamSub, ast.CommandSub, ast.ArithSub):
            _paint(classes, start, stop, VARIABLE)


def _quoted_starts(inner: list[ast.WordPart], stop: int) -> list[int]:
    """Where the parts inside a double-quoted string start. The word parser places the
    literal run that ends a string one character late (it is counted back from after the
    closing quote): `"$dir/x"` would otherwise colour `$dir/` as the variable."""
    starts = [part.pos.offset for part in inner]
    last = inner[-1]
    if len(inner) > 1 and type(last) is ast.Literal and starts[-1] == stop - len(last.text):  # type: ignore[attr-defined]
        starts[-1] -= 1
    return starts


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
                _paint(classes, i, stop, COMMENT)
                i = stop
            elif c == "\\":
                i += 2
            else:
                i += 1


def _unfinished_tail(text: str, classes: list[str], start: int) -> None:
    """What the lexer could not finish (an open quote, `$(` ...): from its first quote or
    `$` on, classified as what it is becoming."""
    for i in range(start, len(text)):
        c = text[i]
        if c in "'\"":
            _paint(classes, i, len(text), STRING)
            return
        if c in "$`":
            _paint(classes, i, len(text), VARIABLE)
            return
