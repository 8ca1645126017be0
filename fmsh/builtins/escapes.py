"""Backslash escapes as `echo -e`, `printf` formats and `%b` arguments read them."""

from __future__ import annotations

_ECHO_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
                 "t": "\t", "v": "\v", "\\": "\\"}  # fmt: skip


def interpret_escapes(text: str, octal_needs_zero: bool) -> tuple[str, bool]:
    """Backslash escapes of `echo -e` / `%b` (octal_needs_zero) and of printf formats.

    Returns the text and whether a `\\c` stopped it.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = text[i + 1]
        i += 2
        if e in _ECHO_ESCAPES:
            out.append(_ECHO_ESCAPES[e])
        elif e == "c":
            return "".join(out), True
        elif e == "0" and octal_needs_zero or e in "01234567" and not octal_needs_zero:
            start = i if octal_needs_zero else i - 1
            j = start
            while j < n and j - start < 3 and text[j] in "01234567":
                j += 1
            value = int(text[start:j], 8) if j > start else 0
            out.append(byte_char(value & 0xFF))
            i = j
        elif e == "x":
            j = i
            while j < n and j - i < 2 and text[j] in "0123456789abcdefABCDEF":
                j += 1
            if j > i:
                out.append(byte_char(int(text[i:j], 16)))
                i = j
            else:
                out.append("\\x")
        elif e in "uU":
            j = i
            limit = 4 if e == "u" else 8
            while j < n and j - i < limit and text[j] in "0123456789abcdefABCDEF":
                j += 1
            if j > i:
                out.append(chr(int(text[i:j], 16)))
                i = j
            else:
                out.append("\\" + e)
        elif not octal_needs_zero and e in "\"'?":
            out.append(e)
        else:
            out.append("\\" + e)
    return "".join(out), False


def byte_char(value: int) -> str:
    return chr(value) if value < 0x80 else chr(0xDC00 + value)
