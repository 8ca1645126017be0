"""Background jobs: what `&` started, for `$!`, `wait`, `jobs` and `kill %N`."""

from __future__ import annotations

import os

from fmsh.runtime.process import status_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Job:
    __slots__ = ("number", "pids", "command", "statuses", "reported", "pgid", "stopped")

    def __init__(self, number: int, pids: list[int], command: str, pgid: int | None = None) -> None:
        self.number = number
        self.pids = pids
        self.command = command
        self.statuses: dict[int, int] = {}
        self.reported = False
        self.pgid = pgid  # its process group, under job control
        self.stopped: dict[int, int] = {}  # pid -> the signal that stopped it

    @property
    def done(self) -> bool:
        return len(self.statuses) == len(self.pids)

    @property
    def is_stopped(self) -> bool:
        """Stopped: none of its processes runs, and one at least is stopped."""
        return bool(self.stopped) and not self.done and all(p in self.stopped or p in self.statuses for p in self.pids)

    @property
    def state(self) -> str:
        """As `jobs` shows it: Running, Stopped, Done, Exit N, or the signal that ended it."""
        if self.is_stopped:
            sig = next(iter(self.stopped.values()))
            return {21: "Stopped (tty input)", 22: "Stopped (tty output)"}.get(sig, "Stopped")
        if not self.done:
            return "Running"
        status = self.status
        if status == 0:
            return "Done"
        if self.pgid is not None and status > 128:
            return _SIGNAL_TEXT.get(status - 128, f"Exit {status}")
        return f"Exit {status}"

    @property
    def status(self) -> int:
        """The job's status: its last process's."""
        return self.statuses.get(self.pids[-1], 0)


class JobTable:
    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.order: list[Job] = []  # most recently started, stopped or backgrounded last
        self.inherited: list[Job] = []
        # Statuses of background children already reaped, by pid: `wait PID` after the
        # fact still gets the right answer.
        self.finished: dict[int, int] = {}
        self.on_reaped: Callable[[int, int], None] | None = None  # (pid, status): a task journals it

    def reaped(self, job: Job, pid: int, status: int) -> None:
        job.statuses[pid] = self.finished[pid] = status
        if self.on_reaped is not None:
            self.on_reaped(pid, status)

    def add_finished(self, pid: int, status: int, command: str) -> Job:
        """A job that a resumed task does not start again: it ran (journaled), as `pid`."""
        job = self.add([pid], command)
        job.statuses[pid] = self.finished[pid] = status
        return job

    def add(self, pids: list[int], command: str, pgid: int | None = None) -> Job:
        number = max((j.number for j in self.jobs), default=0) + 1
        job = Job(number, pids, command, pgid)
        self.jobs.append(job)
        self.order.append(job)
        return job

    def touch(self, job: Job) -> None:
        """The job becomes the most recent one (it stopped, or went to the background)."""
        if job in self.order:
            self.order.remove(job)
        self.order.append(job)

    def remove(self, job: Job) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        if job in self.order:
            self.order.remove(job)

    def current(self, jobs: list[Job] | None = None) -> tuple[Job | None, Job | None]:
        """bash's current (`%+`) and previous (`%-`) jobs: the most recent, a stopped job
        before any other."""
        listed = self.listing() if jobs is None else jobs
        ranked = [j for j in self.order if j in listed] + [j for j in listed if j not in self.order]
        ranked.sort(key=lambda j: j.is_stopped)  # stable: stopped ones last, most recent last
        first = ranked[-1] if ranked else None
        second = ranked[-2] if len(ranked) > 1 else None
        return first, second

    def mark(self, job: Job) -> str:
        first, second = self.current()
        return "+" if job is first else ("-" if job is second else " ")

    def describe(self, job: Job, pid: bool = False) -> str:
        """A line of `jobs`: `[1]+  Stopped                 sleep 100`."""
        shown = f"{job.pids[-1]} " if pid else ""
        return f"[{job.number}]{self.mark(job)}  {shown}{job.state:<24}{job.command}"

    def forget_children(self) -> None:
        """In a forked child: the jobs are the parent's. `jobs` still lists them (as in
        `$(jobs -p)`), but they are not ours to reap or wait for."""
        self.inherited = list(self.jobs)
        self.jobs = []
        self.order = []
        self.finished.clear()
        self.on_reaped = None

    def listing(self) -> list[Job]:
        return self.jobs or self.inherited

    def poll(self) -> None:
        """Reap finished background children without blocking (and, for jobs under job
        control, note those that stopped or went on again)."""
        for job in self.jobs:
            flags = os.WNOHANG | (os.WUNTRACED | os.WCONTINUED if job.pgid is not None else 0)
            for pid in job.pids:
                if pid in job.statuses:
                    continue
                try:
                    got, raw = os.waitpid(pid, flags)
                except ChildProcessError:
                    job.statuses[pid] = 127
                    continue
                if not got:
                    continue
                if os.WIFSTOPPED(raw):
                    job.stopped[pid] = os.WSTOPSIG(raw)
                    job.reported = False
                elif os.WIFCONTINUED(raw):
                    job.stopped.pop(pid, None)
                else:
                    job.stopped.pop(pid, None)
                    job.reported = False
                    self.reaped(job, pid, status_of(raw))

    def wait_job(self, job: Job) -> int:
        """Wait for a job to end; one under job control also returns when it stops
        (128 + the signal), as bash's `wait` does."""
        from fmsh.runtime.process import wait_for

        for pid in job.pids:
            if pid in job.statuses:
                continue
            if job.pgid is None:
                self.reaped(job, pid, wait_for(pid))
                continue
            if pid in job.stopped:
                continue
            while True:
                try:
                    _, raw = os.waitpid(pid, os.WUNTRACED)
                except ChildProcessError:
                    self.reaped(job, pid, 127)
                    break
                if os.WIFSTOPPED(raw):
                    job.stopped[pid] = os.WSTOPSIG(raw)
                    job.reported = False
                    break
                self.reaped(job, pid, status_of(raw))
                break
        if job.is_stopped:
            return 128 + next(iter(job.stopped.values()))
        return job.status

    def job_of_pid(self, pid: int) -> Job | None:
        for job in self.jobs:
            if pid in job.pids:
                return job
        return None

    def find(self, spec: str) -> Job | None:
        """A job by `%N`, `%%`, `%+`, `%-`, `%name` or `%?text`."""
        jobs = self.listing()
        if not jobs:
            return None
        body = spec[1:] if spec.startswith("%") else spec
        if body in ("", "%", "+", "-"):
            first, second = self.current(jobs)
            return second or first if body == "-" else first
        if body.isdigit():
            for job in jobs:
                if job.number == int(body):
                    return job
            return None
        if body.startswith("?"):
            matches = [j for j in jobs if body[1:] in j.command]
        else:
            matches = [j for j in jobs if j.command.startswith(body)]
        return matches[-1] if matches else None

    def remove_done(self) -> None:
        self.jobs = [j for j in self.jobs if not j.done]
        self.order = [j for j in self.order if not j.done]


_SIGNAL_TEXT = {
    1: "Hangup",
    2: "Interrupt",
    3: "Quit",
    6: "Aborted",
    9: "Killed",
    11: "Segmentation fault",
    13: "Broken pipe",
    15: "Terminated",
}
