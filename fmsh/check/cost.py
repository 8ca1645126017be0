"""The algebra of worst-case durations that `fmsh check` computes with.

A duration is a `Poly`: seconds as a polynomial in the numbers of rounds of the `for`
loops whose lists are only known at run time (N1, N2, ...), with non-negative
coefficients. Most scripts never have such a loop, and their polynomial is a constant.
`math.inf` as the constant means unbounded.

A `Cost` is what the analysis of one command gives: its Poly, whether it counted a local
command of unknown duration as instantaneous (`assumed`: a `timeout` around it then bounds
it by the timeout, not by the sum), and the `Step`s that make it up (where the time goes,
for the report's list of dominant steps).
"""

from __future__ import annotations

import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from fmsh.syntax.source import Pos

# The unknown-round variables a term is multiplied by (sorted indexes into the report's
# N1, N2... list); () is the constant term.
Monomial = tuple[int, ...]

# Unknown numbers of rounds are set to this when steps are ranked: a guess that only
# orders the list of dominant steps, never a bound.
_RANKING_ROUNDS = 10.0


class Poly:
    """Seconds, as a polynomial in the unknown numbers of rounds; immutable."""

    __slots__ = ("terms",)

    def __init__(self, terms: dict[Monomial, float] | None = None) -> None:
        kept = {m: c for m, c in (terms or {}).items() if c}
        # Unbounded absorbs everything: nothing about the rest is worth keeping.
        if any(math.isinf(c) for c in kept.values()):
            kept = {(): math.inf}
        self.terms: dict[Monomial, float] = kept

    @classmethod
    def seconds(cls, value: float) -> Poly:
        return cls({(): value})

    @property
    def unbounded(self) -> bool:
        return self.terms.get(()) == math.inf

    @property
    def constant(self) -> float | None:
        """The number of seconds when no unknown number of rounds is involved."""
        if any(m for m in self.terms):
            return None
        return self.terms.get((), 0.0)

    def __add__(self, other: Poly) -> Poly:
        terms = dict(self.terms)
        for m, c in other.terms.items():
            terms[m] = terms.get(m, 0.0) + c
        return Poly(terms)

    def scaled(self, factor: float) -> Poly:
        if factor == 0:
            return ZERO  # never run (`for x in; do`): even unbounded is nothing, not NaN
        return Poly({m: c * factor for m, c in self.terms.items()})

    def times(self, variable: int) -> Poly:
        """This many seconds per round of a loop with an unknown number of rounds."""
        if self.unbounded:
            return self
        return Poly({tuple(sorted((*m, variable))): c for m, c in self.terms.items()})

    def join(self, other: Poly) -> Poly:
        """An upper bound of both (the worst of two branches): the larger coefficient of
        each term. For constants, the larger; with unknown rounds, a bound of either,
        since all coefficients and variables are non-negative."""
        terms = dict(self.terms)
        for m, c in other.terms.items():
            terms[m] = max(terms.get(m, 0.0), c)
        return Poly(terms)

    def rank(self) -> float:
        """A number to order durations by (unknown rounds guessed; see _RANKING_ROUNDS)."""
        return sum(c * _RANKING_ROUNDS ** len(m) for m, c in self.terms.items())

    def format(self) -> str:
        """`2m41s`, `unbounded`, `5s + N1 × 2s + N1 × N2 × 300ms`."""
        if self.unbounded:
            return "unbounded"
        if not self.terms:
            return "0s"
        parts: list[str] = []
        for m in sorted(self.terms, key=lambda m: (len(m), m)):
            factors = [f"N{v + 1}" for v in m]
            parts.append(" × ".join([*factors, format_seconds(self.terms[m])]))
        return " + ".join(parts)


ZERO = Poly()
UNBOUNDED = Poly.seconds(math.inf)


def format_seconds(seconds: float) -> str:
    """format_duration, with 0 as `0s` rather than `0ms`."""
    from fmsh.runtime.durations import format_duration

    return "0s" if seconds == 0 else format_duration(seconds)


