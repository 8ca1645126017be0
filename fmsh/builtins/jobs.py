"""Builtins about processes and signals: `wait`, `jobs`, `kill`, `trap`, `umask`, `times`."""

from __future__ import annotations

import os

from fmsh.builtins.base import Builtin, UsageError, parse_flags
from fmsh.expand.quote import shell_quote_always
from fmsh.runtime import signals
from fmsh.runtime.errors import ShellError


class Wait(Builtin):
    """`wait [-n] [PID|%JOB...]`: the status of the last one waited for."""

    name = "wait"

    def run(self, argv: list[str]) -> int:
        flags, args = parse_flags(argv, "nf")
        jobs = self.sh.jobs
        # Not a foreground wait: SIGINT interrupts `wait` at once, as in bash.
        if flags.get("n"):
            return self._wait_any()
        if not args:
            for job in list(jobs.jobs):
                if not job.is_stopped:  # a stopped job would never end: bash does not wait
                    jobs.wait_job(job)
            jobs.remove_done()
            return 0
        status = 0
        for arg in args:
            status = self._wait_one(arg)
        return status

    def _wait_one(self, arg: str) -> int:
        jobs = self.sh.jobs
        if arg.startswith("%"):
            job = jobs.find(arg)
            if job is None:
                self.warn(f"{arg}: no such job")
                return 127
            return jobs.wait_job(job)
        if not arg.isdigit():
            raise ShellError(f"`{arg}': not a pid or valid job spec", status=2)
        pid = int(arg)
        job = jobs.job_of_pid(pid)
        if job is None:
            if pid in jobs.finished:
                return jobs.finished[pid]
            self.warn(f"pid {pid} is not a child of this shell")
            return 127
        jobs.wait_job(job)
        return job.statuses[pid]

    def _wait_any(self) -> int:
        jobs = self.sh.jobs
        running = [j for j in jobs.jobs if not j.done]
        if not running:
            return 127
        if all(j.is_stopped for j in running):
            return 127
        from fmsh.runtime.process import status_of

        while True:
            try:
                pid, raw = os.waitpid(-1, os.WUNTRACED if self.sh.job_control else 0)
            except ChildProcessError:
                return 127
            job = jobs.job_of_pid(pid)
            if job is None:
                continue
            if os.WIFSTOPPED(raw):
                job.stopped[pid] = os.WSTOPSIG(raw)
                if job.is_stopped:
                    return 128 + os.WSTOPSIG(raw)
                continue
            jobs.reaped(job, pid, status_of(raw))
            if job.done:
                return job.status


class Jobs(Builtin):
    name = "jobs"

    def run(self, argv: list[str]) -> int:
        flags, specs = parse_flags(argv, "lprs")
        jobs = self.sh.jobs
        jobs.poll()
        listed = jobs.listing()
        wanted = []
        for spec in specs:
            job = jobs.find(spec)
            if job is None:
                self.warn(f"{spec}: no such job")
                return 1
            wanted.append(job)
        for job in listed:
            if wanted and job not in wanted:
                continue
            if flags.get("p"):
                self.write(f"{job.pids[-1]}\n")
                continue
            if flags.get("r") and (job.done or job.is_stopped) or flags.get("s") and not job.is_stopped:
                continue
            self.write(jobs.describe(job, pid=bool(flags.get("l"))) + "\n")
            job.reported = True
        jobs.remove_done()
        return 0


