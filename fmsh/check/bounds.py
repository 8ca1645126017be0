"""The boundedness analysis behind `fmsh check`: a walk of the command AST that finds
what can run for ever and computes the script's worst-case duration.

It reads the script only; nothing is expanded or run. The rules (DESIGN §2.3, §2.5):

- Time is spent by waits and deadlines: `sleep DUR` counts DUR; `await ...` its timeout
  (or the default await timeout); a remote stage `@hosts ...` the connect timeout plus the
  step timeout (hosts run at once: not multiplied by their number). Any other local
  command, external or builtin, counts as nothing -- unless under a `timeout D`, which
  bounds it by D. The report says when such a command was counted (`assumed`).
- `timeout D cmd` bounds cmd by D (plus an explicit `-k` grace; the default grace is not
  counted), or by what cmd takes when that is known and shorter. `timeout 0` sets no limit.
- `retry N [backoff MIN[..MAX]] cmd`: N attempts and the N-1 waits between them, the k-th
  wait min(MIN * 2^(k-1), MAX) (1s..30s when no backoff is written; no MAX: no cap).
  Jitter only shortens waits and is not counted. `need` takes no time.
- Modifiers apply outermost first: `retry 3 timeout 10s cmd` is 3 × 10s + waits,
  `timeout 10s retry 3 cmd` is 10s.
- `max N` before while/until/for ((...)) bounds the loop to N rounds of condition + body.
- Sequences, `&&`/`||` and background jobs add (a job counts as if waited for); if/case
  take their worst branch (with the conditions tested before it); pipeline stages run at
  once (the worst stage); `for x in WORDS` runs once per word when the words are known
  when the script is read (literal, quoted, braces); a function call costs its body.
- `task NAME timeout D { ... }` bounds its body by D.

Unbounded, and reported with FILE:LINE:COL (exit status 1): a while/until/for ((...))
loop without `max N`; a recursive call (direct or through other functions, found on the
call graph); `sleep infinity`; `await ... timeout 0`; a remote stage or await whose default
timeout is set to no limit; a duration or count that is an expansion (`timeout $t`,
`retry $n`, `max $n`, `sleep $d`), which is not known before the run. An enclosing
`timeout D` (a literal, non-zero one, or a task block's timeout) anywhere above a loop, a
wait or an unknown duration bounds it by D, and it is not reported. Recursion is reported
even under a timeout: a task must not recurse (DESIGN §2.5).

A `for` loop over a list known only at run time (`"$@"`, `$(...)`, `$list`, a glob) is
bounded but its number of rounds is not known: a warning names it N1, N2..., and the worst
case is written per round (`5s + N1 × 2s`); the exit status stays 0. `eval` and `source`
run text that is not checked: a warning says so.
"""

from __future__ import annotations

import math

from fmsh.check.cost import INSTANT_UNKNOWN, NOTHING, Cost, Poly, Step, unbounded_cost
from fmsh.runtime.durations import parse_duration
from fmsh.syntax import ast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fmsh.syntax.source import Pos

# Builtins that end at once whatever their arguments: counting them as nothing is exact,
# so a `timeout` around them need not be taken as their bound.
# `wait` is one of them here: the jobs it waits for are counted where they start.
INSTANT_BUILTINS = frozenset(
    [":", "true", "false", "echo", "printf", "test", "[", "cd", "pwd", "export", "readonly", "unset",
     "local", "declare", "typeset", "shift", "set", "shopt", "return", "break", "continue", "exit",
     "let", "alias", "unalias", "type", "hash", "umask", "getopts", "wait"]
)  # fmt: skip
# Builtins that run text the check does not see.
UNCHECKED_TEXT = frozenset(["eval", "source", "."])
# Commands that are compound: a modifier in front of one keeps its parts as steps.
_COMPOUND = (
    ast.BraceGroup, ast.Subshell, ast.If, ast.Case, ast.ForEach, ast.ForArith, ast.WhileUntil,
    ast.TaskBlock, ast.CommandList, ast.AndOr,
)  # fmt: skip
DEFAULT_BACKOFF = (1.0, 30.0)