class Step:
    """A place in the script that takes time: a sleep, a wait, a remote stage, a command
    under a timeout or retry. `times`: how often it runs on the worst-case path."""

    __slots__ = ("pos", "text", "poly", "times")

    def __init__(self, pos: Pos, text: str, poly: Poly, times: float = 1) -> None:
        self.pos = pos
        self.text = text
        self.poly = poly
        self.times = times

    def __repr__(self) -> str:
        return f"Step({self.pos}, {self.poly.format()}, {self.text!r}, x{self.times:g})"


# Steps are keyed by where they are: the same step reached twice (a function called from
# two places, a loop's body) is one line in the report, with its time and count summed.
StepKey = tuple[int, int]


def _key(pos: Pos) -> StepKey:
    return (id(pos.source), pos.offset)


class Cost:
    """The worst case of a command: its duration, whether it took a local command's
    duration to be nothing, and where the time goes. Immutable."""

    __slots__ = ("poly", "assumed", "steps")

    def __init__(self, poly: Poly, assumed: bool = False, steps: dict[StepKey, Step] | None = None) -> None:
        self.poly = poly
        self.assumed = assumed
        self.steps: dict[StepKey, Step] = steps or {}

    @classmethod
    def step(cls, pos: Pos, text: str, poly: Poly) -> Cost:
        """A cost that is one step of its own."""
        return cls(poly, False, {_key(pos): Step(pos, text, poly)} if poly.terms else {})

    def then(self, other: Cost) -> Cost:
        """One after the other: durations and steps add."""
        return Cost.sequence((self, other))

    @staticmethod
    def sequence(costs: Iterable[Cost]) -> Cost:
        """Costs one after the other (a list of commands), merged in one pass: folding
        `then` over a long script would copy its growing table of steps at each command."""
        poly = ZERO
        assumed = False
        steps: dict[StepKey, Step] = {}
        for cost in costs:
            poly = poly + cost.poly
            assumed = assumed or cost.assumed
            for key, step in cost.steps.items():
                mine = steps.get(key)
                steps[key] = (
                    step if mine is None else Step(step.pos, step.text, mine.poly + step.poly, mine.times + step.times)
                )
        return Cost(poly, assumed, steps)

    def join(self, other: Cost) -> Cost:
        """Either one or the other (branches) or both at once (pipeline stages): the
        worse. The steps shown are those of the worse one."""
        steps = self.steps if self.poly.rank() >= other.poly.rank() else other.steps
        return Cost(self.poly.join(other.poly), self.assumed or other.assumed, steps)

    def scaled(self, factor: float) -> Cost:
        """Run `factor` times (attempts, rounds)."""
        steps = {k: Step(s.pos, s.text, s.poly.scaled(factor), s.times * factor) for k, s in self.steps.items()}
        return Cost(self.poly.scaled(factor), self.assumed, steps)

    def per_round(self, variable: int) -> Cost:
        """Run an unknown number of times (the rounds N of a `for` loop)."""
        steps = {k: Step(s.pos, s.text, s.poly.times(variable), s.times) for k, s in self.steps.items()}
        return Cost(self.poly.times(variable), self.assumed, steps)

    def capped(self, limit: float, pos: Pos, text: str) -> Cost:
        """Under a deadline of `limit` seconds. What the command would take by itself
        stands when it is known and shorter; otherwise (longer, unknown rounds, a local
        command of unknown duration, unbounded) the deadline is the bound, and the
        deadline is the step."""
        inner = self.poly.constant
        if inner is not None and inner <= limit and not self.assumed:
            return self
        return Cost.step(pos, text, Poly.seconds(limit))

    def collapsed(self, pos: Pos, text: str) -> Cost:
        """The same duration as one step (a command line whose parts are not worth
        listing apart: `retry 3 timeout 10s @web curl ...`)."""
        if not self.poly.terms:
            return Cost(self.poly, self.assumed)
        return Cost(self.poly, self.assumed, {_key(pos): Step(pos, text, self.poly)})


NOTHING = Cost(ZERO)
INSTANT_UNKNOWN = Cost(ZERO, assumed=True)


def unbounded_cost() -> Cost:
    return Cost(UNBOUNDED)
