"""The primitives the standard library (builtins/*.fmsh) is written with: what needs the
journal or the host patterns, which a function cannot reach. Not meant to be called
directly (hence the `__` names); the functions are the interface.

    __lock NAME TIMEOUT [CMD...]   take lock NAME, waiting up to TIMEOUT (empty: the await
                                   timeout); with CMD: run it holding the lock, then
                                   release it
    __lock -l                      the locks held now
    __unlock [-f] NAME             release lock NAME (-f: whoever holds it)
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
"""

from __future__ import annotations

import os
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
    """A lock this process holds: renewed by the heartbeat until released."""

    __slots__ = ("name", "epoch", "holder", "journal", "shell", "task")

    def __init__(self, name: str, epoch: int, holder: str, journal: Journal, shell: Shell, task: TaskRun | None):
        self.name = name
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
            self.held[held.name] = held
            self.lease = lease
            if self.thread is None:
                self.thread = threading.Thread(target=self._beat, name="fmsh-locks", daemon=True)
                self.thread.start()
            if not self.at_exit:
                import atexit

                atexit.register(_release_all)
                self.at_exit = True

    def forget(self, name: str) -> None:
        with self.mutex:
            self.held.pop(name, None)

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
                    self.forget(lock.name)
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
    locks().forget(lock.name)
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


class Lock(_Primitive):
    name = "lock"

    def run(self, argv: list[str]) -> int:
        status = super().run(argv[:3])
        command = argv[3:]
        if status or not command:
            return status
        try:  # CMD's errors are its own: not said as lock's
            return self.sh.cmd.simple.run_argv(command, [], [])
        finally:
            held = locks().held.get(argv[1])
            if held is not None:
                release(held)

    def main(self, args: list[str]) -> int:
        if args == ["-l"]:
            return self._list()
        if len(args) != 2:
            raise UsageError("usage: __lock NAME TIMEOUT [CMD...] | __lock -l")
        name, limit = args
        _check_name(name)
        return self.acquire(name, self._timeout(limit))

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

    def acquire(self, name: str, timeout: float | None) -> int:
        """Take the lock, trying again with a growing pause until `timeout` (None: no
        limit); 124 when it is still held then."""
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
        tries = 0
        while True:
            taken, lock = journal.acquire_lock(name, holder, here, lease, lambda lock: holder_gone(lock, here))
            if taken:
                state.add(_Held(name, lock.epoch, holder, journal, sh, task), lease)
                sh.vars.set("LOCK_EPOCH", str(lock.epoch))
                return 0
            tries += 1
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                shown = format_duration(timeout) if timeout else "0s"
                self.warn(
                    f"{name}: timed out after {shown}: held by {lock.holder} since {_since(lock.acquired_at)} "
                    f"(epoch {lock.epoch})"
                )
                return TIMED_OUT
            wait = backoff.wait(tries)
            status = pause(sh, wait if left is None else min(wait, left))
            if status == OUTER_DEADLINE:
                assert sh.deadlines is not None
                sh.deadlines.check()  # an enclosing `timeout` passed: unwind to it
                return TIMED_OUT
            if status is not None:
                return status

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
        if held is not None and not force:
            release(held)
            return 0
        from fmsh.tasks.owner import this_process

        task = sh.task if sh.task is not None and not sh.task.depth else None
        holder = None if force else (f"task {task.id}" if task is not None else str(this_process()))
        released, lock = state.journal(sh).release_lock(name, holder)
        if released:
            state.forget(name)
            return 0
        if lock is None or lock.holder is None:
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