class Defaults:
    """The default timeouts the check assumes (fmsh/runtime/settings.py): seconds, or
    None for a default set to no limit."""

    def __init__(self, step: float | None = 3600.0, connect: float | None = 10.0, wait: float | None = 600.0) -> None:
        self.step = step
        self.connect = connect
        self.wait = wait

    @classmethod
    def from_variables(cls, variable: Callable[[str], str | None]) -> Defaults:
        """From the shell variables FMSH_*_TIMEOUT (as `variable(name)` gives them), then
        the config file, then the built-in defaults. Raises settings.SettingError."""
        from fmsh.runtime import settings

        def value(name: str) -> float | None:
            return settings.timeout(name, variable(settings.TIMEOUTS[name][0]))

        return cls(value("step-timeout"), value("connect-timeout"), value("await-timeout"))


class Context:
    """What encloses the command being analysed. Immutable.

    capped:   a finite timeout (a `timeout D`, a task's) is in force above: what would be
              unbounded here is bounded by it, and not reported
    no_limit: the `timeout 0` in force (named in messages: it is why nothing bounds)
    rounds:   the `max N` of the loop this context is handed to; -1 for a `max $n`
              (already reported); None for none
    """

    __slots__ = ("capped", "no_limit", "rounds")

    def __init__(self, capped: bool = False, no_limit: Pos | None = None, rounds: int | None = None) -> None:
        self.capped = capped
        self.no_limit = no_limit
        self.rounds = rounds

    def plain(self) -> Context:
        """For the parts of a command: the loop bound is the loop's own."""
        return self if self.rounds is None else Context(self.capped, self.no_limit)

    def under_deadline(self) -> Context:
        return Context(True, None, self.rounds)

    def under_no_limit(self, pos: Pos) -> Context:
        return Context(self.capped, pos, self.rounds)

    def with_rounds(self, rounds: int) -> Context:
        return Context(self.capped, self.no_limit, rounds)


class CheckReport:
    """What `check_program` found.

    diagnostics:    (pos, message) of each unbounded construct: the script is unbounded
                    when there is any
    warnings:       (pos, message) of what is bounded but not fully known (for loops over
                    a run-time list: their rounds are N1, N2... in `expression`) or not
                    checked (eval, source)
    bound:          the worst case in seconds; None when unbounded or when it depends on
                    unknown rounds (then `expression` has it per round)
    expression:     the worst case as text: `2m41s`, `5s + N1 × 2s`, `unbounded`
    assumed:        a local command outside any timeout was counted as instantaneous
    unknown_rounds: the for loops named N1, N2... (their positions, in order)
    dominant:       the steps on the worst-case path that take the most time, worst first
    """

    def __init__(
        self,
        filename: str,
        diagnostics: list[tuple[Pos, str]],
        warnings: list[tuple[Pos, str]],
        cost: Cost,
        unknown_rounds: list[Pos],
        top: int = 5,
    ) -> None:
        self.filename = filename
        self.diagnostics = diagnostics
        self.warnings = warnings
        self.unknown_rounds = unknown_rounds
        self.assumed = cost.assumed
        poly = cost.poly
        # Whatever is unbounded has been reported; an unbounded total without a report
        # would be this check's own mistake, and is still not shown as bounded.
        self.unbounded_total = poly.unbounded
        if diagnostics or poly.unbounded:
            self.bound: float | None = None
            self.expression = "unbounded"
            self.dominant: list[Step] = []
        else:
            self.bound = poly.constant
            self.expression = poly.format()
            ranked = sorted(cost.steps.values(), key=lambda s: (-s.poly.rank(), s.pos.offset))  # type: ignore[attr-defined]
            self.dominant = [s for s in ranked if s.poly.terms][:top]

    @property
    def bounded(self) -> bool:
        return not self.diagnostics and not self.unbounded_total


