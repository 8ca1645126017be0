"""Parsing the modifiers (`timeout`, `retry`, `need`, `max`) and `await`: the syntax of
timeouts, retries, quorums, loop bounds and waits.

A modifier word is a modifier only in command position and only when what follows it
looks like its argument (`retry 3 ...`, `timeout -s KILL 5 ...`; for `timeout`, any word):
`retry() { ...; }` still defines a function and `retry curl x` still calls one. Arguments written as literals
are checked here, so that `timeout abc cmd` is a syntax error with its position; arguments
with expansions (`timeout $t cmd`) are checked when they are expanded.
"""

from __future__ import annotations

from fmsh.runtime.durations import parse_duration
from fmsh.syntax import ast
from fmsh.syntax.lexer import EOF, NEWLINE, REDIR, WORD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.syntax.lexer import Token
    from fmsh.syntax.parser import CommandParser

MODIFIERS = frozenset(["timeout", "retry", "need", "max"])
AWAIT_KINDS = ("port", "http", "file", "signal", "callback", "task", "until")
# The keywords each await kind takes after its operand (every kind: every, timeout).
AWAIT_OPTIONS = {
    "port": ("every", "timeout"),
    "http": ("status", "match", "every", "timeout"),
    "file": ("on", "every", "timeout"),
    "signal": ("into", "timeout"),
    "callback": ("into", "timeout"),
    "task": ("every", "timeout"),
    "until": ("every", "timeout"),
}
_ENDS_COMMAND = frozenset([";", "&", "&&", "||", "|", "|&", ")", ";;", ";&", ";;&"])
_CLOSING_WORDS = frozenset(["then", "else", "elif", "fi", "do", "done", "esac", "}"])


def _text_after(p: CommandParser, tok: Token) -> str:
    """The start of what follows `tok` on its line (a few characters: enough to decide)."""
    text = (tok.source or p.lx.source).text
    start = tok.offset + len(tok.text)
    while start < len(text) and text[start] in " \t":
        start += 1
    return text[start : start + 2]


def modifier_ahead(p: CommandParser, tok: Token) -> bool:
    """Whether the modifier word `tok` is followed by what its argument could be: for
    `timeout`, any word (coreutils' timeout takes nothing else either); for the others a
    number, a sign or an expansion (`retry curl x` calls a function called retry)."""
    rest = _text_after(p, tok)
    first = rest[:1]
    if not first or first in "\n;&|()<>=#":
        return False
    if tok.literal == "timeout":
        return True
    if tok.literal == "retry" and _task_retry(p, tok):
        return False
    return first in "$-+.'\"" or "0" <= first <= "9"


def _task_retry(p: CommandParser, tok: Token) -> bool:
    """`retry 41 --from 7` (or `retry 41` alone) is the task builtin, not the modifier:
    after the modifier's count comes a command (or backoff, jitter, on), never an option
    or the end of the command."""
    text = (tok.source or p.lx.source).text
    start = tok.offset + len(tok.text)
    end = text.find("\n", start)
    line = text[start : end if end != -1 and end - start < 400 else start + 400]
    count = line.lstrip(" \t")
    digits = len(count) - len(count.lstrip("0123456789"))
    if not digits:
        return False
    rest = count[digits:].lstrip(" \t")
    return not rest or rest[0] in ";&|)#-"


def await_ahead(p: CommandParser, tok: Token) -> bool:
    """`await` followed by a word: the start of a wait (the kind is checked when parsed)."""
    rest = _text_after(p, tok)
    return bool(rest) and (rest[0].isalpha())


