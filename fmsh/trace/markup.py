"""The small pieces the HTML report's parts share (html.py, timeline.py): text made safe
for the page, durations and times as the page shows them, what an await waited for.

Every string from the trace document goes through `esc`: step text and output are
hostile input.
"""

from __future__ import annotations

import re
import time
from html import escape
from typing import Any

_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # controls, lone surrogates


def esc(value: object) -> str:
    """Text for the page: control characters as their pictures (␛), lone surrogates (bytes
    that were not UTF-8) as �, then escaped for HTML text and attributes."""
    text = "" if value is None else str(value)
    return escape(_UNSHOWABLE.sub(_showable, text))


def _showable(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\u2421" if code == 0x7F else chr(0x2400 + code) if code < 0x20 else "\ufffd"


def dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def when(at: float | None, zone: bool = True) -> str:
    if at is None:
        return "-"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) + f".{int(at % 1 * 1000):03d}"
    return stamp + time.strftime(" %z", time.localtime(at)) if zone else stamp


def waited_for(wait: dict[str, Any]) -> str:
    """`port db1:5432`, `signal approve`: what an await waited for."""
    name, kind = str(wait["name"]), str(wait["kind"])
    return name if name.startswith(kind + " ") else f"{kind} {name}"