class Analyzer:
    """Walks one program: `cost(node, context)` by node type (the _DISPATCH table),
    collecting diagnostics and warnings on the way."""

    def __init__(self, program: ast.Program, defaults: Defaults) -> None:
        self.program = program
        self.defaults = defaults
        self.functions: dict[str, list[ast.FunctionDef]] = {}
        for node in _walk(program):
            if type(node) is ast.FunctionDef:
                self.functions.setdefault(node.name, []).append(node)  # type: ignore[attr-defined]
        # Keyed by position and text, so that a construct reached on several paths (a
        # function called twice) is reported once.
        self._diagnostics: dict[tuple[int, int, str], tuple[Pos, str]] = {}
        self._warnings: dict[tuple[int, int, str], tuple[Pos, str]] = {}
        self.unknown_rounds: list[Pos] = []
        self._round_variables: dict[int, int] = {}  # id(ForEach) -> variable index
        self._calling: list[str] = []  # the functions being analysed, outermost first
        self._function_costs: dict[tuple[str, bool, bool], Cost] = {}

    def run(self) -> CheckReport:
        cost = self.cost(self.program.body, Context())
        filename = self.program.pos.source.name
        return CheckReport(
            filename, list(self._diagnostics.values()), list(self._warnings.values()), cost, self.unknown_rounds
        )

    # --- reporting ----------------------------------------------------------------------

    def unbounded(self, pos: Pos, message: str, fix: str, ctx: Context, always: bool = False) -> Cost:
        """An unbounded construct: reported (what, then how to fix it) unless a deadline
        above bounds it; `always`: even then."""
        if always or not ctx.capped:
            if ctx.no_limit is not None:
                message += f"; the `timeout 0' at {ctx.no_limit.line}:{ctx.no_limit.col} sets no limit"
            message += f" ({fix})"
            self._diagnostics.setdefault((id(pos.source), pos.offset, message), (pos, message))
        return unbounded_cost()

    def warn(self, pos: Pos, message: str) -> None:
        self._warnings.setdefault((id(pos.source), pos.offset, message), (pos, message))

    # --- dispatch -----------------------------------------------------------------------

    def cost(self, node: ast.Command, ctx: Context) -> Cost:
        handler = _DISPATCH.get(type(node))
        if handler is None:
            return INSTANT_UNKNOWN  # a node this check does not know yet: a local command
        return handler(self, node, ctx)

    def list_cost(self, body: ast.CommandList | None, ctx: Context) -> Cost:
        if body is None:
            return NOTHING
        return Cost.sequence(self.cost(command, ctx) for command in body.commands)

    def expansions(self, ctx: Context, *nodes: object) -> Cost:
        """The command substitutions in words, redirections, assignments: they run (one
        after the other) before the command they are part of."""
        return Cost.sequence(self.cost(sub.body, ctx.plain()) for sub in _command_subs(nodes))

    # --- lists and compound commands ----------------------------------------------------

    def _command_list(self, node: ast.CommandList, ctx: Context) -> Cost:
        return self.list_cost(node, ctx.plain())

    def _and_or(self, node: ast.AndOr, ctx: Context) -> Cost:
        # Either side may run: both count.
        total = NOTHING
        for command in node.commands:
            total = total.then(self.cost(command, ctx.plain()))
        return total

    def _pipeline(self, node: ast.Pipeline, ctx: Context) -> Cost:
        # The stages run at the same time: the pipeline lasts as long as the longest.
        costs = [self.cost(command, ctx.plain()) for command in node.commands]
        total = costs[0]
        for cost in costs[1:]:
            total = total.join(cost)
        return total

    def _background(self, node: ast.Background, ctx: Context) -> Cost:
        # Counted as if waited for: a task waits for its jobs before it ends.
        return self.cost(node.command, ctx.plain())

    def _group(self, node: ast.BraceGroup | ast.Subshell, ctx: Context) -> Cost:
        return self.expansions(ctx, node.redirects).then(self.list_cost(node.body, ctx.plain()))

    def _if(self, node: ast.If, ctx: Context) -> Cost:
        # The worst path: the conditions tested up to the arm taken, then its body.
        plain = ctx.plain()
        tested = self.expansions(ctx, node.redirects)
        worst: Cost | None = None
        for arm in node.arms:
            tested = tested.then(self.list_cost(arm.condition, plain))
            path = tested.then(self.list_cost(arm.body, plain))
            worst = path if worst is None else worst.join(path)
        otherwise = tested.then(self.list_cost(node.else_body, plain))
        return otherwise if worst is None else worst.join(otherwise)

    def _case(self, node: ast.Case, ctx: Context) -> Cost:
        plain = ctx.plain()
        before = self.expansions(ctx, node.subject, node.redirects, [arm.patterns for arm in node.arms])
        bodies = [self.list_cost(arm.body, plain) for arm in node.arms]
        # path[i]: the time from entering arm i's body to the end of the case. `;&` falls
        # into the next body; `;;&` goes on testing, so any later arm may follow.
        paths: list[Cost] = [NOTHING] * len(bodies)
        for i in range(len(bodies) - 1, -1, -1):
            rest = NOTHING
            if i + 1 < len(bodies):
                terminator = node.arms[i].terminator
                if terminator == ";&":
                    rest = paths[i + 1]
                elif terminator == ";;&":
                    for later in paths[i + 1 :]:
                        rest = rest.join(later)
            paths[i] = bodies[i].then(rest)
        worst = NOTHING
        for path in paths:
            worst = worst.join(path)
        return before.then(worst)

    def _task_block(self, node: ast.TaskBlock, ctx: Context) -> Cost:
        before = self.expansions(ctx, node.redirects)
        if node.timeout is None:
            return before.then(self.list_cost(node.body, ctx.plain()))
        seconds = _static_duration(node.timeout)
        if seconds == 0:
            return before.then(self.list_cost(node.body, ctx.plain().under_no_limit(node.pos)))
        body = self.list_cost(node.body, ctx.plain().under_deadline())
        if seconds is None:
            return before.then(self._unknown_deadline(node.pos, "the task's timeout", body, ctx))
        return before.then(body.capped(seconds, node.pos, _snippet(node.pos)))

    def _function_def(self, node: ast.FunctionDef, ctx: Context) -> Cost:
        return NOTHING  # defining takes no time; calls cost the body

    def _test(self, node: ast.DoubleBracket | ast.ArithCommand, ctx: Context) -> Cost:
        return self.expansions(ctx, node.expr, node.redirects)

    # --- loops --------------------------------------------------------------------------

    def _while_until(self, node: ast.WhileUntil, ctx: Context) -> Cost:
        plain = ctx.plain()
        condition = self.list_cost(node.condition, plain)
        round_cost = condition.then(self.list_cost(node.body, plain))
        keyword = "until" if node.until else "while"
        return self._bounded_loop(node, ctx, round_cost, condition, f"{keyword} loop")

    def _for_arith(self, node: ast.ForArith, ctx: Context) -> Cost:
        from fmsh.check.counting import counted_rounds

        plain = ctx.plain()
        setup = self.expansions(ctx, node.init, node.redirects)
        condition = self.expansions(ctx, node.cond, node.step)
        round_cost = condition.then(self.list_cost(node.body, plain))
        counted = counted_rounds(node)
        if counted is not None and (ctx.rounds is None or 0 <= counted < ctx.rounds):
            ctx = ctx.with_rounds(counted)  # for ((i = 0; i < 10; i++)): 10 rounds, known from the text
        return setup.then(self._bounded_loop(node, ctx, round_cost, condition, "for ((...)) loop"))

    def _bounded_loop(self, node: ast.Command, ctx: Context, round_cost: Cost, condition: Cost, what: str) -> Cost:
        """`max N`: N rounds, and the condition once more (the check that finds the bound
        reached runs it; see CommandEvaluator._loop)."""
        if ctx.rounds is None:
            return self.unbounded(
                node.pos,
                f"{what} without `max N' or an enclosing timeout",
                f"write `max N {what.split()[0]} ...', or put it under `timeout DUR'",
                ctx,
            )
        if ctx.rounds < 0:
            return unbounded_cost()  # `max $n`: reported at the `max`
        return round_cost.scaled(ctx.rounds).then(condition)

    def _for_each(self, node: ast.ForEach, ctx: Context) -> Cost:
        before = self.expansions(ctx, node.words, node.redirects)
        count = _field_count(node.words) if node.words is not None else None
        if count is not None:
            return before.then(self.list_cost(node.body, ctx.plain()).scaled(count))
        # Named before the body is read, so that N1, N2... follow the text: outer first.
        variable = self._round_variable(node)
        body = self.list_cost(node.body, ctx.plain())
        self.warn(
            node.pos,
            f"the number of rounds of this for loop is not known before the run (its list is expanded then); "
            f"the worst case counts it as N{variable + 1}",
        )
        return before.then(body.per_round(variable))

    def _round_variable(self, node: ast.ForEach) -> int:
        variable = self._round_variables.get(id(node))
        if variable is None:
            variable = self._round_variables[id(node)] = len(self.unknown_rounds)
            self.unknown_rounds.append(node.pos)
        return variable

    # --- modifiers ----------------------------------------------------------------------

    def _modified(self, node: ast.Modified, ctx: Context) -> Cost:
        cost = self._apply(node, 0, ctx)
        if isinstance(node.command, _COMPOUND):
            return cost
        # `retry 3 timeout 10s @web[1-4] deploy` is one line of the report.
        return cost.collapsed(node.pos, _snippet(node.pos))

    def _apply(self, node: ast.Modified, index: int, ctx: Context) -> Cost:
        """The modifiers from `index` on, then the command: the outermost first."""
        if index == len(node.modifiers):
            return self.cost(node.command, ctx)
        modifier = node.modifiers[index]
        kind = type(modifier)
        if kind is ast.TimeoutModifier:
            return self._timeout(node, index, modifier, ctx)  # type: ignore[arg-type]
        if kind is ast.RetryModifier:
            return self._retry(node, index, modifier, ctx)  # type: ignore[arg-type]
        if kind is ast.MaxModifier:
            count = _static_count(modifier.count)  # type: ignore[attr-defined]
            if count is None:
                message = "`max': the number of rounds is not known before the run"
                self.unbounded(modifier.pos, message, "write a number, as in max 10", ctx)
                count = -1
            return self._apply(node, index + 1, ctx.with_rounds(count))
        return self._apply(node, index + 1, ctx)  # need: how many must succeed, not how long

    def _timeout(self, node: ast.Modified, index: int, modifier: ast.TimeoutModifier, ctx: Context) -> Cost:
        seconds = _static_duration(modifier.duration)
        # Only an explicit -k grace counts: the default one is the runtime's margin.
        grace = _static_duration(modifier.kill_after) if modifier.kill_after is not None else 0.0
        if seconds == 0:
            return self._apply(node, index + 1, ctx.under_no_limit(modifier.pos))  # as coreutils: no limit
        inner = self._apply(node, index + 1, ctx.under_deadline())
        if seconds is None or grace is None:
            return self._unknown_deadline(modifier.pos, "`timeout'", inner, ctx)
        return inner.capped(seconds + grace, modifier.pos, _snippet(modifier.pos))

    def _unknown_deadline(self, pos: Pos, what: str, inner: Cost, ctx: Context) -> Cost:
        """A deadline whose duration is an expansion: what is under it bounds it when
        that is known; otherwise nothing known does."""
        if inner.poly.constant is not None and not inner.assumed:
            return inner
        message = f"{what}: the duration is not known before the run"
        return self.unbounded(pos, message, "write one, as in timeout 30s, or put it under one", ctx)

    def _retry(self, node: ast.Modified, index: int, modifier: ast.RetryModifier, ctx: Context) -> Cost:
        inner = self._apply(node, index + 1, ctx)
        attempts = _static_count(modifier.count)
        if attempts is None:
            message = "`retry': the number of attempts is not known before the run"
            return self.unbounded(modifier.pos, message, "write one, as in retry 3", ctx)
        low, high = DEFAULT_BACKOFF
        if modifier.backoff_min is not None:
            # Only MIN written: no cap on the waits.
            low_value = _static_duration(modifier.backoff_min)
            high_value = _static_duration(modifier.backoff_max) if modifier.backoff_max is not None else math.inf
            if low_value is None or high_value is None:
                message = "`retry': the backoff is not known before the run"
                return self.unbounded(modifier.pos, message, "write it, as in backoff 1s..30s", ctx)
            low, high = low_value, high_value
        waits = sum(min(low * 2 ** (k - 1), high) for k in range(1, attempts))
        pause = Cost.step(modifier.pos, _snippet(modifier.pos) + "  (waits between attempts)", Poly.seconds(waits))
        return inner.scaled(attempts).then(pause)

    # --- simple commands, waits, remote stages ------------------------------------------

    def _simple_command(self, node: ast.SimpleCommand, ctx: Context) -> Cost:
        before = self.expansions(ctx, node.assignments, node.words, node.redirects)
        if not node.words:
            return before
        name = _static_text(node.words[0])
        if name is not None and name in self.functions:
            return before.then(self._call(node, name, ctx))
        if name == "sleep":
            return before.then(self._sleep(node, ctx))
        if name in INSTANT_BUILTINS:
            return before
        if name in UNCHECKED_TEXT:
            self.warn(node.pos, f"`{name}' runs text that is not checked: its time is not counted")
        return before.then(INSTANT_UNKNOWN)

    def _sleep(self, node: ast.SimpleCommand, ctx: Context) -> Cost:
        total = 0.0
        for word in node.words[1:]:
            text = _static_text(word)
            if text is None:
                message = "sleep: the duration is not known before the run"
                return self.unbounded(
                    node.pos, message, "write one, as in sleep 30s, or put it under `timeout DUR'", ctx
                )
            if text in ("infinity", "inf"):
                return self.unbounded(node.pos, f"`sleep {text}' waits for ever", "put it under `timeout DUR'", ctx)
            seconds = parse_duration(text)
            if seconds is None:
                return INSTANT_UNKNOWN  # not a duration: sleep fails at once
            total += seconds  # `sleep 1m 30s` sleeps for the sum, as coreutils' does
        return Cost.step(node.pos, _snippet(node.pos), Poly.seconds(total))

    def _call(self, node: ast.SimpleCommand, name: str, ctx: Context) -> Cost:
        if name in self._calling:
            cycle = [*self._calling[self._calling.index(name) :], name]
            message = f"recursive call ({' → '.join(cycle)}): recursion has no bound, even under a timeout"
            return self.unbounded(node.pos, message, "use a loop with `max N'", ctx, always=True)
        key = (name, ctx.capped, ctx.no_limit is not None)
        known = self._function_costs.get(key)
        if known is not None:
            return known
        self._calling.append(name)
        try:
            cost: Cost | None = None
            inner = ctx.plain()
            for definition in self.functions[name]:
                body = self.cost(definition.body, inner)
                cost = body if cost is None else cost.join(body)
        finally:
            self._calling.pop()
        assert cost is not None
        self._function_costs[key] = cost
        return cost

    def _remote(self, node: ast.RemoteCommand, ctx: Context) -> Cost:
        before = self.expansions(ctx, node.assignments, node.hosts, node.words, node.redirects)
        step, connect = self.defaults.step, self.defaults.connect
        if step is None or connect is None:
            which = "step" if step is None else "connect"
            return before.then(
                self.unbounded(
                    node.pos,
                    f"remote stage without a timeout, and the default {which} timeout is set to no limit",
                    f"write `timeout DUR @...', or set FMSH_{which.upper()}_TIMEOUT",
                    ctx,
                )
            )
        return before.then(Cost.step(node.pos, _snippet(node.pos), Poly.seconds(connect + step)))

    def _await(self, node: ast.Await, ctx: Context) -> Cost:
        before = self.expansions(ctx, node.args, list(node.options.values()), node.redirects)
        seconds, problem = self._await_timeout(node)
        if node.block is not None:
            # The condition is tested again and again until the timeout: its own time is
            # within the wait's, but what is unbounded in it is still found.
            self.cost(node.block, ctx.plain().under_deadline() if seconds is not None else ctx.plain())
        if seconds is None:
            message, fix = problem
            return before.then(self.unbounded(node.pos, f"await {node.kind} {message}", fix, ctx))
        return before.then(Cost.step(node.pos, _snippet(node.pos), Poly.seconds(seconds)))

    def _await_timeout(self, node: ast.Await) -> tuple[float | None, tuple[str, str]]:
        """The seconds an await may wait, or None and why that is not known (and the fix)."""
        word = node.options.get("timeout")
        if word is None:
            if self.defaults.wait is None:
                why = "without a timeout, and the default await timeout is set to no limit"
                return None, (why, "write `timeout DUR', or set FMSH_AWAIT_TIMEOUT")
            return self.defaults.wait, ("", "")
        seconds = _static_duration(word)
        if seconds is None:
            return None, ("has a timeout that is not known before the run", "write one, as in timeout 5m")
        if seconds == 0:
            return None, ("with `timeout 0' waits for ever", "give it a finite timeout, as in timeout 5m")
        return seconds, ("", "")