def parse_modified(p: CommandParser) -> ast.Command:
    """Modifiers, then the pipeline or block they apply to."""
    first = p.peek()
    pos = p._pos(first)
    modifiers: list[ast.Modifier] = []
    while True:
        tok = p.peek()
        if not (tok.kind == WORD and tok.literal in MODIFIERS and modifier_ahead(p, tok)):
            break
        modifiers.append(_PARSERS[tok.literal](p))  # type: ignore[index]
    tok = p.peek()
    ends = tok.kind in _ENDS_COMMAND or tok.kind in (NEWLINE, EOF)
    if ends or (tok.kind == WORD and tok.literal in _CLOSING_WORDS):
        last = modifiers[-1]
        raise p.lx.error(f"a command must follow `{_word_of(last)}' (as in timeout 30s cmd)", last.pos.offset)
    command = p.parse_pipeline()
    for modifier in modifiers:
        if type(modifier) is ast.MaxModifier and not _is_loop(command):
            raise p.lx.error("`max N' bounds a loop: while, until or for ((...)) must follow it", modifier.pos.offset)
    return ast.Modified(pos, modifiers, command)


def _word_of(modifier: ast.Modifier) -> str:
    return {
        ast.TimeoutModifier: "timeout",
        ast.RetryModifier: "retry",
        ast.NeedModifier: "need",
        ast.MaxModifier: "max",
    }[type(modifier)]


def _is_loop(command: ast.Command) -> bool:
    while type(command) is ast.Modified:
        command = command.command  # type: ignore[attr-defined]
    return type(command) in (ast.WhileUntil, ast.ForArith)


# --- operands -------------------------------------------------------------------------


def _operand(p: CommandParser, after: Token, what: str) -> Token:
    tok = p.peek()
    if tok.kind != WORD or tok.literal in _CLOSING_WORDS:
        raise p.lx.error(f"`{after.text}': {what} must follow", tok.offset if tok.kind != EOF else after.offset)
    return p.next()


def _literal_word(p: CommandParser, text: str, offset: int) -> ast.Word:
    pos = p.lx.pos(offset)
    return ast.Word(pos, [ast.Literal(pos, text)])


def check_duration(p: CommandParser, tok: Token, text: str | None = None, offset: int | None = None) -> None:
    value = text if text is not None else tok.literal
    if value is not None and parse_duration(value) is None:
        raise p.lx.error(
            f"`{value}': not a duration (a number of seconds, or with ms, s, m, h or d: 100ms, 30s, 1.5m, 2h)",
            offset if offset is not None else tok.offset,
        )


def _check_count(p: CommandParser, tok: Token, what: str) -> None:
    value = tok.literal
    if value is not None and (not (value.isdigit() and value.isascii()) or int(value) < 1):
        raise p.lx.error(f"`{value}': not {what} (a whole number, 1 or more)", tok.offset)


# --- each modifier --------------------------------------------------------------------


def _timeout(p: CommandParser) -> ast.TimeoutModifier:
    keyword = p.next()
    pos = p._pos(keyword)
    signal: ast.Word | None = None
    kill_after: ast.Word | None = None
    preserve = verbose = foreground = False
    while True:
        tok = p.peek()
        option = tok.literal if tok.kind == WORD else None
        if option is None or not option.startswith("-") or option == "-":
            break
        p.next()
        name = option.partition("=")[0]
        if option == "--":
            break
        if name == "--signal" or option.startswith("-s"):
            signal = _option_value(p, tok, "a signal name")
            _check_signal(p, signal)
        elif name == "--kill-after" or option.startswith("-k"):
            kill_after = _option_value(p, tok, "a duration")
            _check_word_duration(p, kill_after)
        elif option == "--preserve-status":
            preserve = True
        elif option in ("-v", "--verbose"):
            verbose = True
        elif option == "--foreground":
            foreground = True
        else:
            raise p.lx.error(
                f"timeout: `{option}': not an option (-s SIGNAL, -k DURATION, --preserve-status, --foreground, -v)",
                tok.offset,
            )
    duration_tok = _operand(p, keyword, "a duration")
    check_duration(p, duration_tok)
    assert duration_tok.word is not None
    return ast.TimeoutModifier(pos, duration_tok.word, signal, kill_after, preserve, verbose, foreground)


