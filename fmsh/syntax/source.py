"""A piece of program text and positions within it.

Every AST node carries a `Pos`: the source it came from and a character offset. Line and
column are computed only when someone asks (an error message, a step key), so parsing
stays cheap.
"""

from __future__ import annotations


class Source:
    """Program text with a name to report it by ("script.fmsh", "-c", "stdin")."""

    __slots__ = ("name", "text", "_line_starts", "line_offset")

    def __init__(self, name: str, text: str, line_offset: int = 0) -> None:
        self.name = name
        self.text = text
        # A source cut out of a bigger one (backticks, eval of a here-doc) reports the
        # lines of the outer file.
        self.line_offset = line_offset
        self._line_starts: list[int] | None = None

    def _starts(self) -> list[int]:
        if self._line_starts is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i != -1:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._line_starts = starts
        return self._line_starts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        from bisect import bisect_right

        starts = self._starts()
        index = bisect_right(starts, offset) - 1
        return index + 1 + self.line_offset, offset - starts[index] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line (as reported by line_col), without its newline."""
        starts = self._starts()
        index = line - 1 - self.line_offset
        if index < 0 or index >= len(starts):
            return ""
        end = self.text.find("\n", starts[index])
        return self.text[starts[index] : end if end != -1 else len(self.text)]


class Pos:
    """Where a node or token starts."""

    __slots__ = ("source", "offset")

    def __init__(self, source: Source, offset: int) -> None:
        self.source = source
        self.offset = offset

    @property
    def line(self) -> int:
        return self.source.line_col(self.offset)[0]

    @property
    def col(self) -> int:
        return self.source.line_col(self.offset)[1]

    def __str__(self) -> str:
        line, col = self.source.line_col(self.offset)
        return f"{self.source.name}:{line}:{col}"

    def __repr__(self) -> str:
        return f"Pos({self})"
