"""Durations as scripts write them: `30s`, `1.5m`, `100ms`, `2h`, `1d`, and a plain
number of seconds (as coreutils' timeout and sleep read it); and back to text."""

from __future__ import annotations

_UNITS = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0))


def parse_duration(text: str) -> float | None:
    """Seconds, or None when `text` is not a duration."""
    number, scale = text, 1.0
    for suffix, unit in _UNITS:
        if text.endswith(suffix):
            number, scale = text[: -len(suffix)], unit
            break
    if not number or not (number[0].isdigit() or number[0] == "."):
        return None
    try:
        value = float(number)
    except ValueError:
        return None
    if value != value or value == float("inf"):
        return None
    return value * scale


def format_duration(seconds: float) -> str:
    """`250ms`, `12s`, `1.5s`, `3m20s`, `2h05m`, `1d03h`."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.0f}s" if abs(seconds - round(seconds)) < 0.05 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m" if not secs else f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h" if not minutes else f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d" if not hours else f"{days}d{hours:02d}h"
