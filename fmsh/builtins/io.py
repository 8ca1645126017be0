"""Builtins that read and write: `echo`, `printf`, `read`, `mapfile`/`readarray`."""

from __future__ import annotations

import os

from fmsh.builtins.base import Builtin, UsageError, parse_flags
from fmsh.runtime.errors import ShellError
from fmsh.runtime.state import IndexedArray

_ECHO_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
                 "t": "\t", "v": "\v", "\\": "\\"}  # fmt: skip


class _Stop(Exception):
    """`\\c` in echo -e or printf %b: no further output at all."""


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
            out.append(_byte(value & 0xFF))
            i = j
        elif e == "x":
            j = i
            while j < n and j - i < 2 and text[j] in "0123456789abcdefABCDEF":
                j += 1
            if j > i:
                out.append(_byte(int(text[i:j], 16)))
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


def _byte(value: int) -> str:
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


class Echo(Builtin):
    """`echo [-neE] ARGS`: bash's echo (no escapes unless -e)."""

    name = "echo"

    def run(self, argv: list[str]) -> int:
        newline = True
        escapes = self.sh.options.shopt["xpg_echo"]
        i = 1
        while i < len(argv):
            arg = argv[i]
            if len(arg) < 2 or arg[0] != "-" or any(c not in "neE" for c in arg[1:]):
                break
            for c in arg[1:]:
                if c == "n":
                    newline = False
                elif c == "e":
                    escapes = True
                else:
                    escapes = False
            i += 1
        text = " ".join(argv[i:])
        if escapes:
            text, stopped = interpret_escapes(text, octal_needs_zero=True)
            if stopped:
                newline = False
        self.write(text + "\n" if newline else text)
        return 0


class Printf(Builtin):
    """`printf [-v VAR] FORMAT [ARGS]`: the format is reused until the arguments run out."""

    name = "printf"

    def run(self, argv: list[str]) -> int:
        flags, args = parse_flags(argv, "", with_value="v")
        if not args:
            raise UsageError("usage: printf [-v var] format [arguments]")
        self.status = 0
        fmt, values = args[0], args[1:]
        out: list[str] = []
        try:
            position = 0
            while True:
                used = self._format_once(fmt, values, position, out)
                position += used
                if used == 0 or position >= len(values):
                    break
        except _Stop:
            pass
        text = "".join(out)
        target = flags.get("v")
        if isinstance(target, str):
            from fmsh.syntax.word_parser import is_name

            if "[" in target and target.endswith("]"):
                base, _, key = target[:-1].partition("[")
                self.sh.vars.set_element(base, self.sh.cmd.simple.subscript(base, _literal_word(key)), text)
            elif not is_name(target):
                raise ShellError(f"`{target}': not a valid identifier", status=2)
            else:
                self.sh.vars.set(target, text)
        else:
            self.write(text)
        return self.status

    def _format_once(self, fmt: str, values: list[str], position: int, out: list[str]) -> int:
        """Format once from values[position:]; returns how many values were used."""
        used = 0
        i, n = 0, len(fmt)

        def next_value() -> str | None:
            nonlocal used
            if position + used < len(values):
                used += 1
                return values[position + used - 1]
            return None

        while i < n:
            c = fmt[i]
            if c == "\\":
                text, i, stopped = _format_escape(fmt, i)
                out.append(text)
                if stopped:
                    raise _Stop()
                continue
            if c != "%":
                out.append(c)
                i += 1
                continue
            if fmt[i + 1 : i + 2] == "%":
                out.append("%")
                i += 2
                continue
            j = i + 1
            while j < n and fmt[j] in "-+ #0'":
                j += 1
            spec_flags = fmt[i + 1 : j].replace("'", "")
            width = ""
            if j < n and fmt[j] == "*":
                width = str(_to_int(self, next_value() or "0"))
                j += 1
            else:
                while j < n and fmt[j].isdigit():
                    width += fmt[j]
                    j += 1
            precision: str | None = None
            if j < n and fmt[j] == ".":
                j += 1
                precision = ""
                if j < n and fmt[j] == "*":
                    precision = str(_to_int(self, next_value() or "0"))
                    j += 1
                else:
                    while j < n and fmt[j].isdigit():
                        precision += fmt[j]
                        j += 1
            while j < n and fmt[j] in "hlLqjzt":
                j += 1
            if j >= n:
                raise ShellError(f"`{fmt[i:]}': missing format character")
            conversion = fmt[j]
            i = j + 1
            if width.startswith("-"):
                spec_flags += "-"
                width = width[1:]
            try:
                out.append(self._convert(conversion, spec_flags, width, precision, next_value()))
            except _StopAfter as stop:
                out.append(stop.text)
                raise _Stop() from None
        return used

    def _convert(self, conversion: str, flags: str, width: str, precision: str | None, value: str | None) -> str:
        spec = "%" + flags + width + ("." + precision if precision is not None else "")
        if conversion == "s":
            return (spec + "s") % (value if value is not None else "")
        if conversion == "b":
            text, stopped = interpret_escapes(value or "", octal_needs_zero=True)
            result = (spec + "s") % text
            if stopped:
                raise _StopAfter(result)
            return result
        if conversion == "q":
            from fmsh.expand.quote import shell_quote

            return (spec + "s") % shell_quote(value or "") if value is not None else (spec + "s") % "''"
        if conversion == "c":
            return (spec + "s") % (value[:1] if value else "")
        if conversion in "diouxX":
            number = _to_int(self, value) if value is not None else 0
            if conversion in "ouxX" and number < 0:
                number &= (1 << 64) - 1
            py = "d" if conversion in "diu" else conversion
            return (spec + py) % number
        if conversion in "eEfFgGaA":
            number_f = _to_float(self, value) if value is not None else 0.0
            py = conversion if conversion not in "aA" else "e"
            return (spec + py) % number_f
        raise ShellError(f"`{conversion}': invalid format character")


