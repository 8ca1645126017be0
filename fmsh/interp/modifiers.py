"""Running modified commands: `timeout`, `retry`, `need` and `max` (see syntax/modifiers.py).

Modifiers apply outermost first: `retry 3 timeout 10s cmd` gives each of three attempts ten
seconds; `timeout 1m retry 3 cmd` gives the three attempts one minute in all.

A fan-out (`@hosts cmd`) takes the modifiers written right before it as each host's own:
`retry 3 timeout 10s @web[1-20] deploy` gives every host three tries of ten seconds,
retries only the hosts that failed, and never reruns one that succeeded. The first
modifier that cannot be a host's own (a `timeout` outside the `retry`, say) and everything
outside it applies to the stage as a whole, as for any command.

In a task, each attempt's steps are keyed by the attempt's number (as a loop's rounds
are), so every attempt is journaled, and the wait between attempts is a durable timer.
"""

from __future__ import annotations

import time

from fmsh.runtime.backoff import Backoff
from fmsh.runtime.deadlines import Deadline, DeadlineExpired, Deadlines
from fmsh.runtime.durations import format_duration, parse_duration
from fmsh.runtime.errors import ExitShell, ShellError
from fmsh.syntax import ast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.command import CommandEvaluator
    from fmsh.interp.shell import Shell

TIMED_OUT = 124  # coreutils' status for a command stopped by its timeout
KILLED = 137  # ... and for one that needed KILL
OUT_OF_ROUNDS = 124  # a loop stopped by `max N`: its bound ran out, as a timeout's does
_KILL_GRACE = 2.0  # `timeout` without -k: KILL this long after the signal


class BadModifier(ShellError):
    """A modifier's value, known only when expanded (`timeout $t`), is not one."""