_DISPATCH: dict[type, Callable[[Analyzer, ast.Command, Context], Cost]] = {
    ast.CommandList: Analyzer._command_list,  # type: ignore[dict-item]
    ast.SimpleCommand: Analyzer._simple_command,  # type: ignore[dict-item]
    ast.RemoteCommand: Analyzer._remote,  # type: ignore[dict-item]
    ast.Await: Analyzer._await,  # type: ignore[dict-item]
    ast.Modified: Analyzer._modified,  # type: ignore[dict-item]
    ast.AndOr: Analyzer._and_or,  # type: ignore[dict-item]
    ast.Pipeline: Analyzer._pipeline,  # type: ignore[dict-item]
    ast.Background: Analyzer._background,  # type: ignore[dict-item]
    ast.BraceGroup: Analyzer._group,  # type: ignore[dict-item]
    ast.Subshell: Analyzer._group,  # type: ignore[dict-item]
    ast.TaskBlock: Analyzer._task_block,  # type: ignore[dict-item]
    ast.If: Analyzer._if,  # type: ignore[dict-item]
    ast.Case: Analyzer._case,  # type: ignore[dict-item]
    ast.WhileUntil: Analyzer._while_until,  # type: ignore[dict-item]
    ast.ForArith: Analyzer._for_arith,  # type: ignore[dict-item]
    ast.ForEach: Analyzer._for_each,  # type: ignore[dict-item]
    ast.FunctionDef: Analyzer._function_def,  # type: ignore[dict-item]
    ast.DoubleBracket: Analyzer._test,  # type: ignore[dict-item]
    ast.ArithCommand: Analyzer._test,  # type: ignore[dict-item]
}


