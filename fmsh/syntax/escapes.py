"""Backslash escapes, in the three dialects the shell has: `$'...'` strings, `echo -e`
(and printf's %b), and printf formats. Bytes above 0x7f become surrogates, so that they
reach the OS unchanged through os.fsencode."""

from __future__ import annotations

_SIMPLE = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
           "t": "\t", "v": "\v", "\\": "\\"}  # fmt: skip
_HEX = "0123456789abcdefABCDEF"


def byte_char(value: int) -> str:
    """One byte as a character: itself below 0x80, a surrogate (surrogateescape) above."""
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


def decode_escapes(text: str, *, octal_zero: bool, control_c: bool, quotes: bool) -> tuple[str, bool]:
    """Decode escapes; returns the text and whether `\\c` stopped it.

    octal_zero: octal is `\\0NNN` (echo) rather than `\\NNN`
    control_c:  `\\cX` is Ctrl-X ($'...') rather than "stop here" (echo, printf)
    quotes:     `\\'`, `\\"` and `\\?` stand for the character itself
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
        if e in _SIMPLE:
            out.append(_SIMPLE[e])
        elif e == "c":
            if not control_c:
                return "".join(out), True
            if i < n:
                out.append(chr(ord(text[i]) & 0x1F))
                i += 1
            else:
                out.append("\\c")
        elif e in "01234567" and (e == "0" or not octal_zero):
            start = i if octal_zero else i - 1
            j = start
            while j < n and j - start < 3 and text[j] in "01234567":
                j += 1
            out.append(byte_char(int(text[start:j], 8) & 0xFF if j > start else 0))
            i = j
        elif e == "x":
            j = i
            while j < n and j - i < 2 and text[j] in _HEX:
                j += 1
            out.append(byte_char(int(text[i:j], 16)) if j > i else "\\x")
            i = j
        elif e in "uU":
            j = i
            while j < n and j - i < (4 if e == "u" else 8) and text[j] in _HEX:
                j += 1
            try:
                out.append(chr(int(text[i:j], 16)) if j > i else "\\" + e)
            except (ValueError, OverflowError):
                out.append("\\" + e + text[i:j])
            i = j
        elif quotes and e in "'\"?":
            out.append(e)
        else:
            out.append("\\" + e)
    return "".join(out), False


def decode_ansi_c(body: str) -> str:
    """The value of `$'...'`."""
    return decode_escapes(body, octal_zero=False, control_c=True, quotes=True)[0]


def decode_echo(text: str) -> tuple[str, bool]:
    """`echo -e` and printf's %b: octal as \\0NNN, \\c ends the output."""
    return decode_escapes(text, octal_zero=True, control_c=False, quotes=False)


def decode_printf(text: str) -> tuple[str, bool]:
    """A printf format's escapes: octal as \\NNN, \\c ends the output."""
    return decode_escapes(text, octal_zero=False, control_c=False, quotes=True)
