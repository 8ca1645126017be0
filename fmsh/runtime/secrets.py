"""The secret values of this process, and masking them out of what fmsh keeps.

A variable is secret when `secret NAME` marked it, or when it came from the environment
with a name that says it holds a secret (…TOKEN…, …PASSWORD…: tasks/environment.py). Its
value, every value it has had, is replaced by `***` in every string fmsh writes down: the
journal (and so the trace, the log and the replica), `set -x` output and the history.
Values shorter than MIN_LENGTH are not masked: masking `1` or `yes` would mangle every
line that holds them and hide nothing.

One registry per process (the journal is written from several threads, so it is guarded);
the shell tells it where variables are read from (`attach`).
"""

from __future__ import annotations

import _thread  # not threading: this module loads at start-up, and _thread is loaded already

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

MASK = "***"
MIN_LENGTH = 4

_lock = _thread.allocate_lock()
_names: set[str] = set()
_values: set[str] = set()  # every value a secret has had: an old one is still a secret
_lookup: Callable[[str], str | None] | None = None
# The values, longest first (so that a secret inside another is not half masked), as text
# and as bytes; None when they must be worked out again.
_ordered: tuple[list[str], list[bytes]] | None = None


def attach(lookup: Callable[[str], str | None]) -> None:
    """Read the secret variables' current values through `lookup` (the shell's variables)."""
    global _lookup, _ordered
    with _lock:
        _lookup = lookup
        _ordered = None


def mark(name: str, value: str | None = None) -> None:
    """NAME is secret; `value` (its value now, when known) is masked from now on."""
    global _ordered
    with _lock:
        _names.add(name)
        if value is not None and len(value) >= MIN_LENGTH:
            _values.add(value)
        _ordered = None


def mark_environment(environ: Iterable[str]) -> None:
    """The environment's variables whose names say they hold a secret."""
    from fmsh.tasks.environment import is_secret

    for name in environ:
        if is_secret(name):
            mark(name)


def add_value(value: str) -> None:
    """A secret that is not a variable (sudo's password asked at the terminal)."""
    global _ordered
    if len(value) >= MIN_LENGTH:
        with _lock:
            _values.add(value)
            _ordered = None


def value(name: str) -> str | None:
    """A variable's value now (the shell's), or None."""
    lookup = _lookup
    return lookup(name) if lookup is not None else None


def names() -> list[str]:
    with _lock:
        return sorted(_names)


def is_secret(name: str) -> bool:
    with _lock:
        return name in _names


def _current() -> tuple[list[str], list[bytes]]:
    """The values to mask: the remembered ones and the secret variables' values now."""
    global _ordered
    with _lock:
        if _lookup is not None:
            for name in _names:
                value = _lookup(name)
                if value is not None and len(value) >= MIN_LENGTH and value not in _values:
                    _values.add(value)
                    _ordered = None
        if _ordered is None:
            texts = sorted(_values, key=len, reverse=True)
            _ordered = (texts, [t.encode("utf-8", "surrogateescape") for t in texts])
        return _ordered


def any_values() -> bool:
    return bool(_current()[0])


def mask(text: str) -> str:
    """`text` with every secret value replaced by ***."""
    if not text:
        return text
    for value in _current()[0]:
        if value in text:
            text = text.replace(value, MASK)
    return text


def mask_optional(text: str | None) -> str | None:
    return mask(text) if text else text


def mask_bytes(data: bytes) -> bytes:
    if not data:
        return data
    for value in _current()[1]:
        if value in data:
            data = data.replace(value, MASK.encode())
    return data


def mask_pieces(pieces: list[bytes], partial_tail: bool = False) -> list[bytes]:
    """Consecutive pieces of one stream (output chunks), masked as one text: a secret
    split across two pieces is masked too (in the piece where it starts; the pieces it
    runs into lose their part of it). `partial_tail`: the stream was cut short (a cap),
    so a secret's beginning at its very end (3 bytes or more) is masked as well."""
    values = _current()[1]
    if not values or not pieces:
        return pieces
    joined = b"".join(pieces)
    spans: list[tuple[int, int]] = []  # masked [start, end) in `joined`, in order
    position = 0
    while position < len(joined):
        best: tuple[int, int] | None = None
        for value in values:  # longest first: at a given start the longest wins
            found = joined.find(value, position)
            if found != -1 and (best is None or found < best[0]):
                best = (found, found + len(value))
        if best is None:
            break
        spans.append(best)
        position = best[1]
    if partial_tail:
        start = spans[-1][1] if spans else 0
        for value in values:
            for size in range(min(len(value) - 1, len(joined) - start), 2, -1):
                if joined.endswith(value[:size]):
                    spans.append((len(joined) - size, len(joined)))
                    break
            else:
                continue
            break
    if not spans:
        return pieces
    out: list[bytes] = []
    offset = 0
    for piece in pieces:
        begin, end = offset, offset + len(piece)
        kept = bytearray()
        cursor = begin
        for start, stop in spans:
            if stop <= begin or start >= end:
                continue
            if start > cursor:
                kept += joined[cursor:start]
            if begin <= start < end:
                kept += MASK.encode()
            cursor = max(cursor, min(stop, end))
        kept += joined[cursor:end]
        out.append(bytes(kept))
        offset = end
    return out


def reset() -> None:
    """Forget everything (a test's fresh start)."""
    global _lookup, _ordered
    with _lock:
        _names.clear()
        _values.clear()
        _lookup = None
        _ordered = None
