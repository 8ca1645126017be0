"""`read` and `mapfile`/`readarray`: input into variables."""

from __future__ import annotations

import os

from fmsh.builtins.base import Builtin, parse_flags
from fmsh.runtime.errors import ShellError
from fmsh.runtime.state import IndexedArray


class Read(Builtin):
    """`read [-rs] [-a ARRAY] [-d DELIM] [-n N] [-N N] [-p PROMPT] [-t SECS] [-u FD] [NAME...]`."""

    name = "read"

    def run(self, argv: list[str]) -> int:
        from fmsh.syntax.word_parser import is_name

        flags, names = parse_flags(argv, "rse", with_value="adnNptu")
        for name in names + ([flags["a"]] if isinstance(flags.get("a"), str) else []):
            if not is_name(str(name)):
                self.warn(f"`{name}': not a valid identifier")
                return 1
        raw = bool(flags.get("r"))
        delimiter = flags.get("d", "\n")
        assert isinstance(delimiter, str)
        delimiter = delimiter[:1] if delimiter else "\0"
        fd = _int_flag(flags, "u", 0)
        exact = isinstance(flags.get("N"), str)
        limit = _int_flag(flags, "N" if exact else "n", -1)
        timeout = float(flags["t"]) if isinstance(flags.get("t"), str) else None
        prompt = flags.get("p")
        terminal = os.isatty(fd)
        if isinstance(prompt, str) and terminal:
            self.write(prompt, 2)
        with _no_echo(fd if flags.get("s") and terminal else -1):
            chars, outcome = self._read(fd, delimiter, raw, limit, exact, timeout)
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
        # bash: 0 for a whole line, 1 at end of input, 128 + SIGALRM when -t ran out
        # (what was read so far is kept).
        return {"complete": 0, "eof": 1, "timeout": 142}[outcome]

    def _read(
        self, fd: int, delimiter: str, raw: bool, limit: int, exact: bool, timeout: float | None
    ) -> tuple[list[tuple[str, bool]], str]:
        """Characters up to the delimiter, each with whether it was backslash-escaped."""
        reader = _ByteReader(fd, timeout)
        try:
            return self._read_chars(reader, delimiter, raw, limit, exact)
        finally:
            reader.finish()

    @staticmethod
    def _read_chars(
        reader: _ByteReader, delimiter: str, raw: bool, limit: int, exact: bool
    ) -> tuple[list[tuple[str, bool]], str]:
        chars: list[tuple[str, bool]] = []
        pending = bytearray()
        escaped_next = False
        while limit < 0 or len(chars) < limit:
            byte = reader.next()
            if byte < 0:
                if pending:
                    chars.extend((c, False) for c in pending.decode("utf-8", "surrogateescape"))
                return chars, "timeout" if byte == -2 else "eof"
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
                    return chars, "complete"
                if c == "\\" and not raw:
                    escaped_next = True
                    continue
                chars.append((c, False))
        return chars, "complete"


def _int_flag(flags: dict[str, str | bool], letter: str, default: int) -> int:
    value = flags.get(letter)
    if not isinstance(value, str):
        return default
    try:
        return int(value)
    except ValueError:
        raise ShellError(f"{value}: invalid number") from None


class _no_echo:
    """`read -s`: the terminal does not echo while the line is typed."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list | None = None  # type: ignore[type-arg]

    def __enter__(self) -> None:
        if self.fd < 0:
            return
        import termios

        try:
            self.saved = termios.tcgetattr(self.fd)
            quiet = list(self.saved)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(self.fd, termios.TCSADRAIN, quiet)
        except termios.error:
            self.saved = None

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


class _ByteReader:
    """Reads one byte at a time, so that the rest of the input stays for the next reader.

    A regular file is read in blocks and the offset put back at the end, as bash does.
    """

    def __init__(self, fd: int, timeout: float | None, greedy: bool = False) -> None:
        """greedy: the caller takes everything up to the end, so read in big blocks."""
        self.fd = fd
        self.timeout = timeout
        self.greedy = greedy
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
            data = os.read(self.fd, 65536 if self.greedy else 4096 if self.seekable else 1)
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
    """`mapfile [-t] [-d DELIM] [-n COUNT] [-O ORIGIN] [-s SKIP] [-u FD] [ARRAY]`: records
    into an array. With -n it reads no further than it needs."""

    name = "mapfile"

    def run(self, argv: list[str]) -> int:
        flags, names = parse_flags(argv, "t", with_value="dnsuOCc")
        delimiter = flags.get("d", "\n")
        assert isinstance(delimiter, str)
        delim = (delimiter[:1] or "\0").encode("utf-8", "surrogateescape")[0]
        fd = _int_flag(flags, "u", 0)
        count = _int_flag(flags, "n", 0)
        skip = _int_flag(flags, "s", 0)
        origin = _int_flag(flags, "O", 0)
        name = names[0] if names else "MAPFILE"
        reader = _ByteReader(fd, None, greedy=not count)
        records: list[str] = []
        try:
            while not count or len(records) < count + skip:
                record = bytearray()
                while True:
                    byte = reader.next()
                    if byte < 0:
                        break
                    record.append(byte)
                    if byte == delim:
                        break
                if not record:
                    break
                records.append(record.decode("utf-8", "surrogateescape"))
        finally:
            reader.finish()
        items = records[skip:]
        if flags.get("t"):
            cut = chr(delim) if delim < 0x80 else delimiter[:1]
            items = [item[:-1] if item.endswith(cut) else item for item in items]
        cell = self.sh.vars.cell(name)
        array = IndexedArray()
        if "O" in flags and cell is not None and isinstance(cell.value, IndexedArray):
            array.update(cell.value)  # -O keeps what is below the origin
        array.update((origin + k, item) for k, item in enumerate(items))
        self.sh.vars.set_array(name, array)
        return 0