class Kill(Builtin):
    """`kill [-s SIG | -SIG | -n NUM] PID|%JOB...`, `kill -l [NUM]`."""

    name = "kill"

    def run(self, argv: list[str]) -> int:
        args = argv[1:]
        number = signals.signal_number("TERM")
        if args and args[0] in ("-l", "-L"):
            return self._list(args[1:])
        if args and args[0] in ("-s", "-n"):
            if len(args) < 2:
                raise UsageError(f"{args[0]}: option requires an argument")
            number = signals.signal_number(args[1])
            if number is None:
                raise ShellError(f"{args[1]}: invalid signal specification")
            args = args[2:]
        elif args and args[0].startswith("-") and args[0] != "--" and len(args[0]) > 1:
            number = signals.signal_number(args[0][1:])
            if number is None:
                raise ShellError(f"{args[0][1:]}: invalid signal specification")
            args = args[1:]
        if args and args[0] == "--":
            args = args[1:]
        if not args:
            raise UsageError("usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ...")
        assert number is not None
        status = 0
        for target in args:
            pids = self._pids(target)
            if pids is None:
                status = 1
                continue
            job = self.sh.jobs.find(target) if target.startswith("%") else None
            if job is not None and job.pgid is not None:
                # A job under job control is a process group; a stopped one is woken up to
                # get HUP or TERM, as bash does.
                try:
                    os.killpg(job.pgid, number)
                    if job.is_stopped and number in (1, 15):  # HUP, TERM: as bash does
                        os.killpg(job.pgid, signals.SIGCONT)
                    if number in (1, 15, signals.SIGCONT):
                        job.stopped.clear()
                except OSError as e:
                    self.warn(f"({job.pgid}) - {e.strerror}")
                    status = 1
                continue
            for pid in pids:
                try:
                    os.kill(pid, number)
                except OSError as e:
                    self.warn(f"({pid}) - {e.strerror}")
                    status = 1
        return status

    def _pids(self, target: str) -> list[int] | None:
        if target.startswith("%"):
            job = self.sh.jobs.find(target)
            if job is None:
                self.warn(f"{target}: no such job")
                return None
            return list(job.pids)
        try:
            return [int(target)]
        except ValueError:
            self.warn(f"{target}: arguments must be process or job IDs")
            return None

    def _list(self, args: list[str]) -> int:
        if args:
            for arg in args:
                if arg.isdigit():
                    number = int(arg)
                    self.write(signals.signal_name(number - 128 if number > 128 else number) + "\n")
                else:
                    found = signals.signal_number(arg)
                    if found is None:
                        raise ShellError(f"{arg}: invalid signal specification")
                    self.write(f"{found}\n")
            return 0
        # bash's table: five to a line, tab-separated.
        entries = [f"{number:2d}) SIG{name}" for number, name in signals.numbered_names()]
        lines = ["\t".join(entries[k : k + 5]) for k in range(0, len(entries), 5)]
        self.write("\n".join(lines) + "\n")
        return 0


class Fg(Builtin):
    """`fg [%JOB]`: a job back in the foreground, given the terminal, woken up if it was
    stopped; waited for as any foreground job (Ctrl-Z stops it again)."""

    name = "fg"

    def run(self, argv: list[str]) -> int:
        job = _job_control_target(self, argv)
        if job is None:
            return 1
        sh = self.sh
        jobs = sh.jobs
        jc = sh.jobctl
        assert jc is not None and job.pgid is not None
        self.write(job.command.removesuffix(" &").rstrip() + "\n")
        if job.command.endswith(" &"):
            job.command = job.command[:-2].rstrip()
        jobs.touch(job)
        jc.give_terminal(job.pgid)
        jc.continue_job(job)
        pids = [pid for pid in job.pids]
        statuses = sh.wait_foreground(pids, job.pgid, job.command, job)
        return statuses[-1]


class Bg(Builtin):
    """`bg [%JOB...]`: stopped jobs go on, in the background."""

    name = "bg"

    def run(self, argv: list[str]) -> int:
        targets = argv[1:] or [""]
        status = 0
        for spec in targets:
            job = _job_control_target(self, [argv[0], spec] if spec else [argv[0]])
            if job is None:
                status = 1
                continue
            if not job.is_stopped:
                self.warn(f"job {job.number} already in background")
                continue
            if not job.command.endswith(" &"):
                job.command += " &"
            self.sh.jobctl.continue_job(job)  # type: ignore[union-attr]
            self.sh.jobs.touch(job)
            self.write(f"[{job.number}]{self.sh.jobs.mark(job)} {job.command}\n")
        return status


def _job_control_target(builtin: Builtin, argv: list[str]):  # type: ignore[no-untyped-def]
    """The job `fg`/`bg` act on (the current one by default), or None (said why)."""
    sh = builtin.sh
    if not sh.job_control:
        builtin.warn("no job control")
        return None
    jobs = sh.jobs
    jobs.poll()
    spec = argv[1] if len(argv) > 1 else "%+"
    job = jobs.find(spec if spec.startswith("%") else "%" + spec)
    if job is None or job.done:
        builtin.warn(f"{spec if len(argv) > 1 else 'current'}: no such job")
        return None
    if job.pgid is None:
        builtin.warn(f"job {job.number} started without job control")
        return None
    return job


