"""Signals and traps.

SIGINT without a trap behaves as in bash: while a foreground child runs, the shell only
notes it and lets the child decide; if the child dies of it, the shell stops with 130.
At any other moment it interrupts the shell at once. A trapped signal is queued by the
Python handler and its command runs between two commands of the script.
"""

from __future__ import annotations

# The `signal` module wraps the C module's functions in enums, and importing enum is a
# quarter of fmsh's start-up; `_signal` has the same functions on plain ints.
import _signal as signal  # type: ignore[import-not-found,unused-ignore]

from fmsh.runtime.errors import Interrupted

SIG_DFL = signal.SIG_DFL
SIG_IGN = signal.SIG_IGN
SIGINT: int = signal.SIGINT
SIGPIPE: int = signal.SIGPIPE
SIGXFSZ: int = signal.SIGXFSZ
SIGTSTP: int = signal.SIGTSTP
SIGTTIN: int = signal.SIGTTIN
SIGTTOU: int = signal.SIGTTOU
SIGCONT: int = signal.SIGCONT
# Ignored by a shell with job control; its jobs get them back at their defaults.
STOP_SIGNALS = (SIGTSTP, SIGTTIN, SIGTTOU)


def set_handler(number: int, handler: object) -> None:
    signal.signal(number, handler)


def get_handler(number: int) -> object:
    return signal.getsignal(number)


class _State:
    sigint_seen = False
    waiting = 0
    pending: list[int] = []
    foreground: list[int] = []  # the children the shell waits for in the foreground
    groups: set[int] = set()  # process groups of its own (under a deadline): Ctrl-C is passed on


state = _State()


def _pass_on(signum: int) -> None:
    """Children in process groups of their own do not get the terminal's signal: pass it on."""
    import os

    for group in list(state.groups):
        try:
            os.killpg(group, signum)
        except OSError:
            state.groups.discard(group)


def _on_sigint(signum: int, frame: object) -> None:
    state.sigint_seen = True
    if state.groups:
        _pass_on(signum)
    if not state.waiting:
        raise Interrupted()


def _on_trapped(signum: int, frame: object) -> None:
    if state.groups and signum == signal.SIGINT:
        _pass_on(signum)
    state.pending.append(signum)


def install_default_handlers() -> None:
    """At start-up: SIGINT as described above (unless it was ignored on entry)."""
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_sigint)


def child_defaults(background: bool, job: bool = False) -> None:
    """In a forked child that is about to run commands: defaults, as bash resets them.

    A background job in a shell without job control ignores SIGINT and SIGQUIT (POSIX).
    `job`: the child is a job of a shell with job control (a process group of its own):
    the stop signals the shell ignores are its again. Other children of such a shell
    (command substitutions) keep them ignored: they share the shell's group.
    """
    if job:
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_DFL)
    if background and not job:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    elif signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    state.sigint_seen = False
    state.waiting = 0
    state.pending = []
    state.foreground = []
    state.groups = set()


SIGNAL_NAMES = {
    name[3:]: int(getattr(signal, name))
    for name in dir(signal)
    if name.startswith("SIG") and not name.startswith("SIG_") and name not in ("SIGRTMIN", "SIGRTMAX")
}


def numbered_names() -> list[tuple[int, str]]:
    """Every signal by number, real-time ones as bash names them (RTMIN+1, RTMAX-1...)."""
    out = sorted((number, name) for name, number in SIGNAL_NAMES.items() if name not in ("IOT", "CLD", "POLL"))
    low, high = signal.SIGRTMIN, signal.SIGRTMAX
    middle = (low + high) // 2
    for number in range(low, high + 1):
        if number == low:
            name = "RTMIN"
        elif number == high:
            name = "RTMAX"
        elif number <= middle:
            name = f"RTMIN+{number - low}"
        else:
            name = f"RTMAX-{high - number}"
        out.append((number, name))
    return out


def signal_number(spec: str) -> int | None:
    """A signal by number, `INT`, `SIGINT` or `int`."""
    if spec.isdigit():
        return int(spec)
    name = spec.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name.startswith("RT"):
        for number, rt_name in numbered_names():
            if rt_name == name:
                return number
    return SIGNAL_NAMES.get(name)


def interrupt_foreground() -> None:
    """From another thread (the shell's task can go no further): stop what the shell waits
    for, as Ctrl-C would — its foreground children get SIGINT, and the shell notes one, which
    its remote stages see and stop their commands — without raising in the shell's own code
    at a random point."""
    import os

    state.sigint_seen = True
    for pid in list(state.foreground):
        try:
            os.kill(pid, signal.SIGINT)
        except OSError:
            pass


def die_of(number: int) -> None:
    """End this process by the signal itself, so that its parent sees how it ended."""
    import os

    signal.signal(number, SIG_DFL)
    os.kill(os.getpid(), number)


def signal_name(number: int) -> str:
    for name, value in SIGNAL_NAMES.items():
        if value == number and name not in ("IOT", "CLD", "POLL"):
            return name
    return str(number)


def set_trap_handler(number: int, action: str | None) -> None:
    """None: default; "": ignore; anything else: queue for the trap command."""
    if action is None:
        signal.signal(number, _on_sigint if number == signal.SIGINT else signal.SIG_DFL)
    elif action == "":
        signal.signal(number, signal.SIG_IGN)
    else:
        signal.signal(number, _on_trapped)
