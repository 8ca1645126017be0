"""Brace expansion found at parse time: `a{b,c}d`, `{1..10}`, `{a..e..2}`.

Only unquoted braces and commas count, so the search runs over a word's parts after
they are read: the characters of Literal parts are split out, every other part stays
whole, and the result is rebuilt with BraceExpansion / BraceRange parts.
"""

from __future__ import annotations

from fmsh.syntax import ast
from fmsh.syntax.source import Pos


def find_braces(word: ast.Word) -> ast.Word:
    if not any(type(p) is ast.Literal and "{" in p.text for p in word.parts):
        return word
    items: list[str | ast.WordPart] = []
    for part in word.parts:
        if type(part) is ast.Literal:
            items.extend(part.text)
        else:
            items.append(part)
    parts, _ = _sequence(items, 0, False, word.pos, {})
    if not any(isinstance(p, (ast.BraceExpansion, ast.BraceRange)) for p in parts):
        return word
    return ast.Word(word.pos, parts)


Memo = dict[int, tuple[ast.WordPart | None, int]]


def _sequence(
    items: list[str | ast.WordPart], i: int, nested: bool, pos: Pos, memo: Memo
) -> tuple[list[ast.WordPart], int]:
    """Parts up to the end, or (nested) up to an unmatched `,` or `}`."""
    out: list[ast.WordPart] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            out.append(ast.Literal(pos, "".join(buf)))
            buf.clear()

    while i < len(items):
        item = items[i]
        if isinstance(item, str):
            if nested and item in ",}":
                break
            if item == "{":
                brace, j = _brace(items, i, pos, memo)
                if brace is not None:
                    flush()
                    out.append(brace)
                    i = j
                    continue
            buf.append(item)
        else:
            flush()
            out.append(item)
        i += 1
    flush()
    return out, i


def _brace(items: list[str | ast.WordPart], i: int, pos: Pos, memo: Memo) -> tuple[ast.WordPart | None, int]:
    """A brace group starting at items[i] == "{", or None when it is not one. Each `{`
    is tried once: without the memo, `{{{{...` (none closed) takes 2**n tries."""
    if i not in memo:
        memo[i] = _try_brace(items, i, pos, memo)
    return memo[i]


def _try_brace(items: list[str | ast.WordPart], i: int, pos: Pos, memo: Memo) -> tuple[ast.WordPart | None, int]:
    alternatives: list[list[ast.WordPart]] = []
    j = i + 1
    while True:
        parts, j = _sequence(items, j, True, pos, memo)
        alternatives.append(parts)
        if j >= len(items):
            return None, i
        if items[j] == "}":
            break
        j += 1  # the comma
    if len(alternatives) > 1:
        return ast.BraceExpansion(pos, alternatives), j + 1
    seq = _range(alternatives[0], pos)
    if seq is not None:
        return seq, j + 1
    return None, i


def _range(parts: list[ast.WordPart], pos: Pos) -> ast.BraceRange | None:
    if len(parts) != 1 or type(parts[0]) is not ast.Literal:
        return None
    fields = parts[0].text.split("..")
    if len(fields) not in (2, 3):
        return None
    start, end = fields[0], fields[1]
    step = 1
    if len(fields) == 3:
        try:
            step = int(fields[2])
        except ValueError:
            return None
    if _is_int(start) and _is_int(end):
        return ast.BraceRange(pos, start, end, step)
    if len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        return ast.BraceRange(pos, start, end, step)
    return None


def _is_int(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return body.isdigit() and body.isascii()