class Trap(Builtin):
    """`trap [ACTION] CONDITION...`, `trap -p`, `trap -l`, `trap - CONDITION`."""

    name = "trap"

    def run(self, argv: list[str]) -> int:
        args = argv[1:]
        traps = self.sh.traps
        if args and args[0] == "-l":
            return self.sh.builtin("kill").run(["kill", "-l"])  # type: ignore[union-attr]
        if args and args[0] == "--":
            args = args[1:]
        if not args or args[0] == "-p":
            listing = traps.listing()
            wanted = [_condition_name(spec) for spec in args[1:]] if args else []
            for condition in wanted or list(listing):
                text = listing.get(condition or "")
                if text is None:
                    continue
                shown = condition if condition in ("EXIT", "ERR", "DEBUG", "RETURN") else f"SIG{condition}"
                self.write(f"trap -- {shell_quote_always(text)} {shown}\n")
            return 0
        action: str | None
        if len(args) == 1 or args[0].isdigit():
            # `trap SIG...` (or a number first, as POSIX says): reset each
            action = None
            conditions = args
        else:
            action = None if args[0] == "-" else args[0]
            conditions = args[1:]
        status = 0
        for condition in conditions:
            name = _condition_name(condition)
            if name is None:
                self.warn(f"{condition}: invalid signal specification")
                status = 1
                continue
            traps.set(name, action)
        return status


def _condition_name(spec: str) -> str | None:
    upper = spec.upper()
    if upper in ("EXIT", "ERR", "DEBUG", "RETURN") or spec == "0":
        return "EXIT" if spec == "0" else upper
    number = signals.signal_number(spec)
    if number is None:
        return None
    return signals.signal_name(number)


class Umask(Builtin):
    name = "umask"

    def run(self, argv: list[str]) -> int:
        flags, args = parse_flags(argv, "Sp")
        current = os.umask(0)
        os.umask(current)
        if not args:
            if flags.get("S"):
                self.write(_symbolic(current) + "\n")
            else:
                self.write(("umask " if flags.get("p") else "") + f"{current:04o}\n")
            return 0
        spec = args[0]
        if spec.isdigit():
            try:
                os.umask(int(spec, 8))
            except ValueError:
                raise ShellError(f"{spec}: octal number out of range") from None
            return 0
        os.umask(_apply_symbolic(current, spec))
        return 0


def _symbolic(mask: int) -> str:
    out = []
    for who, shift in (("u", 6), ("g", 3), ("o", 0)):
        allowed = ~mask >> shift & 7
        perms = "".join(p for p, bit in (("r", 4), ("w", 2), ("x", 1)) if allowed & bit)
        out.append(f"{who}={perms}")
    return ",".join(out)


def _apply_symbolic(mask: int, spec: str) -> int:
    allowed = ~mask & 0o777
    for clause in spec.split(","):
        i = 0
        who = ""
        while i < len(clause) and clause[i] in "ugoa":
            who += clause[i]
            i += 1
        if not who:
            who = "a"
        if i >= len(clause) or clause[i] not in "+-=":
            raise ShellError(f"{spec}: invalid symbolic mode operator")
        op = clause[i]
        perms = 0
        for p in clause[i + 1 :]:
            if p not in "rwx":
                raise ShellError(f"{p}: invalid symbolic mode character")
            perms |= {"r": 4, "w": 2, "x": 1}[p]
        for w in who:
            shifts = (6, 3, 0) if w == "a" else ({"u": 6, "g": 3, "o": 0}[w],)
            for shift in shifts:
                bits = perms << shift
                if op == "+":
                    allowed |= bits
                elif op == "-":
                    allowed &= ~bits
                else:
                    allowed = allowed & ~(7 << shift) | bits
    return ~allowed & 0o777


class Times(Builtin):
    name = "times"

    def run(self, argv: list[str]) -> int:
        t = os.times()
        for user, system in ((t.user, t.system), (t.children_user, t.children_system)):
            self.write(f"{int(user // 60)}m{user % 60:.3f}s {int(system // 60)}m{system % 60:.3f}s\n")
        return 0
