"""Job control, in an interactive shell on a terminal (bash's `set -m`).

The shell puts itself in a process group of its own and takes the terminal; it ignores
SIGTSTP, SIGTTIN and SIGTTOU, which its jobs get back at their defaults. Each foreground
job (an external command, a pipeline, a subshell) runs in a process group of its own that
is given the terminal while it runs: Ctrl-C and Ctrl-Z go to it, not to the shell. When
it ends or stops, the shell takes the terminal back (and, if it stopped or was killed by
a signal, puts back the terminal modes it had before, as bash does); a stopped job goes
into the job table, for `fg`, `bg`, `jobs`, `kill %N` and `wait`.

Not under job control: scripts, `-c`, forked copies of the shell (subshells, pipeline
stages, command substitutions), and pipelines with a remote stage (the shell keeps the
terminal, so that Ctrl-C reaches the remote stage; Ctrl-Z does nothing there).
"""

from __future__ import annotations

import os

from fmsh.runtime import signals
from fmsh.runtime.process import status_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell
    from fmsh.runtime.jobs import Job


class JobControl:
    def __init__(self, tty: int, shell_pgid: int, original_pgid: int) -> None:
        self.tty = tty
        self.shell_pgid = shell_pgid
        self.original_pgid = original_pgid
        self.modes: list | None = _get_modes(tty)  # the shell's terminal modes
        self.lines = 0  # command lines run at the prompt
        self.exit_warned = -1  # the line on which `exit` leaves despite stopped jobs

    # --- the terminal -------------------------------------------------------------------

    def give_terminal(self, pgid: int) -> None:
        try:
            os.tcsetpgrp(self.tty, pgid)
        except OSError:
            pass

    def take_terminal(self, restore_modes: bool) -> None:
        """Back to the shell; the modes it had, or (the job ended normally) the modes the
        job left become the shell's (`stty` at the prompt lasts, as in bash)."""
        self.give_terminal(self.shell_pgid)
        if restore_modes and self.modes is not None:
            try:
                import termios

                termios.tcsetattr(self.tty, termios.TCSADRAIN, self.modes)
            except (OSError, ImportError):
                pass
        else:
            self.modes = _get_modes(self.tty)

    # --- foreground jobs ----------------------------------------------------------------

    def run_foreground(
        self, sh: Shell, pids: list[int], pgid: int, label: str, job: Job | None = None
    ) -> tuple[list[int], bool]:
        """Wait for a foreground job that holds the terminal until each of its processes
        ends or stops. Its statuses (128 + the signal for a stopped one) and whether it
        was killed by SIGINT. A stopped job is put into the job table (`job`: it was
        there already, brought back by `fg`)."""
        saved = _get_modes(self.tty)
        if saved is not None:
            self.modes = saved
        self.give_terminal(pgid)
        statuses: dict[int, int] = {}
        stopped: dict[int, int] = {}
        signalled = interrupted = False
        if job is not None:
            statuses.update(job.statuses)
        for pid in pids:
            if pid in statuses:
                continue
            continued = False
            while True:
                try:
                    _, raw = os.waitpid(pid, os.WUNTRACED)
                except ChildProcessError:
                    statuses[pid] = 127
                    break
                if os.WIFSTOPPED(raw):
                    sig = os.WSTOPSIG(raw)
                    if sig in (signals.SIGTTIN, signals.SIGTTOU) and not continued:
                        # It touched the terminal before it was given it: it is its now.
                        continued = True
                        self.give_terminal(pgid)
                        _killpg(pgid, signals.SIGCONT)
                        continue
                    if sh.task is not None and sig == signals.SIGTSTP:
                        # A task is not stopped (a stopped step would be journaled as ended,
                        # and the task runs in the shell itself): it is detached. Its step is
                        # interrupted here and the task resumed as a background job, from
                        # that step on (see Shell.run_line); `fg` attaches it again.
                        task = sh.task
                        if not task.detached:
                            from fmsh.interp.shell import write_fd

                            task.detached = True
                            write_fd(
                                2, f"\nfmsh: task {task.id}: detached; it goes on in the background (fg attaches it)\n"
                            )
                        self.give_terminal(pgid)
                        _killpg(pgid, signals.SIGCONT)
                        _killpg(pgid, signals.SIGINT)
                        continue
                    stopped[pid] = sig
                    break
                if os.WIFSIGNALED(raw):
                    signalled = True
                    interrupted = interrupted or os.WTERMSIG(raw) == signals.SIGINT
                statuses[pid] = status_of(raw)
                break
        self.take_terminal(restore_modes=bool(stopped) or signalled)
        if stopped:
            jobs = sh.jobs
            if job is None:
                job = jobs.add(list(pids), label, pgid=pgid)
            job.statuses.update(statuses)
            for pid, status in statuses.items():
                jobs.finished[pid] = status
            job.stopped.update(stopped)
            jobs.touch(job)
            from fmsh.interp.shell import write_fd

            write_fd(2, "\n" + jobs.describe(job) + "\n")
            job.reported = True
        elif job is not None:
            job.statuses.update(statuses)
            sh.jobs.remove(job)
        out = [statuses[pid] if pid in statuses else 128 + stopped[pid] for pid in pids]
        return out, interrupted

    def continue_job(self, job: Job) -> None:
        job.stopped.clear()
        job.reported = False
        if job.pgid is not None:
            _killpg(job.pgid, signals.SIGCONT)
        else:
            for pid in job.pids:
                if pid not in job.statuses:
                    try:
                        os.kill(pid, signals.SIGCONT)
                    except OSError:
                        pass

    def stopped_jobs_block_exit(self, sh: Shell) -> bool:
        """`exit` with stopped jobs: refused once (True), as in bash; an `exit` on the very
        next command line goes through."""
        if "jobs" not in sh.__dict__:
            return False
        sh.jobs.poll()
        if not any(job.is_stopped for job in sh.jobs.jobs) or self.exit_warned == self.lines:
            return False
        self.exit_warned = self.lines + 1
        return True

    def end(self) -> None:
        """At exit: the terminal goes back to the group that had it when the shell started."""
        if self.original_pgid != self.shell_pgid:
            self.give_terminal(self.original_pgid)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass


