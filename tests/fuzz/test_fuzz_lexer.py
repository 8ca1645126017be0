"""Fuzzing the lexer (fmsh/syntax/lexer.py and the word parser it drives) and the
highlighter's classification of every character (fmsh/syntax/classify.py, what the prompt
and the Pygments lexer colour by).

Property: tokens until EOF, each one moving the cursor forward, or a ParseError that is
positioned in the input; never another exception, never a hang.
"""

from __future__ import annotations

from fuzzing import check_parse_error, count, within
from hypothesis import example, given
from strategies import shell_texts

from fmsh.syntax import classify
from fmsh.syntax.errors import ParseError
from fmsh.syntax.lexer import EOF, Lexer
from fmsh.syntax.source import Source


def tokens(text: str) -> list[str]:
    lexer = Lexer(Source("fuzz.fmsh", text))
    kinds: list[str] = []
    for _ in range(len(text) + 2):
        before = lexer.i
        tok = lexer.next_token()
        if tok.kind == EOF:
            return kinds
        assert lexer.i > before, f"the lexer did not move at {before}: {tok!r}"
        kinds.append(tok.kind)
    raise AssertionError("more tokens than characters")


@given(shell_texts())
@example("((((((" * 2000)
@example("$($($(" * 1000)
@example("${x:-${x:-${x:-" * 1000)
@example("`" + "\\`" * 500)
def test_lexer_tokens_or_positioned_error(text: str) -> None:
    count("lexer")
    with within(10):
        try:
            tokens(text)
        except ParseError as e:
            check_parse_error(e, text, "fuzz.fmsh")


@given(shell_texts())
@example("((((((" * 2000)
@example("echo $(( " + "(" * 3000 + "1" + ")" * 3000 + " ))")
def test_classify_covers_every_character(text: str) -> None:
    count("highlight")
    with within(10):
        kinds = classify.classify(text)
    assert len(kinds) == len(text)
    assert set(kinds) <= set(classify.KINDS) | {classify.MISSING}