def _option_value(p: CommandParser, tok: Token, what: str) -> ast.Word | None:
    """The value of `-sVALUE`, `--signal=VALUE` or `-s VALUE` (the option is `tok`)."""
    option = tok.literal
    assert option is not None
    if not option.startswith("--") and len(option) > 2:
        return _literal_word(p, option[2:], tok.offset + 2)
    name, eq, value = option.partition("=")
    if eq:
        return _literal_word(p, value, tok.offset + len(name) + 1)
    return _operand(p, tok, what).word


def _check_word_duration(p: CommandParser, word: ast.Word | None) -> None:
    if word is not None and len(word.parts) == 1 and type(word.parts[0]) is ast.Literal:
        text = word.parts[0].text  # type: ignore[attr-defined]
        if parse_duration(text) is None:
            check_duration(p, None, text, word.pos.offset)  # type: ignore[arg-type]


def _check_signal(p: CommandParser, word: ast.Word | None) -> None:
    from fmsh.runtime.signals import signal_number

    if word is not None and len(word.parts) == 1 and type(word.parts[0]) is ast.Literal:
        text = word.parts[0].text  # type: ignore[attr-defined]
        if signal_number(text) is None:
            raise p.lx.error(f"`{text}': not a signal (as in TERM, INT, KILL or 9)", word.pos.offset)


def _retry(p: CommandParser) -> ast.RetryModifier:
    keyword = p.next()
    pos = p._pos(keyword)
    count_tok = _operand(p, keyword, "a number of attempts")
    _check_count(p, count_tok, "a number of attempts")
    backoff_min: ast.Word | None = None
    backoff_max: ast.Word | None = None
    jitter = False
    on: ast.Word | None = None
    while True:
        tok = p.peek()
        clause = tok.literal if tok.kind == WORD else None
        if clause == "backoff":
            p.next()
            value_tok = _operand(p, tok, "a duration or MIN..MAX")
            backoff_min, backoff_max = _backoff(p, value_tok)
        elif clause == "jitter":
            p.next()
            jitter = True
        elif clause == "on":
            p.next()
            value_tok = _operand(p, tok, "statuses (as in on 75,255)")
            _check_statuses(p, value_tok)
            on = value_tok.word
        else:
            break
    assert count_tok.word is not None
    return ast.RetryModifier(pos, count_tok.word, backoff_min, backoff_max, jitter, on)


def _backoff(p: CommandParser, tok: Token) -> tuple[ast.Word, ast.Word | None]:
    assert tok.word is not None
    text = tok.literal
    if text is None:
        return tok.word, None  # split when expanded
    low, dots, high = text.partition("..")
    check_duration(p, tok, low, tok.offset)
    if not dots:
        return _literal_word(p, low, tok.offset), None
    check_duration(p, tok, high, tok.offset + len(low) + 2)
    if (parse_duration(low) or 0) > (parse_duration(high) or 0):
        raise p.lx.error(f"backoff {text}: the shortest wait comes first (as in backoff 1s..30s)", tok.offset)
    return _literal_word(p, low, tok.offset), _literal_word(p, high, tok.offset + len(low) + 2)


def _check_statuses(p: CommandParser, tok: Token) -> None:
    text = tok.literal
    if text is None:
        return
    for item in text.split(","):
        if not (item.isdigit() and item.isascii()) or int(item) > 255:
            raise p.lx.error(f"retry on `{text}': not a list of exit statuses (as in on 75,255)", tok.offset)


def _need(p: CommandParser) -> ast.NeedModifier:
    keyword = p.next()
    tok = _operand(p, keyword, "a number of hosts or a percentage")
    text = tok.literal
    if text is not None:
        number = text[:-1] if text.endswith("%") else text
        if not (number.isdigit() and number.isascii()) or int(number) < 1 or (text.endswith("%") and int(number) > 100):
            raise p.lx.error(
                f"need `{text}': not a number of hosts or a percentage (as in need 8, need 80%)", tok.offset
            )
    assert tok.word is not None
    return ast.NeedModifier(p._pos(keyword), tok.word)


