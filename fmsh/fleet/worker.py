"""`fmsh --worker`: a long-running process that claims tasks from a queue of the journal
and runs them, at most `jobs` at once.

What it claims, oldest first: tasks submitted to its queue (status queued), and tasks of
its queue whose owner stopped renewing its lease (a worker or a machine that died, froze
or was cut off; also one stopped by SIGTERM, interrupted). Claiming is the journal's
claim (one transaction: the epoch goes up by one, the claimant holds the lease), so of
many workers on many machines exactly one gets each task. The worker then runs the task
as a child, `fmsh --resume ID`, which takes the claim over from it (FMSH_HANDOFF says which
claim): the finished steps of a task that ran before are replayed, not run again, and
what a dead owner left running on remote hosts is stopped first (tasks/leftovers.py).

The owner a task had is fenced by the new epoch: a worker that was frozen (SIGSTOP) and
wakes up finds its lease taken, and its task processes stop before their next step
without writing to the journal.

SIGTERM or Ctrl-C: claim nothing more, interrupt the running tasks as Ctrl-C would (they
stop their remote commands and end interrupted, at once claimable by the other workers),
and exit 0 when they have ended.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from fmsh.journal.errors import JournalError, TaskRefused

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from fmsh.journal.base import Journal, Owner
    from fmsh.journal.records import TaskRecord

_REAP_EVERY = 0.05  # how often it looks at its children (the queue: every --poll)
HANDOFF = "FMSH_HANDOFF"  # ID:EPOCH: the claim a `fmsh --resume` child takes over from its worker


class _Running:
    __slots__ = ("task", "proc", "started")

    def __init__(self, task: TaskRecord, proc: subprocess.Popen[bytes]) -> None:
        self.task = task
        self.proc = proc
        self.started = time.monotonic()


class Worker:
    def __init__(
        self,
        journal: Journal,
        environ: dict[str, str],
        queue: str,
        jobs: int,
        poll: float,
        exit_when_idle: bool,
        say: Callable[[str], None],
    ) -> None:
        from fmsh.tasks.lease import lease_seconds
        from fmsh.tasks.owner import this_process

        self.journal = journal
        self.environ = environ
        self.queue = queue
        self.jobs = jobs
        self.poll = poll
        self.exit_when_idle = exit_when_idle
        self.say = say
        self.lease = lease_seconds(environ.get("FMSH_LEASE"))
        self.me: Owner = this_process()
        self.running: dict[int, _Running] = {}
        self.stopping = False
        self.ran = 0

    def run(self) -> int:
        def stop(signum: int, frame: object) -> None:
            if not self.stopping:
                self.stopping = True
                for job in self.running.values():
                    if job.proc.poll() is None:
                        # As Ctrl-C: the task stops its remote commands and ends interrupted,
                        # which another worker claims at once (SIGTERM would leave it running
                        # until its lease expired).
                        job.proc.send_signal(signal.SIGINT)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.say(f"worker {self.me} on queue {self.queue}: at most {_tasks(self.jobs)} at once")
        looked = 0.0  # when it last looked at the queue
        while True:
            freed = self._reap()
            if self.stopping:
                if not self.running:
                    break
            elif len(self.running) < self.jobs and (freed or time.monotonic() - looked >= self.poll):
                looked = time.monotonic()
                try:
                    claimed = self._claim(self.jobs - len(self.running))
                except JournalError as e:
                    self.say(f"cannot claim now: {e.message}")  # the cluster may be electing a leader
                    claimed = 0
                if not claimed and not self.running and self.exit_when_idle:
                    break
                if claimed:
                    continue  # there may be more
            time.sleep(min(self.poll, _REAP_EVERY))  # a task that ends frees its slot at once
        self.say(f"stopped; it ran {_tasks(self.ran)}")
        return 0

    def _claim(self, room: int) -> int:
        now = time.time()
        claimed = 0
        for task in self.journal.runnable_tasks(self.queue, room + 4):
            if claimed >= room:
                break
            if task.id in self.running:
                continue
            try:
                task = self.journal.claim_task(task.id, self.me, self.lease, lambda t: self._refusal(t, now))
            except TaskRefused:
                continue  # another worker was first
            self._start(task)
            claimed += 1
        return claimed

    def _refusal(self, task: TaskRecord, now: float) -> str | None:
        if task.queue != self.queue:
            return "not in this queue"
        if task.status in ("queued", "interrupted"):
            return None
        if task.status == "running" and (task.lease_expires or 0) < now:
            return None
        return f"task {task.id} is {task.status}, owned by {task.owner_host}:{task.owner_pid}"

    def _start(self, task: TaskRecord) -> None:
        environ = dict(self.environ)
        environ[HANDOFF] = f"{task.id}:{task.epoch}"
        argv = [sys.executable, "-m", "fmsh", "--resume", str(task.id)]
        proc = subprocess.Popen(argv, env=environ, stdin=subprocess.DEVNULL)
        self.running[task.id] = _Running(task, proc)
        self.ran += 1
        self.say(f"task {task.id} ({task.name}): claimed (epoch {task.epoch}), running as pid {proc.pid}")

    def _reap(self) -> int:
        """The children that have ended: said, and their slots freed; how many."""
        freed = 0
        for task_id, job in list(self.running.items()):
            status = job.proc.poll()
            if status is None:
                continue
            del self.running[task_id]
            freed += 1
            took = time.monotonic() - job.started
            self.say(f"task {task_id}: ended, exit {status if status >= 0 else 128 - status}, after {took:.1f}s")
        return freed


def _tasks(n: int) -> str:
    return f"{n} task" if n == 1 else f"{n} tasks"


def handed_off(task: TaskRecord, environ: Mapping[str, str]) -> bool:
    """Whether this `fmsh --resume` was started by the worker that holds the task's claim."""
    return environ.get(HANDOFF) == f"{task.id}:{task.epoch}"
