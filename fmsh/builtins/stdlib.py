"""The primitives the standard library (builtins/*.fmsh) is written with: what needs the
journal or the host patterns, which a function cannot reach. Not meant to be called
directly (hence the `__` names); the functions are the interface.

    __lock [-n N] NAME TIMEOUT [CMD...]
                                   take lock NAME (with -n: one of its N slots), waiting
                                   up to TIMEOUT (empty: the await timeout); with CMD:
                                   run it holding the lock, then release it
    __lock -l                      the locks held now
    __unlock [-f] NAME             release lock NAME, or the slot of it this shell holds
                                   (-f: whoever holds it)
    __batches N PATTERN            the hosts of PATTERN in batches of N, a line each:
                                   the batch as a pattern, a tab, its host names
    __in_task                      status 0 when this shell runs a task and can await a
                                   signal (not a subshell, not inside a step)

Locks live in the journal (table `locks`, migration 3): a lock is held by `task ID` (in a
task's own shell, so that a resumed task holds it again) or by HOST:PID, and has a lease
(FMSH_LEASE seconds, 30) that a heartbeat thread renews while its process lives. It is
free again when released, when its lease expires (its holder's machine died), or at
once, on the same machine, when the holding process is gone (SIGKILL). A process's locks
are released when it exits, a task's when it ends. Each acquisition adds one to the
lock's epoch (`LOCK_EPOCH` after `lock`), a fencing token for what the lock protects.

`lock -n N NAME` is a counting semaphore built on the same rows, so that it works on every
journal backend (the journal knows only single locks): its N slots are the locks `NAME#1`
.. `NAME#N` (plain `NAME` when N is 1: the mutex). Each round reads the held locks once,
then tries to take the slots that look free (acquire_lock decides), from a random slot on,
so that many waiters spread out; when all N are held it waits, as the mutex does. What
this process holds is keyed by NAME (`_Held.key`; `_Held.name` is the row): a holder holds
at most one slot of a NAME, and taking NAME again renews that slot (found in the journal
for a resumed task). `LOCK_SLOT` says which slot (1..N). The slots are just names: callers
that give one NAME different N each get what they ask for.
"""

from __future__ import annotations

import os
import random
import threading
import time

from fmsh.builtins.base import Builtin, UsageError
from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell
    from fmsh.journal.base import Journal, Owner
    from fmsh.journal.records import LockRecord
    from fmsh.tasks.run import TaskRun

TIMED_OUT = 124
_FIRST_WAIT = 0.05  # the first pause between tries; it doubles up to:
_LONGEST_WAIT = 0.5  # so a freed lock is taken within half a second


class _Held:
    """A lock this process holds: renewed by the heartbeat until released. `key` is the
    NAME it was taken as (`lock -n N NAME`), `name` the journal's row (NAME, or NAME#slot)."""

    __slots__ = ("key", "name", "slot", "epoch", "holder", "journal", "shell", "task")

    def __init__(
        self, key: str, name: str, slot: int, epoch: int, holder: str, journal: Journal, shell: Shell,
        task: TaskRun | None,
    ):  # fmt: skip
        self.key = key
        self.name = name
        self.slot = slot
        self.epoch = epoch
        self.holder = holder
        self.journal = journal
        self.shell = shell
        self.task = task  # a task's lock ends with the task