# --- reading words without expanding them ---------------------------------------------


def _static_text(word: ast.Word) -> str | None:
    """The text of a word that expands to itself (literal or quoted text); None when it
    holds an expansion."""
    out: list[str] = []
    for part in word.parts:
        kind = type(part)
        if kind in (ast.Literal, ast.Escaped, ast.SingleQuoted):
            out.append(part.text)  # type: ignore[attr-defined]
        elif kind is ast.DoubleQuoted:
            inner = _static_text(ast.Word(word.pos, part.parts))  # type: ignore[attr-defined]
            if inner is None:
                return None
            out.append(inner)
        else:
            return None
    return "".join(out)


def _static_duration(word: ast.Word) -> float | None:
    """The seconds of a duration written literally; None for an expansion."""
    text = _static_text(word)
    return parse_duration(text) if text is not None else None


def _static_count(word: ast.Word) -> int | None:
    text = _static_text(word)
    return int(text) if text is not None and text.isdigit() and int(text) > 0 else None


def _field_count(words: list[ast.Word]) -> int | None:
    """How many words a `for` list expands to, when that is known from the text alone."""
    total = 0
    for word in words:
        count = _parts_count(word.parts)
        if count is None:
            return None
        total += count
    return total


def _parts_count(parts: list[ast.WordPart]) -> int | None:
    count = 1
    for part in parts:
        kind = type(part)
        if kind is ast.Literal:
            if any(c in part.text for c in "*?["):  # type: ignore[attr-defined]
                return None  # a glob: as many words as files match
        elif kind is ast.DoubleQuoted:
            if any(_many_words(p) for p in part.parts):  # type: ignore[attr-defined]
                return None
        elif kind is ast.BraceExpansion:
            alternatives = [_parts_count(a) for a in part.alternatives]  # type: ignore[attr-defined]
            if any(a is None for a in alternatives):
                return None
            count *= sum(alternatives)  # type: ignore[arg-type]
        elif kind is ast.BraceRange:
            length = _range_length(part)  # type: ignore[arg-type]
            if length is None:
                return None
            count *= length
        elif kind not in (ast.Escaped, ast.SingleQuoted, ast.Tilde, ast.ArithSub):
            return None  # unquoted $x, $(...), extglob: split or matched at run time
    return count


