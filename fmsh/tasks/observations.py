"""What a script observes that could differ the second time it runs: the clock
($EPOCHSECONDS, $EPOCHREALTIME, $SECONDS). Each value read is journaled (with the next
step's start), and a resumed task reads the same values, in the same order, so that it
takes the same branches. $RANDOM needs no such list: its generator is seeded from a
journaled seed.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Observations:
    def __init__(self, recorded: dict[str, list[str]] | None = None) -> None:
        self.recorded = recorded or {}
        self._used: dict[str, int] = {}
        self.pending: list[tuple[str, int, str]] = []

    def observe(self, name: str, live: Callable[[], str]) -> str:
        index = self._used.get(name, 0)
        self._used[name] = index + 1
        values = self.recorded.get(name)
        if values is not None and index < len(values):
            return values[index]
        value = live()
        self.pending.append((name, index, value))
        return value

    def take(self) -> list[tuple[str, int, str]]:
        pending, self.pending = self.pending, []
        return pending
