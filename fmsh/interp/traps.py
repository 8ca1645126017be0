"""`trap`: commands run on EXIT, on ERR, and when a signal arrives."""

from __future__ import annotations

from fmsh.runtime import signals
from fmsh.runtime.errors import ExitShell

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell

PSEUDO_SIGNALS = ("EXIT", "ERR", "DEBUG", "RETURN")


class Traps:
    def __init__(self, shell: Shell) -> None:
        self.sh = shell
        # condition name ("EXIT", "INT", ...) -> command text; "" means ignore.
        self.actions: dict[str, str] = {}
        # The parent's traps, which a subshell shows (`saved=$(trap -p)`) but does not run.
        self.inherited: dict[str, str] = {}
        self._running = False
        # The RETURN trap belongs to the function that set it (bash, without functrace).
        self._return_depth = -1

    def set(self, condition: str, action: str | None) -> None:
        """Set (action text), ignore ("") or reset (None) a trap."""
        if action is None:
            self.actions.pop(condition, None)
        else:
            self.actions[condition] = action
        if condition == "RETURN":
            self._return_depth = len(self.sh.call_stack)
        if condition not in PSEUDO_SIGNALS:
            number = signals.signal_number(condition)
            if number is not None:
                signals.set_trap_handler(number, action)

    def listing(self) -> dict[str, str]:
        """What `trap -p` shows: this shell's traps, or in an untouched subshell the parent's."""
        return self.actions or self.inherited

    def handles(self, condition: str) -> bool:
        return bool(self.actions.get(condition))

    def has_pending(self) -> bool:
        return bool(signals.state.pending)

    def run_pending(self) -> None:
        if self._running:
            return
        pending, signals.state.pending = signals.state.pending, []
        for number in pending:
            action = self.actions.get(signals.signal_name(number))
            if action:
                self._run(action)

    def _run(self, action: str) -> None:
        status = self.sh.last_status
        self._running = True
        try:
            self.sh.eval_text(action, "trap")
        finally:
            self._running = False
            self.sh.last_status = status

    def returning_from(self, depth: int) -> bool:
        """Whether a function returning at this call depth owns the RETURN trap."""
        return depth == self._return_depth and bool(self.actions.get("RETURN"))

    def run_return(self) -> None:
        action = self.actions.get("RETURN")
        if action and not self._running:
            self._run(action)

    def run_err(self) -> None:
        action = self.actions.get("ERR")
        if action and not self._running:
            self._run(action)

    def run_exit(self, status: int) -> int:
        """The EXIT trap, once. Returns the shell's final status."""
        action = self.actions.pop("EXIT", None)
        if not action:
            return status
        self.sh.last_status = status
        try:
            self.sh.eval_text(action, "trap")
        except ExitShell as e:
            return e.status
        except Exception:  # noqa: BLE001 - the shell is ending; the trap's error was reported
            pass
        return status

    def reset_for_subshell(self) -> None:
        """A subshell keeps ignored signals ignored and forgets the other traps."""
        self.inherited = dict(self.actions)
        for condition, action in list(self.actions.items()):
            if action != "":
                self.actions.pop(condition)
                number = signals.signal_number(condition) if condition not in PSEUDO_SIGNALS else None
                if number is not None:
                    signals.set_handler(number, signals.SIG_DFL)