class _Locks:
    """The locks of this process, its journal connections, and the heartbeat thread. A
    forked child starts afresh: it holds none of its parent's locks, and must not use its
    parent's SQLite connections (kept, never closed, so that nothing closes them)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.held: dict[str, _Held] = {}
        self.journals: dict[str, Journal] = {}
        self.mutex = threading.Lock()
        self.thread: threading.Thread | None = None
        self.lease = 30.0
        self.at_exit = False

    def journal(self, sh: Shell) -> Journal:
        from fmsh.journal import journal_path, open_journal

        environ = sh.vars.environ()
        if (environ.get("FMSH_JOURNAL") or "") == "none":
            raise ShellError("FMSH_JOURNAL=none: locks are kept in the journal, and there is none", status=2)
        path = journal_path(environ)
        journal = self.journals.get(path)
        if journal is None:
            journal = open_journal(environ)
            assert journal is not None
            self.journals[path] = journal
        return journal

    def add(self, held: _Held, lease: float) -> None:
        with self.mutex:
            self.held[held.key] = held
            self.lease = lease
            if self.thread is None:
                self.thread = threading.Thread(target=self._beat, name="fmsh-locks", daemon=True)
                self.thread.start()
            if not self.at_exit:
                import atexit

                atexit.register(_release_all)
                self.at_exit = True

    def forget(self, key: str) -> None:
        with self.mutex:
            self.held.pop(key, None)

    def forget_row(self, name: str) -> None:
        """Released by its row's name (`unlock NAME#2`): whatever key holds that row."""
        with self.mutex:
            for key, held in list(self.held.items()):
                if held.name == name:
                    del self.held[key]

    def _beat(self) -> None:
        while True:
            time.sleep(min(self.lease / 3, 2.0))
            if os.getpid() != self.pid:
                return
            with self.mutex:
                held = list(self.held.values())
            for lock in held:
                try:
                    if lock.task is not None and lock.shell.task is not lock.task:
                        release(lock)  # its task has ended
                        continue
                    lost = lock.journal.renew_locks([(lock.name, lock.epoch)], lock.holder, self.lease)
                except ShellError:
                    continue  # a busy journal: again at the next beat, before the lease runs out
                except Exception:  # noqa: BLE001 - the journal was closed under us: the shell is ending
                    return
                if lost:
                    self.forget(lock.key)
                    lock.shell.report(f"lock: {lock.name}: lost (its lease expired, or it was forced open)")


_state: _Locks | None = None
_orphans: list[_Locks] = []  # a parent's, in a forked child: kept so that nothing closes its connections


def locks() -> _Locks:
    global _state
    if _state is None or _state.pid != os.getpid():
        if _state is not None:
            _orphans.append(_state)
        _state = _Locks()
    return _state


def release(lock: _Held) -> None:
    locks().forget(lock.key)
    lock.journal.release_lock(lock.name, lock.holder)


def _release_all() -> None:
    """At exit: what this process still holds is released (not left for the lease)."""
    if _state is None or _state.pid != os.getpid():
        return
    for lock in list(_state.held.values()):
        try:
            release(lock)
        except Exception:  # noqa: BLE001, S110 - exiting: the lease or the dead pid frees it
            pass


def holder_gone(lock: LockRecord, here: Owner) -> bool:
    """Whether, on this machine (same boot), the process holding `lock` is gone."""
    from fmsh.tasks.owner import process_started

    recorded = lock.owner_started or ""
    boot = here.started.partition(":")[0]
    if lock.owner_host != here.host or not boot or not recorded.startswith(boot + ":") or not lock.owner_pid:
        return False
    return process_started(lock.owner_pid) != recorded


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or not c.isprintable() for c in name):
        raise UsageError(f"`{name}': not a lock name (one word, as in deploy)")


