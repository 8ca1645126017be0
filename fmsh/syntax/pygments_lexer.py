"""A Pygments lexer for fmsh: `pygmentize -l fmsh deploy.fmsh`, and any tool built on
Pygments (Sphinx, MkDocs, Jupyter, `bat`-like pagers...).

Registered as the plugin entry point `fmsh` of the group `pygments.lexers` (see
pyproject.toml): it is found once fmsh and Pygments (`pip install 'fmsh[pygments]'`) are
installed side by side. It does not guess with regular expressions: it reads the text with
fmsh's own lexer and parser, through the classification the prompt colours its line with
(fmsh/syntax/classify.py), and maps each kind to a Pygments token type:

    command, definition  Name.Function      keyword   Keyword
    host (@web[01-20])   Name.Decorator     variable  Name.Variable ($x ${x} $(...) $((...)) `...`)
    string, heredoc      String.Single, String.Double, String.Heredoc
    operator, redirect   Operator           comment   Comment.Single (Comment.Hashbang for #!)
    error                Error              numbers and durations (3, 30s) Number

This module is imported by Pygments only; nothing else in fmsh imports Pygments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pygments.lexer import Lexer
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    String,
    Text,
    Whitespace,
)

from fmsh.syntax import classify as kinds

__all__ = ["FmshLexer", "TOKEN_TYPES"]

# The Pygments token type of each kind. Strings and comments are refined by their text
# (String.Single or String.Double, Comment.Single or Comment.Hashbang), and plain text is cut
# into Whitespace, Number (3, 30s, 90%) and Text: see _tokens.
TOKEN_TYPES: dict[str, Any] = {
    kinds.PLAIN: Text,
    kinds.COMMAND: Name.Function,
    kinds.MISSING: Name.Function,
    kinds.DEFINITION: Name.Function,
    kinds.KEYWORD: Keyword,
    kinds.STRING: String,
    kinds.HEREDOC: String.Heredoc,
    kinds.VARIABLE: Name.Variable,
    kinds.HOST: Name.Decorator,
    kinds.OPERATOR: Operator,
    kinds.REDIRECT: Operator,
    kinds.TARGET: Text,
    kinds.COMMENT: Comment,
    kinds.ERROR: Error,
}

_WORDS = re.compile(r"\s+|\S+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d)?%?\Z")


class FmshLexer(Lexer):
    """fmsh scripts: bash's syntax with `@hosts` remote stages, modifiers (timeout, retry,
    need, max), `await` and `task NAME { }` blocks."""

    name = "fmsh"
    aliases = ["fmsh"]
    filenames = ["*.fmsh"]
    mimetypes = ["text/x-fmsh", "application/x-fmsh"]

    @staticmethod
    def analyse_text(text: str) -> float:
        """A `#!...fmsh` first line (what `pygmentize -g` and guess_lexer go by)."""
        first = text.split("\n", 1)[0]
        if first.startswith("#!") and "fmsh" in first:
            return 1.0
        return 0.0

    def get_tokens_unprocessed(self, text: str) -> Iterator[tuple[int, Any, str]]:
        try:
            runs = list(kinds.spans(text))
        except Exception:  # a text the parser cannot take at all (deep nesting): plain
            yield 0, Text, text
            return
        for offset, kind, value in runs:
            yield from _tokens(offset, kind, value)


def _tokens(offset: int, kind: str, value: str) -> Iterator[tuple[int, Any, str]]:
    """One run of a kind as Pygments tokens."""
    if kind in (kinds.PLAIN, kinds.TARGET):
        # Blanks apart from words; a word that is a number or a duration is a Number.
        for match in _WORDS.finditer(value):
            word = match.group()
            if word[0].isspace():
                ttype = Whitespace
            elif _NUMBER.match(word):
                ttype = Number
            else:
                ttype = Text
            yield offset + match.start(), ttype, word
        return
    if kind == kinds.STRING:
        ttype = String.Single if value[0] == "'" else String.Double
    elif kind == kinds.COMMENT:
        ttype = Comment.Hashbang if offset == 0 and value.startswith("#!") else Comment.Single
    else:
        ttype = TOKEN_TYPES[kind]
    yield offset, ttype, value