class _StopAfter(_Stop):
    """`\\c` inside a %b argument: what was formatted so far is printed, then nothing."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def _format_escape(fmt: str, i: int) -> tuple[str, int, bool]:
    """The backslash escape of a printf format at fmt[i]: (text, next index, stopped)."""
    e = fmt[i + 1 : i + 2]
    if e and e in "01234567":
        j = i + 1
        while j < len(fmt) and j - (i + 1) < 3 and fmt[j] in "01234567":
            j += 1
        return _byte(int(fmt[i + 1 : j], 8) & 0xFF), j, False
    if e in ("x", "u", "U"):
        limit = {"x": 2, "u": 4, "U": 8}[e]
        j = i + 2
        while j < len(fmt) and j - (i + 2) < limit and fmt[j] in "0123456789abcdefABCDEF":
            j += 1
        text, stopped = interpret_escapes(fmt[i:j], octal_needs_zero=False)
        return text, j, stopped
    text, stopped = interpret_escapes(fmt[i : i + 2], octal_needs_zero=False)
    return text, i + 2, stopped


def _literal_word(text: str):  # type: ignore[no-untyped-def]
    from fmsh.syntax import ast

    return ast.Word(None, [ast.Literal(None, text)])  # type: ignore[arg-type]


def _to_int(builtin: Printf, text: str) -> int:
    body = text.strip()
    if body[:1] in ("'", '"'):
        return ord(body[1]) if len(body) > 1 else 0
    try:
        sign = -1 if body.startswith("-") else 1
        digits = body.lstrip("+-")
        if digits[:2].lower() == "0x":
            return sign * int(digits[2:], 16)
        if len(digits) > 1 and digits[0] == "0":
            return sign * int(digits, 8)
        return sign * int(digits, 10)
    except ValueError:
        builtin.warn(f"{text}: invalid number")
        builtin.status = 1
        return 0


def _to_float(builtin: Printf, text: str) -> float:
    body = text.strip()
    if body[:1] in ("'", '"'):
        return float(ord(body[1])) if len(body) > 1 else 0.0
    try:
        return float(body)
    except ValueError:
        builtin.warn(f"{text}: invalid number")
        builtin.status = 1
        return 0.0


class Read(Builtin):
    """`read [-rs] [-a ARRAY] [-d DELIM] [-n N] [-N N] [-p PROMPT] [-t SECS] [-u FD] [NAME...]`."""

    name = "read"

    def run(self, argv: list[str]) -> int:
        flags, names = parse_flags(argv, "rse", with_value="adnNptu")
        raw = bool(flags.get("r"))
        delimiter = flags.get("d", "\n")
        assert isinstance(delimiter, str)
        delimiter = delimiter[:1] if delimiter else "\0"
        fd = int(flags["u"]) if isinstance(flags.get("u"), str) else 0
        limit = int(flags["n"]) if isinstance(flags.get("n"), str) else (
            int(flags["N"]) if isinstance(flags.get("N"), str) else -1
        )
        exact = isinstance(flags.get("N"), str)
        prompt = flags.get("p")
        if isinstance(prompt, str) and os.isatty(fd):
            self.write(prompt, 2)
        timeout = float(flags["t"]) if isinstance(flags.get("t"), str) else None
        chars, complete = self._read(fd, delimiter, raw, limit, exact, timeout)
        if chars is None:
            return 142  # timed out, as bash
        array = flags.get("a")
        if isinstance(array, str):
            fields = split_fields(self.sh, chars, 0)
            self.sh.vars.set_array(array, IndexedArray(enumerate(fields)))
        elif not names:
            self.sh.vars.set("REPLY", "".join(c for c, _ in chars))
        else:
            fields = split_fields(self.sh, chars, len(names))
            for k, name in enumerate(names):
                self.sh.vars.set(name, fields[k] if k < len(fields) else "")
        return 0 if complete else 1

    def _read(
        self, fd: int, delimiter: str, raw: bool, limit: int, exact: bool, timeout: float | None
    ) -> tuple[list[tuple[str, bool]] | None, bool]:
        """Characters up to the delimiter, each with whether it was backslash-escaped."""
        reader = _ByteReader(fd, timeout)
        try:
            return self._read_chars(reader, delimiter, raw, limit, exact)
        finally:
            reader.finish()

    @staticmethod
    def _read_chars(
        reader: _ByteReader, delimiter: str, raw: bool, limit: int, exact: bool
    ) -> tuple[list[tuple[str, bool]] | None, bool]:
        chars: list[tuple[str, bool]] = []
        pending = bytearray()
        escaped_next = False
        while limit < 0 or len(chars) < limit:
            byte = reader.next()
            if byte == -2:
                return None, False
            if byte == -1:
                if pending:
                    chars.extend((c, False) for c in pending.decode("utf-8", "surrogateescape"))
                return chars, False
            pending.append(byte)
            try:
                text = pending.decode("utf-8")
            except UnicodeDecodeError:
                if len(pending) < 4:
                    continue
                text = pending.decode("utf-8", "surrogateescape")
            pending.clear()
            for c in text:
                if escaped_next:
                    escaped_next = False
                    if c != "\n":
                        chars.append((c, True))
                    continue
                if c == delimiter and not exact:
                    return chars, True
                if c == "\\" and not raw:
                    escaped_next = True
                    continue
                chars.append((c, False))
        return chars, True


class _ByteReader:
    """Reads one byte at a time, so that the rest of the input stays for the next reader.

    A regular file is read in blocks and the offset put back at the end, as bash does.
    """

    def __init__(self, fd: int, timeout: float | None) -> None:
        self.fd = fd
        self.timeout = timeout
        self.buffer = b""
        self.index = 0
        import stat

        try:
            self.seekable = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError as e:
            raise ShellError(f"{fd}: invalid file descriptor: {e.strerror}") from None

    def next(self) -> int:
        """The next byte; -1 at end of input, -2 when the timeout passed."""
        if self.index < len(self.buffer):
            self.index += 1
            return self.buffer[self.index - 1]
        if self.timeout is not None:
            import select

            ready, _, _ = select.select([self.fd], [], [], self.timeout)
            if not ready:
                return -2
        try:
            data = os.read(self.fd, 4096 if self.seekable else 1)
        except OSError as e:
            raise ShellError(f"read error: {self.fd}: {e.strerror}") from None
        if not data:
            return -1
        self.buffer, self.index = data, 1
        return data[0]

    def finish(self) -> None:
        """Put back what was read ahead from a regular file."""
        if self.seekable and self.index < len(self.buffer):
            os.lseek(self.fd, self.index - len(self.buffer), os.SEEK_CUR)
        self.buffer, self.index = b"", 0


def split_fields(sh, chars: list[tuple[str, bool]], count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Split what `read` got by IFS into at most `count` fields (0: no limit); the last
    field takes the rest of the line. Escaped characters never split."""
    ifs = sh.vars.get("IFS")
    if ifs is None:
        ifs = " \t\n"
    ws = {c for c in ifs if c in " \t\n"}
    other = {c for c in ifs if c not in " \t\n"}
    n = len(chars)
    i = 0

    def is_ws(k: int) -> bool:
        return not chars[k][1] and chars[k][0] in ws

    def is_sep(k: int) -> bool:
        return not chars[k][1] and (chars[k][0] in ws or chars[k][0] in other)

    while i < n and is_ws(i):
        i += 1
    fields: list[str] = []
    while i < n:
        if count and len(fields) == count - 1:
            end = n
            while end > i and is_ws(end - 1):
                end -= 1
            rest = chars[i:end]
            # A single trailing non-whitespace separator is dropped (bash).
            if rest and not rest[-1][1] and rest[-1][0] in other and not any(is_sep(k) for k in range(i, end - 1)):
                rest = rest[:-1]
            fields.append("".join(c for c, _ in rest))
            return fields
        start = i
        while i < n and not is_sep(i):
            i += 1
        fields.append("".join(c for c, _ in chars[start:i]))
        while i < n and is_ws(i):
            i += 1
        if i < n and not chars[i][1] and chars[i][0] in other:
            i += 1
            while i < n and is_ws(i):
                i += 1
    return fields


class Mapfile(Builtin):
    """`mapfile [-t] [-d DELIM] [-n COUNT] [-s SKIP] [-u FD] [ARRAY]`: lines into an array."""

    name = "mapfile"

    def run(self, argv: list[str]) -> int:
        flags, names = parse_flags(argv, "t", with_value="dnsuOC")
        delimiter = flags.get("d", "\n")
        assert isinstance(delimiter, str)
        delimiter = delimiter[:1] or "\0"
        fd = int(flags["u"]) if isinstance(flags.get("u"), str) else 0
        count = int(flags["n"]) if isinstance(flags.get("n"), str) else 0
        skip = int(flags["s"]) if isinstance(flags.get("s"), str) else 0
        data = bytearray()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        text = data.decode("utf-8", "surrogateescape")
        lines = text.split(delimiter)
        items = [line + delimiter for line in lines[:-1]]
        if lines[-1]:
            items.append(lines[-1])
        items = items[skip:]
        if count:
            items = items[:count]
        if flags.get("t"):
            items = [item[:-1] if item.endswith(delimiter) else item for item in items]
        self.sh.vars.set_array(names[0] if names else "MAPFILE", IndexedArray(enumerate(items)))
        return 0