class Quorum:
    """`need N` or `need P%`: how many hosts of a fan-out must succeed."""

    __slots__ = ("count", "percent")

    def __init__(self, count: int | None, percent: int | None) -> None:
        self.count = count
        self.percent = percent

    def required(self, hosts: int) -> int:
        if self.count is not None:
            return self.count
        assert self.percent is not None
        return -(-hosts * self.percent // 100)  # rounded up: 80% of 9 hosts is 8

    def __str__(self) -> str:
        return f"{self.percent}%" if self.percent is not None else str(self.count)


class HostPolicy:
    """The modifiers a fan-out takes as each host's own."""

    def __init__(self) -> None:
        self.timeout: float | None = None  # seconds per try (else the step timeout setting)
        self.signal = "TERM"
        self.kill_after = _KILL_GRACE
        self.tries = 1
        self.backoff: Backoff | None = None
        self.retry_on: frozenset[int] | None = None
        self.quorum: Quorum | None = None


class ModifierRunner:
    def __init__(self, shell: Shell, evaluator: CommandEvaluator) -> None:
        self.sh = shell
        self.ev = evaluator

    def run(self, node: ast.Modified) -> int:
        """The command under its modifiers; 2 when a modifier's expanded value is bad
        (as coreutils' timeout does for a bad duration, the script goes on)."""
        command = node.command
        modifiers = node.modifiers
        try:
            if type(command) is ast.RemoteCommand:
                policy, outer = self._host_policy(modifiers)
                return self._apply(outer, 0, lambda: self.ev.run_remote(command, policy))  # type: ignore[arg-type]
            return self._apply(modifiers, 0, lambda: self.ev.run(command))
        except BadModifier as e:
            self.sh.report(e.message)
            return 2

    def _apply(self, modifiers: list[ast.Modifier], k: int, inner: Callable[[], int]) -> int:
        if k == len(modifiers):
            return inner()
        modifier = modifiers[k]

        def rest() -> int:
            return self._apply(modifiers, k + 1, inner)

        kind = type(modifier)
        if kind is ast.TimeoutModifier:
            return self._timeout(modifier, rest)  # type: ignore[arg-type]
        if kind is ast.RetryModifier:
            return self._retry(modifier, rest)  # type: ignore[arg-type]
        if kind is ast.MaxModifier:
            self.ev.loop_bound = (self._count(modifier.count, "max"), modifier.pos)  # type: ignore[attr-defined]
            return rest()
        raise BadModifier("need: a quorum is for a fan-out: `need 80% @web[1-10] cmd'")

    # --- the fan-out's own --------------------------------------------------------------

    def _host_policy(self, modifiers: list[ast.Modifier]) -> tuple[HostPolicy, list[ast.Modifier]]:
        """Take, from the innermost out, the modifiers that can be each host's own:
        quorums, then one timeout (a try's), then one retry. The rest stay outside."""
        policy = HostPolicy()
        k = len(modifiers)
        timed = retried = False
        while k:
            modifier = modifiers[k - 1]
            kind = type(modifier)
            if kind is ast.NeedModifier and policy.quorum is None:
                policy.quorum = self._quorum(modifier)  # type: ignore[arg-type]
            elif kind is ast.TimeoutModifier and not timed and not retried:
                timed = True
                self._host_timeout(modifier, policy)  # type: ignore[arg-type]
            elif kind is ast.RetryModifier and not retried:
                retried = True
                policy.tries, policy.backoff, policy.retry_on = self._retry_settings(modifier)  # type: ignore[arg-type]
            else:
                break
            k -= 1
        return policy, modifiers[:k]

    def _host_timeout(self, modifier: ast.TimeoutModifier, policy: HostPolicy) -> None:
        seconds, signum, kill_after = self._timeout_settings(modifier)
        policy.timeout = seconds or None
        policy.signal = _signal_name(signum)
        if kill_after is not None:
            policy.kill_after = kill_after

    def _quorum(self, modifier: ast.NeedModifier) -> Quorum:
        text = self.sh.words.expand_string(modifier.quorum)
        number = text[:-1] if text.endswith("%") else text
        if not number.isdigit() or int(number) < 1 or (text.endswith("%") and int(number) > 100):
            raise BadModifier(f"need `{text}': not a number of hosts or a percentage (as in need 8, need 80%)")
        return Quorum(None, int(number)) if text.endswith("%") else Quorum(int(number), None)

    # --- timeout ------------------------------------------------------------------------

    def _timeout_settings(self, modifier: ast.TimeoutModifier) -> tuple[float, int, float | None]:
        from fmsh.runtime.signals import signal_number

        seconds = self._duration(modifier.duration, "timeout")
        signum = 15  # TERM
        if modifier.signal is not None:
            text = self.sh.words.expand_string(modifier.signal)
            number = signal_number(text)
            if number is None:
                raise BadModifier(f"timeout: `{text}': not a signal (as in TERM, INT, KILL or 9)")
            signum = number
        kill_after = None if modifier.kill_after is None else self._duration(modifier.kill_after, "timeout -k")
        return seconds, signum, kill_after

    def _timeout(self, modifier: ast.TimeoutModifier, inner: Callable[[], int]) -> int:
        seconds, signum, kill_after = self._timeout_settings(modifier)
        if not seconds:
            return inner()  # `timeout 0`: no limit, as coreutils has it
        deadline = Deadline(seconds, signum, _KILL_GRACE if kill_after is None else kill_after, modifier.foreground)
        status = self.under(deadline, inner)
        if not deadline.expired:
            assert status is not None
            return status
        if modifier.verbose:
            self.sh.report(f"timeout: {format_duration(seconds)} passed; sent SIG{_signal_name(signum)}")
        if deadline.killed or signum == 9:
            return KILLED if not modifier.preserve_status or status is None else status
        if modifier.preserve_status and status is not None:
            return status
        return TIMED_OUT

    def under(self, deadline: Deadline, inner: Callable[[], int]) -> int | None:
        """Run `inner` under `deadline`: its status, or None when the deadline passed
        and unwound it (then `deadline.expired`)."""
        sh = self.sh
        if sh.deadlines is None:
            sh.deadlines = Deadlines()
        sh.deadlines.push(deadline)
        try:
            return inner()
        except DeadlineExpired as e:
            if e.deadline is not deadline:
                raise
            return None
        except ExitShell:
            if not deadline.expired:  # `set -e` on the status of a command it stopped
                raise
            return None
        finally:
            sh.deadlines.pop(deadline)

    def task_block(self, node: ast.TaskBlock, inner: Callable[[], int]) -> int:
        """`task NAME timeout DUR { }`: a deadline counted from the task's first start,
        journaled, so that a resumed task has only what is left of it."""
        task = self.sh.task
        if node.timeout is None or task is None:
            return inner()
        try:
            seconds = self._duration(node.timeout, "task timeout")
        except BadModifier as e:
            self.sh.report(e.message)
            return 2
        if not seconds:
            return inner()
        left = task.deadline(seconds) - time.time()
        deadline = Deadline(max(left, 0.0), 15, _KILL_GRACE, label=f"task {node.name}")
        status = self.under(deadline, inner)
        if not deadline.expired:
            assert status is not None
            return status
        self.sh.report(f"task {node.name}: its {format_duration(seconds)} deadline passed; stopped")
        return TIMED_OUT

    # --- retry --------------------------------------------------------------------------

    def _retry_settings(self, modifier: ast.RetryModifier) -> tuple[int, Backoff, frozenset[int] | None]:
        tries = self._count(modifier.count, "retry")
        backoff = Backoff(jitter=modifier.jitter)
        if modifier.backoff_min is not None:
            low_text = self.sh.words.expand_string(modifier.backoff_min)
            high_text = None if modifier.backoff_max is None else self.sh.words.expand_string(modifier.backoff_max)
            if high_text is None and ".." in low_text:  # `backoff $range`
                low_text, _, high_text = low_text.partition("..")
            low = _duration_or_error(low_text, "backoff")
            high = None if high_text is None else _duration_or_error(high_text, "backoff")
            if high is not None and low > high:
                raise BadModifier(
                    f"backoff {low_text}..{high_text}: the shortest wait comes first (as in backoff 1s..30s)"
                )
            backoff = Backoff(low, high, modifier.jitter)
        on: frozenset[int] | None = None
        if modifier.on is not None:
            text = self.sh.words.expand_string(modifier.on)
            items = text.split(",")
            if not all(item.isdigit() and int(item) <= 255 for item in items):
                raise BadModifier(f"retry on `{text}': not a list of exit statuses (as in on 75,255)")
            on = frozenset(int(item) for item in items)
        return tries, backoff, on

    def _retry(self, modifier: ast.RetryModifier, inner: Callable[[], int]) -> int:
        tries, backoff, on = self._retry_settings(modifier)
        sh = self.sh
        ev = self.ev
        keys = sh.task.keys if sh.task is not None else None
        if keys is not None:
            keys.enter_loop(modifier.pos)  # attempt N's steps are keyed as round N's
        try:
            attempt = 1
            while True:
                last = attempt == tries
                if not last:
                    ev.errexit_suppressed += 1  # a failed attempt is not the end: `set -e` waits
                try:
                    status = inner()
                finally:
                    if not last:
                        ev.errexit_suppressed -= 1
                if status == 0 or last or (on is not None and status not in on) or sh.interrupted:
                    if status not in (0, 130) and not sh.interrupted and sh.task is not None and not sh.task.depth:
                        sh.task.retry_gave_up(status)  # trace marks the last attempt failed
                    return status
                if status == 130 and on is None:
                    return status  # Ctrl-C is not a failure to try again
                wait = backoff.wait(attempt)
                sh.report(
                    f"retry: attempt {attempt} of {tries} failed (status {status}); "
                    f"trying again in {format_duration(wait)}"
                )
                if keys is not None:
                    keys.next_round(attempt + 1)
                self._wait(modifier, wait, status)
                attempt += 1
        finally:
            if keys is not None:
                keys.leave()

    def _wait(self, modifier: ast.RetryModifier, seconds: float, failed_status: int) -> None:
        """The backoff: in a task a durable timer (a resumed task waits what is left),
        journaled with the status of the attempt that failed."""
        sh = self.sh
        task = sh.task
        status: int | None
        if task is not None and not task.depth:
            status = task.sleep(modifier.pos, seconds, kind="backoff", note=str(failed_status))
        else:
            from fmsh.interp.pause import OUTER_DEADLINE, pause

            status = pause(sh, seconds)
            if status == OUTER_DEADLINE:
                assert sh.deadlines is not None
                sh.deadlines.check()
        if status == 130:
            from fmsh.runtime.errors import Interrupted

            raise Interrupted()

    # --- operands -----------------------------------------------------------------------

    def _duration(self, word: ast.Word, what: str) -> float:
        return _duration_or_error(self.sh.words.expand_string(word), what)

    def _count(self, word: ast.Word, what: str) -> int:
        text = self.sh.words.expand_string(word)
        if not text.isdigit() or int(text) < 1:
            raise BadModifier(f"{what} `{text}': not a whole number, 1 or more")
        return int(text)


def _duration_or_error(text: str, what: str) -> float:
    value = parse_duration(text)
    if value is None:
        raise BadModifier(f"{what}: `{text}': not a duration (a number of seconds, or with ms, s, m, h or d)")
    return value


def _signal_name(number: int) -> str:
    from fmsh.runtime.signals import SIGNAL_NAMES

    for name, value in SIGNAL_NAMES.items():
        if value == number:
            return name
    return str(number)


if TYPE_CHECKING:
    from collections.abc import Callable
