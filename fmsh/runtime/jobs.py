"""Background jobs: what `&` started, for `$!`, `wait`, `jobs` and `kill %N`."""

from __future__ import annotations

import os

from fmsh.runtime.process import status_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Job:
    __slots__ = ("number", "pids", "command", "statuses", "reported")

    def __init__(self, number: int, pids: list[int], command: str) -> None:
        self.number = number
        self.pids = pids
        self.command = command
        self.statuses: dict[int, int] = {}
        self.reported = False

    @property
    def done(self) -> bool:
        return len(self.statuses) == len(self.pids)

    @property
    def status(self) -> int:
        """The job's status: its last process's."""
        return self.statuses.get(self.pids[-1], 0)


class JobTable:
    def __init__(self) -> None:
        self.jobs: list[Job] = []
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

    def add(self, pids: list[int], command: str) -> Job:
        number = max((j.number for j in self.jobs), default=0) + 1
        job = Job(number, pids, command)
        self.jobs.append(job)
        return job

    def forget_children(self) -> None:
        """In a forked child: the jobs are the parent's. `jobs` still lists them (as in
        `$(jobs -p)`), but they are not ours to reap or wait for."""
        self.inherited = list(self.jobs)
        self.jobs = []
        self.finished.clear()
        self.on_reaped = None

    def listing(self) -> list[Job]:
        return self.jobs or self.inherited

    def poll(self) -> None:
        """Reap finished background children without blocking."""
        for job in self.jobs:
            for pid in job.pids:
                if pid in job.statuses:
                    continue
                try:
                    got, raw = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    job.statuses[pid] = 127
                    continue
                if got:
                    self.reaped(job, pid, status_of(raw))

    def wait_job(self, job: Job) -> int:
        for pid in job.pids:
            if pid not in job.statuses:
                from fmsh.runtime.process import wait_for

                self.reaped(job, pid, wait_for(pid))
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
        if body in ("", "%", "+"):
            return jobs[-1]
        if body == "-":
            return jobs[-2] if len(jobs) > 1 else jobs[-1]
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
