"""The waits between the attempts of `retry N backoff MIN[..MAX] [jitter]`: exponential
(MIN, 2×MIN, 4×MIN ... capped at MAX), and with jitter a random point in the upper half
of each wait, so that many retrying hosts do not come back at the same instant."""

from __future__ import annotations

import random

DEFAULT_MIN = 1.0  # `retry N` without `backoff`: 1s, 2s, 4s ... up to 30s
DEFAULT_MAX = 30.0


class Backoff:
    __slots__ = ("low", "high", "jitter")

    def __init__(self, low: float = DEFAULT_MIN, high: float | None = DEFAULT_MAX, jitter: bool = False) -> None:
        self.low = low
        self.high = high  # None: no cap (the number of attempts bounds it)
        self.jitter = jitter

    def longest(self, attempt: int) -> float:
        """The wait after attempt `attempt` (1, 2, ...) failed, before any jitter."""
        wait = self.low * 2 ** (attempt - 1)
        return wait if self.high is None else min(wait, self.high)

    def wait(self, attempt: int) -> float:
        wait = self.longest(attempt)
        return random.uniform(wait / 2, wait) if self.jitter else wait