def _many_words(part: ast.WordPart) -> bool:
    """Whether a part inside double quotes may still make several words: "$@",
    "${a[@]}", "${!prefix@}"."""
    if type(part) is not ast.ParamSub:
        return False
    index = part.index  # type: ignore[attr-defined]
    return (
        part.name == "@"  # type: ignore[attr-defined]
        or (index is not None and _static_text(index) == "@")
        or (part.prefix == "!" and part.name.endswith("@"))  # type: ignore[attr-defined]
    )


def _range_length(part: ast.BraceRange) -> int | None:
    step = abs(part.step) or 1
    try:
        start, end = int(part.start), int(part.end)
    except ValueError:
        if len(part.start) != 1 or len(part.end) != 1:
            return None
        start, end = ord(part.start), ord(part.end)
    return abs(end - start) // step + 1


def _command_subs(nodes: object) -> Iterator[ast.CommandSub]:
    """The `$(...)` in words and the like, outermost ones (their insides are commands,
    analysed as such)."""
    stack: list[object] = [nodes]
    found: list[ast.CommandSub] = []
    while stack:
        item = stack.pop()
        if isinstance(item, ast.CommandSub):
            found.append(item)
        elif isinstance(item, ast.Node):
            stack.extend(getattr(item, f) for f in item._fields if f != "pos")
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return reversed(found)