def _get_modes(tty: int) -> list | None:
    try:
        import termios

        return termios.tcgetattr(tty)
    except (OSError, ImportError):
        return None


def start(sh: Shell) -> JobControl | None:
    """At an interactive start: job control if standard input is a terminal (and turn
    on `set -m`); None if it cannot be had."""
    if sh.jobctl is not None:
        return sh.jobctl
    try:
        if not os.isatty(0):
            return None
        tty = os.open(os.ttyname(0), os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        import fcntl

        high = fcntl.fcntl(tty, fcntl.F_DUPFD_CLOEXEC, 255)
        os.close(tty)
        tty = high
    except OSError:
        pass
    try:
        # Started in the background (`fmsh -i &` from another shell): wait to be brought
        # to the foreground, as bash does.
        for _ in range(1000):
            owner = os.tcgetpgrp(tty)
            if owner == os.getpgrp():
                break
            os.kill(-os.getpgrp(), signals.SIGTTIN)
        original = os.tcgetpgrp(tty)
    except OSError:
        os.close(tty)
        return None
    for number in signals.STOP_SIGNALS:
        signals.set_handler(number, signals.SIG_IGN)
    try:
        if os.getpgrp() != os.getpid():
            os.setpgid(0, 0)
        os.tcsetpgrp(tty, os.getpgrp())
    except OSError:
        pass
    jc = JobControl(tty, os.getpgrp(), original)
    sh.jobctl = jc
    sh.options.set("monitor", True)
    import atexit

    pid = os.getpid()
    atexit.register(lambda: jc.end() if os.getpid() == pid else None)
    return jc
