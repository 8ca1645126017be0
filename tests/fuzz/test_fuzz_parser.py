"""Fuzzing the parser (fmsh/syntax/parser.py, with the word and arithmetic parsers it
calls) on whole programs, and the checker that `fmsh check` and every task run on what it
parses (fmsh/check).

Property: a program, or a ParseError positioned in the input whose report names
`file:line:col` and shows the line with a caret under the column; never another
exception, never a hang. Deep nesting is an error like any other.
"""

from __future__ import annotations

import pytest
from fuzzing import check_parse_error, count, within
from hypothesis import example, given
from strategies import shell_texts

from fmsh.check import Defaults, check_program
from fmsh.runtime.errors import ShellError
from fmsh.syntax import ast
from fmsh.syntax.errors import IncompleteInput, ParseError
from fmsh.syntax.lexer import TOO_DEEP
from fmsh.syntax.parser import parse
from fmsh.syntax.source import Source

NAME = "fuzz.fmsh"
ALIASES = {"ll": "ls -l ", "open": "echo $(", "loop": "loop x", "when": "if", "q": "'unterminated"}
DEFAULTS = Defaults(3600.0, 10.0, 600.0)

# Nesting far past any script's, in every construct that nests.
DEEP = [
    "(" * 10_000,
    "(" * 10_000 + "x" + ")" * 10_000,
    "$(" * 5_000 + ")" * 5_000,
    "echo $(( " + "(" * 10_000 + "1" + ")" * 10_000 + " ))",
    "{ " * 5_000 + "x" + "; }" * 5_000,
    "if x; then " * 3_000 + "y" + "; fi" * 3_000,
    "echo ${x:-" * 5_000 + "}" * 5_000,
    '"$(' * 3_000,
    "echo " + "{a," * 5_000 + "}" * 5_000,
    "[[ " + "( " * 5_000 + "x" + " )" * 5_000 + " ]]",
    "echo $((" + "-" * 10_000 + "1))",
    "x=$((" + "a=" * 5_000 + "1))",
    "`" + "\\`" * 1_000,
]


def parse_or_error(text: str, aliases: dict[str, str] | None = None) -> ast.Program | ParseError:
    try:
        return parse(Source(NAME, text), aliases)
    except ParseError as e:
        return e


@given(shell_texts())
@example("echo `echo ${`")  # an error inside backquotes is shown on the line as written
@example("cat <<EOF\n\t${\nEOF\n")  # and inside a here-doc body
@example("cat <<-EOF\n\t\t$(\n")
@example("\x06" + "{" * 40 + "0")  # (atheris) braces never closed took 2**n tries: a hang
@example("for\n i in a b $x; do echo; done")  # the message quoted a newline
@example(" $\x00\x0b9\\\n\x00 ()")  # (atheris) the message quoted a name with a newline in it
def test_parse_program_or_positioned_error(text: str) -> None:
    count("parser")
    with within(10):
        result = parse_or_error(text)
    if isinstance(result, ParseError):
        check_parse_error(result, text, NAME)
    else:
        assert isinstance(result, ast.Program)


@given(shell_texts())
def test_parse_with_aliases(text: str) -> None:
    """Aliases read text of their own: an error in one is reported in it ("alias q")."""
    count("parser")
    with within(10):
        result = parse_or_error(text, ALIASES)
    if isinstance(result, ParseError) and not result.pos.source.name.startswith("alias "):
        check_parse_error(result, text, NAME)


@pytest.mark.parametrize("text", DEEP, ids=range(len(DEEP)))
def test_deep_nesting_is_a_positioned_error(text: str) -> None:
    with within(20):
        result = parse_or_error(text)
    if isinstance(result, ParseError):
        check_parse_error(result, text, NAME)
        assert result.message == TOO_DEEP or isinstance(result, IncompleteInput), result.message


@given(shell_texts())
def test_checker_reports_or_refuses(text: str) -> None:
    """`fmsh check` (and every task's start) on whatever parses: a report or ShellError."""
    result = parse_or_error(text)
    if isinstance(result, ParseError):
        return
    count("checker")
    with within(10):
        try:
            report = check_program(result, NAME, DEFAULTS)
        except ShellError:
            return
    for pos, message in report.diagnostics:
        assert pos.source.name == NAME and message
