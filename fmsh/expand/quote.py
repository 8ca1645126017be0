"""Quoting values back into shell syntax: for `set -x`, `${x@Q}`, `printf %q`,
`declare -p` and `set` listings. The output always reads back as the same string."""

from __future__ import annotations

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./,:@%^")


def shell_quote(text: str) -> str:
    """Quote only when needed: `abc` stays, `a b` becomes `'a b'`."""
    if text and all(c in _SAFE for c in text):
        return text
    return shell_quote_always(text)


def posix_quote(text: str) -> str:
    """Single quotes only, for a POSIX sh on the other side (no $'...', which dash lacks):
    newlines and every other byte are safe inside them."""
    if text and all(c in _SAFE for c in text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def shell_quote_always(text: str) -> str:
    """Always quoted: `'abc'`; `$'...'` when the text has control characters."""
    if any(ord(c) < 32 or ord(c) == 127 or 0xDC80 <= ord(c) <= 0xDCFF for c in text):
        return "$'" + "".join(_ansi_escape(c) for c in text) + "'"
    return "'" + text.replace("'", "'\\''") + "'"


_BACKSLASHED = frozenset(" \t\n'\"\\|&;()<>!{}*[?]^$`,")


def backslash_quote(text: str) -> str:
    """bash's `printf %q`: special characters backslashed (`a\\ b`), `''` for the empty
    string, `$'...'` when there are control characters."""
    if not text:
        return "''"
    if any(ord(c) < 32 or ord(c) == 127 or 0xDC80 <= ord(c) <= 0xDCFF for c in text):
        return shell_quote_always(text)
    out = []
    for k, c in enumerate(text):
        if c in _BACKSLASHED or (k == 0 and c in "~#"):
            out.append("\\" + c)
        else:
            out.append(c)
    return "".join(out)


def _ansi_escape(c: str) -> str:
    special = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a", "\b": "\\b", "\f": "\\f",
               "\v": "\\v", "\x1b": "\\E", "'": "\\'", "\\": "\\\\"}  # fmt: skip
    if c in special:
        return special[c]
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\{code - 0xDC00:03o}"
    if code < 32 or code == 127:
        return f"\\{code:03o}"
    return c