def _max(p: CommandParser) -> ast.MaxModifier:
    keyword = p.next()
    tok = _operand(p, keyword, "a number of rounds")
    _check_count(p, tok, "a number of rounds")
    assert tok.word is not None
    return ast.MaxModifier(p._pos(keyword), tok.word)


_PARSERS = {"timeout": _timeout, "retry": _retry, "need": _need, "max": _max}


# --- await ----------------------------------------------------------------------------


def parse_await(p: CommandParser) -> ast.Await:
    keyword = p.next()
    pos = p._pos(keyword)
    kind_tok = p.next()
    kind = kind_tok.literal
    if kind not in AWAIT_KINDS:
        raise p.lx.error(f"await `{kind_tok.text}': not a kind of wait ({', '.join(AWAIT_KINDS)})", kind_tok.offset)
    block: ast.Command | None = None
    if kind == "until":
        tok = p.peek()
        if tok.kind == WORD and tok.literal == "{":
            block = p._brace_group()
    tokens: list[Token] = []
    redirects: list[ast.Redirect] = []
    while True:
        tok = p.peek()
        if tok.kind == REDIR:
            redirects.append(p._redirect(p.next()))
        elif tok.kind == WORD and tok.literal not in _CLOSING_WORDS:
            tokens.append(p.next())
        else:
            break
    keywords = AWAIT_OPTIONS[kind]
    options: dict[str, ast.Word] = {}
    if kind == "until":
        # The command's words come first; its options are the keyword pairs at the end.
        while len(tokens) >= 2 and tokens[-2].literal in keywords and tokens[-2].literal not in options:
            value = tokens.pop()
            name = tokens.pop().literal
            options[name] = _await_value(p, name, value)  # type: ignore[index,arg-type]
        if block is None:
            if not tokens:
                raise p.lx.error(
                    "await until: a command must follow (as in await until test -e /ready)", kind_tok.offset
                )
            block = ast.SimpleCommand(p._pos(tokens[0]), [], [t.word for t in tokens], [])  # type: ignore[misc]
        elif tokens:
            raise p.lx.error(f"await until: `{tokens[0].text}': not an option (every, timeout)", tokens[0].offset)
        return ast.Await(pos, kind, [], options, block, redirects)
    if not tokens:
        raise p.lx.error(f"await {kind}: {_OPERAND[kind]} must follow", kind_tok.offset)
    args = [tokens[0].word]
    k = 1
    while k < len(tokens):
        tok = tokens[k]
        name = tok.literal
        if name not in keywords:
            raise p.lx.error(f"await {kind}: `{tok.text}': not an option ({', '.join(keywords)})", tok.offset)
        if name in options:
            raise p.lx.error(f"await {kind}: `{name}' given twice", tok.offset)
        if k + 1 >= len(tokens):
            raise p.lx.error(f"await {kind}: `{name}' needs a value", tok.offset)
        options[name] = _await_value(p, name, tokens[k + 1])  # type: ignore[index]
        k += 2
    return ast.Await(pos, kind, args, options, None, redirects)  # type: ignore[arg-type]


_OPERAND = {
    "port": "HOST:PORT",
    "http": "a URL",
    "file": "a path",
    "signal": "a signal name",
    "callback": 'a callback URL (as in "$url", from `callback url`)',
    "task": "a task id",
}


def _await_value(p: CommandParser, name: str, tok: Token) -> ast.Word:
    text = tok.literal
    if name in ("every", "timeout"):
        check_duration(p, tok)
    elif name == "status" and text is not None and not (text.isdigit() and text.isascii() and 100 <= int(text) <= 599):
        raise p.lx.error(f"await http status `{text}': not an HTTP status (100-599)", tok.offset)
    elif name == "into" and text is not None:
        from fmsh.syntax.word_parser import is_name

        if not is_name(text):
            raise p.lx.error(f"await into `{text}': not a variable name", tok.offset)
    assert tok.word is not None
    return tok.word
