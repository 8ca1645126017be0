"""Syntax errors, and how they are shown: `FILE:LINE:COL: message`, the line, a caret."""

from __future__ import annotations

from fmsh.syntax.source import Pos


class ParseError(Exception):
    """A syntax error at a position. Exit status 2, as in bash."""

    def __init__(self, message: str, pos: Pos) -> None:
        if not message.isprintable():
            # A message quotes the text it stopped at, which may hold a newline (`f\<NL>()`)
            # or control characters: the report stays one line, escapes shown.
            message = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in message)
        super().__init__(message)
        self.message = message
        self.pos = pos

    def render(self) -> str:
        """The three-line report: location and message, the source line, a caret."""
        source = self.pos.source
        line, col = source.line_col(self.pos.offset)
        text = source.line_text(line)
        # Tabs before the caret are kept so that the caret lines up in a terminal.
        pad = "".join(c if c == "\t" else " " for c in text[: col - 1])
        return f"{source.name}:{line}:{col}: {self.message}\n  {text}\n  {pad}^"


class IncompleteInput(ParseError):
    """The text ended inside a construct (open quote, `if` without `fi`, trailing `|`).

    An interactive reader asks for another line instead of reporting it.
    """