def _since(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "?"


class _Primitive(Builtin):
    """A primitive speaks as the function it serves (`fmsh: lock: ...`)."""

    def run(self, argv: list[str]) -> int:
        try:
            return self.main(argv[1:])
        except ShellError as e:
            if e.fatal:
                raise
            self.warn(e.message)
            return e.status

    def main(self, args: list[str]) -> int:
        raise NotImplementedError


def _slot_row(name: str, slots: int, k: int) -> str:
    """The journal's row for slot `k` of `slots`: the plain name for a mutex."""
    return name if slots == 1 else f"{name}#{k}"


def _slot_of(row: str, name: str) -> int | None:
    """Which slot of NAME the row `row` is (NAME#k), else None."""
    prefix, hash_, number = row.rpartition("#")
    if not hash_ or prefix != name or not number.isdigit() or number.startswith("0"):
        return None
    return int(number)


def _slots(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"-n `{text}': not a number of slots (a whole number, 1 or more)")
    return int(text)


_USAGE = "usage: __lock [-n N] NAME TIMEOUT [CMD...] | __lock -l"
_SHOWN_HOLDERS = 5  # a timed-out `lock -n N` names this many of the holders, then counts the rest


class Lock(_Primitive):
    name = "lock"

    def run(self, argv: list[str]) -> int:
        own = 5 if argv[1:2] == ["-n"] else 3  # __lock [-n N] NAME TIMEOUT: the rest is CMD
        status = super().run(argv[:own])
        command = argv[own:]
        if status or not command:
            return status
        try:  # CMD's errors are its own: not said as lock's
            return self.sh.cmd.simple.run_argv(command, [], [])
        finally:
            held = locks().held.get(argv[own - 2])
            if held is not None:
                release(held)

    def main(self, args: list[str]) -> int:
        if args == ["-l"]:
            return self._list()
        slots = 1
        if args[:1] == ["-n"]:
            if len(args) < 2:
                raise UsageError("-n: needs a number of slots (1 or more)")
            slots = _slots(args[1])
            args = args[2:]
        if len(args) != 2:
            raise UsageError(_USAGE)
        name, limit = args
        _check_name(name)
        return self.acquire(name, self._timeout(limit), slots)

    def _timeout(self, text: str) -> float | None:
        from fmsh.runtime.durations import parse_duration

        if not text:
            from fmsh.runtime import settings

            try:
                return settings.timeout("await-timeout", self.sh.vars.get("FMSH_AWAIT_TIMEOUT"))
            except settings.SettingError as e:
                raise UsageError(str(e)) from None
        seconds = parse_duration(text)
        if seconds is None:
            raise UsageError(f"`{text}': not a timeout (a duration, as in 30s, 5m; 0: do not wait)")
        return seconds

    def acquire(self, name: str, timeout: float | None, slots: int = 1) -> int:
        """Take the lock (one of its `slots`), trying again with a growing pause until
        `timeout` (None: no limit); 124 when it is still held (all its slots) then."""
        from fmsh.interp.pause import OUTER_DEADLINE, pause
        from fmsh.runtime.backoff import Backoff
        from fmsh.runtime.durations import format_duration
        from fmsh.tasks.lease import lease_seconds
        from fmsh.tasks.owner import this_process

        sh = self.sh
        state = locks()
        journal = state.journal(sh)
        lease = lease_seconds(sh.vars.get("FMSH_LEASE"))
        here = this_process()
        task = sh.task if sh.task is not None and not sh.task.depth else None
        holder = f"task {task.id}" if task is not None else str(here)
        deadline = None if timeout is None else time.monotonic() + timeout
        backoff = Backoff(_FIRST_WAIT, _LONGEST_WAIT, jitter=True)
        start = random.randrange(slots)  # where this waiter begins: many waiters spread out
        held = state.held.get(name)
        # Held already: taking it again renews the slot it holds (whatever N says now).
        mine = (held.name, held.slot) if held is not None else None

        def gone(lock: LockRecord) -> bool:
            return holder_gone(lock, here)

        def take(row: str, slot: int) -> tuple[bool, LockRecord]:
            taken, lock = journal.acquire_lock(row, holder, here, lease, gone)
            if taken:
                state.add(_Held(name, row, slot, lock.epoch, holder, journal, sh, task), lease)
                sh.vars.set("LOCK_EPOCH", str(lock.epoch))
                sh.vars.set("LOCK_SLOT", str(slot))
            return taken, lock

        tries = 0
        while True:
            busy: list[LockRecord] = []
            seen: dict[str, LockRecord] = {}
            if slots > 1:  # one read a round: which slots look free (acquire_lock decides)
                seen = {lock.name: lock for lock in journal.locks() if _slot_of(lock.name, name) is not None}
                if mine is None and tries == 0:  # a resumed task: the slot it held
                    ours = [
                        lock for lock in seen.values()
                        if lock.holder == holder and (holder.startswith("task ") or lock.owner_started == here.started)
                    ]  # fmt: skip
                    if ours:
                        mine = (ours[0].name, _slot_of(ours[0].name, name) or 1)
            if mine is not None:
                taken, lock = take(*mine)
                if taken:
                    return 0
                seen[mine[0]] = lock  # lost meanwhile (its lease expired, or forced open): take any
                mine = None
            for i in range(slots):
                k = (start + i) % slots + 1
                row = _slot_row(name, slots, k)
                looked = seen.get(row)
                if looked is not None and looked.holder not in (None, holder) and not gone(looked):
                    busy.append(looked)  # held by another: not worth a write
                    continue
                taken, lock = take(row, k)
                if taken:
                    return 0
                busy.append(lock)
            tries += 1
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                shown = format_duration(timeout) if timeout else "0s"
                self.warn(f"{name}: timed out after {shown}: {self._holders(busy, name, slots)}")
                return TIMED_OUT
            wait = backoff.wait(tries)
            status = pause(sh, wait if left is None else min(wait, left))
            if status == OUTER_DEADLINE:
                assert sh.deadlines is not None
                sh.deadlines.check()  # an enclosing `timeout` passed: unwind to it
                return TIMED_OUT
            if status is not None:
                return status

    @staticmethod
    def _holders(busy: list[LockRecord], name: str, slots: int) -> str:
        """Who holds the lock: its holder, or for slots, that all are taken and by whom."""
        if slots == 1:
            [lock] = busy
            return f"held by {lock.holder} since {_since(lock.acquired_at)} (epoch {lock.epoch})"
        busy = sorted(busy, key=lambda lock: _slot_of(lock.name, name) or 0)
        shown = [
            f"{lock.name} by {lock.holder} since {_since(lock.acquired_at)} (epoch {lock.epoch})"
            for lock in busy[:_SHOWN_HOLDERS]
        ]
        more = len(busy) - len(shown)
        return f"all {slots} slots are taken: " + ", ".join(shown) + (f", and {more} more" if more > 0 else "")

    def _list(self) -> int:
        from fmsh.journal import open_journal

        environ = self.sh.vars.environ()
        if (environ.get("FMSH_JOURNAL") or "") == "none":
            return 0
        journal = open_journal(environ, create=False)
        if journal is None:
            return 0
        try:
            rows = [
                [lock.name, lock.holder or "", str(lock.epoch), _since(lock.acquired_at)] for lock in journal.locks()
            ]
        finally:
            journal.close()
        if not rows:
            return 0
        table = [["NAME", "HOLDER", "EPOCH", "SINCE"], *rows]
        widths = [max(len(r[i]) for r in table) for i in range(4)]
        for row in table:
            self.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
        return 0


class Unlock(_Primitive):
    name = "unlock"

    def main(self, args: list[str]) -> int:
        force = args[:1] == ["-f"]
        if force:
            args = args[1:]
        if len(args) != 1:
            raise UsageError("usage: __unlock [-f] NAME")
        name = args[0]
        _check_name(name)
        sh = self.sh
        state = locks()
        held = state.held.get(name)
        if held is not None and (not force or held.name != name):
            release(held)  # the slot it holds, for `lock -n N NAME`
            return 0
        from fmsh.tasks.owner import this_process

        here = this_process()
        task = sh.task if sh.task is not None and not sh.task.depth else None
        holder = None if force else (f"task {task.id}" if task is not None else str(here))
        journal = state.journal(sh)
        released, lock = journal.release_lock(name, holder)
        if released:
            state.forget_row(name)
            return 0
        if lock is None or lock.holder is None:
            # Not a lock of that name: maybe a NAME of slots (`lock -n N NAME`).
            slots = [held for held in journal.locks() if _slot_of(held.name, name) is not None]
            ours = [held for held in slots if holder is not None and held.holder == holder]
            if ours:  # this task's, taken before it was resumed
                released, _ = journal.release_lock(ours[0].name, holder)
                if released:
                    state.forget_row(ours[0].name)
                    return 0
            if slots:
                rows = ", ".join(f"{held.name} by {held.holder}" for held in slots[:_SHOWN_HOLDERS])
                more = len(slots) - min(len(slots), _SHOWN_HOLDERS)
                rows += f", and {more} more" if more else ""
                what = "its slots are locks of their own" if force else "its slots are held by others, not this shell"
                self.warn(f"{name}: {what}: {rows} (`unlock -f {slots[0].name}' forces one open)")
                return 1
            self.warn(f"{name}: not locked")
        else:
            self.warn(f"{name}: held by {lock.holder}, not by this shell (`unlock -f {name}' forces it open)")
        return 1


class Batches(_Primitive):
    name = "rolling"

    def main(self, args: list[str]) -> int:
        from fmsh.remote import nodeset

        if len(args) != 2:
            raise UsageError("usage: __batches N PATTERN")
        size, pattern = args[0], args[1].removeprefix("@")
        if not size.isdigit() or int(size) < 1:
            raise UsageError(f"`{size}': not a batch size (a number, 1 or more)")
        refs = nodeset.expand(
            pattern, self.sh.remote.inventory(), nodeset.limit_of(self.sh.vars.get(nodeset.MAX_HOSTS_VARIABLE))
        )
        if not refs:
            raise ShellError(f"@{pattern}: no hosts")
        user, port = refs[0].user, refs[0].port
        n = int(size)
        for k in range(0, len(refs), n):
            names = [ref.name for ref in refs[k : k + n]]
            batch = (f"{user}@" if user else "") + nodeset.fold(names) + (f":{port}" if port else "")
            self.write(f"{batch}\t{' '.join(names)}\n")
        return 0


class InTask(Builtin):
    name = "__in_task"

    def run(self, argv: list[str]) -> int:
        task = self.sh.task
        return 0 if task is not None and not task.depth else 1