def _walk(node: object) -> Iterator[ast.Node]:
    """Every node under `node`, commands inside $(...) included."""
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            yield item
            stack.extend(getattr(item, f) for f in item._fields if f != "pos")
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def _snippet(pos: Pos, width: int = 60) -> str:
    """The source text of a command as the report shows it (as the journal shows a
    step's), cut to `width`."""
    from fmsh.tasks.keys import step_text

    snippet = step_text(pos, "pipeline")
    return snippet if len(snippet) <= width else snippet[: width - 1] + "…"


# --- the API ----------------------------------------------------------------------------


def check_program(program: ast.Program, filename: str | None = None, defaults: Defaults | None = None) -> CheckReport:
    """Check a parsed program. `filename` names it in the report (default: its source's
    name); `defaults`: the default timeouts (default: from the environment and config)."""
    if defaults is None:
        import os

        defaults = Defaults.from_variables(os.environ.get)
    report = Analyzer(program, defaults).run()
    if filename is not None:
        report.filename = filename
    return report


def check_file(path: str, defaults: Defaults | None = None) -> CheckReport:
    """Read, parse and check a script file. Raises OSError (unreadable), ParseError
    (syntax), settings.SettingError (a default timeout that is not a duration)."""
    from fmsh.syntax.parser import parse
    from fmsh.syntax.source import Source

    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "surrogateescape")
    return check_program(parse(Source(path, text)), path, defaults)
