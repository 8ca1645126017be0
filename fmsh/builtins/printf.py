"""`printf`: C's formats, reused until the arguments run out."""

from __future__ import annotations

from fmsh.builtins.base import Builtin, UsageError, parse_flags
from fmsh.runtime.errors import ShellError
from fmsh.syntax.escapes import decode_echo, decode_printf


class _Stop(Exception):
    """`\\c` in a format or a %b argument: no further output at all."""


class Printf(Builtin):
    """`printf [-v VAR] FORMAT [ARGS]`: the format is reused until the arguments run out."""

    name = "printf"

    def is_step(self, argv: list) -> bool:
        return not (len(argv) > 1 and isinstance(argv[1], str) and argv[1].startswith("-v"))  # -v sets a variable

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
            while j < n and fmt[j] in "hlLjzt":
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
            text, stopped = decode_echo(value or "")
            result = (spec + "s") % text
            if stopped:
                raise _StopAfter(result)
            return result
        if conversion == "q":
            from fmsh.expand.quote import backslash_quote

            return (spec + "s") % backslash_quote(value or "")
        if conversion == "c":
            return (spec + "s") % (value[:1] if value else "")
        if conversion in "diouxX":
            number = _to_int(self, value) if value is not None else 0
            if conversion in "ouxX" and number < 0:
                number &= (1 << 64) - 1
            if conversion == "o" and "#" in flags:
                # C's %#o is a leading 0; Python's would be 0o.
                digits = ("%" + ("." + precision if precision is not None else "") + "o") % number
                text = digits if digits.startswith("0") else "0" + digits
                return ("%" + flags.replace("#", "").replace("0", "") + width + "s") % text
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
    """The backslash escape of a printf format at fmt[i]: (text, next index, stopped).

    Escapes are decoded where they stand, so that `\\045d` prints `%d` literally."""
    e = fmt[i + 1 : i + 2]
    j = i + 2
    if e and e in "01234567":
        j = i + 1
        while j < len(fmt) and j - (i + 1) < 3 and fmt[j] in "01234567":
            j += 1
    elif e in ("x", "u", "U"):
        limit = {"x": 2, "u": 4, "U": 8}[e]
        while j < len(fmt) and j - (i + 2) < limit and fmt[j] in "0123456789abcdefABCDEF":
            j += 1
    text, stopped = decode_printf(fmt[i:j])
    return text, j, stopped


def _literal_word(text: str):  # type: ignore[no-untyped-def]
    from fmsh.syntax import ast

    return ast.Word(None, [ast.Literal(None, text)])  # type: ignore[arg-type]


def _to_int(builtin: Printf, text: str) -> int:
    """A C integer argument: decimal, 0x hex, 0 octal, 'c (a character's code). Like
    strtol, a bad tail is reported and the valid head used (`12abc` is 12, status 1)."""
    body = text.lstrip()
    if body[:1] in ("'", '"'):
        return ord(body[1]) if len(body) > 1 else 0
    sign = -1 if body.startswith("-") else 1
    digits = body[1:] if body[:1] in "+-" else body
    base, allowed = 10, "0123456789"
    if digits[:2].lower() == "0x":
        base, allowed, digits = 16, "0123456789abcdefABCDEF", digits[2:]
    elif len(digits) > 1 and digits[0] == "0":
        base, allowed = 8, "01234567"
    end = 0
    while end < len(digits) and digits[end] in allowed:
        end += 1
    value = sign * int(digits[:end], base) if end else 0
    if end < len(digits) or not end:
        builtin.warn(f"{text}: invalid number")
        builtin.status = 1
    return value


def _to_float(builtin: Printf, text: str) -> float:
    body = text.strip()
    if body[:1] in ("'", '"'):
        return float(ord(body[1])) if len(body) > 1 else 0.0
    # Like strtod: the longest valid head.
    for end in range(len(body), 0, -1):
        try:
            value = float(body[:end])
        except ValueError:
            continue
        if end < len(body):
            builtin.warn(f"{text}: invalid number")
            builtin.status = 1
        return value
    builtin.warn(f"{text}: invalid number")
    builtin.status = 1
    return 0.0
