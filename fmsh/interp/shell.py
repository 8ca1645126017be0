"""The Shell: one running fmsh, holding its state and the evaluators that act on it.

Entry points for the front door (cli.py) and for builtins: run text, run a file,
evaluate a string, fork a subshell, substitute a command's output, report an error.
"""

from __future__ import annotations

import os

from fmsh.expand.word import WordEvaluator
from fmsh.interp.capture import CAPTURE_MAX, Capture
from fmsh.interp.command import CommandEvaluator
from fmsh.interp.traps import Traps
from fmsh.runtime import process, signals
from fmsh.runtime.errors import (
    ExitShell,
    Interrupted,
    LoopControl,
    ReturnFromFunction,
    ShellError,
)
from fmsh.runtime.process import CommandHash
from fmsh.runtime.state import Options, Variables
from fmsh.syntax import ast
from fmsh.syntax.errors import ParseError
from fmsh.syntax.source import Pos, Source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fmsh.builtins.base import Builtin
    from fmsh.expand.arith import ArithEvaluator
    from fmsh.interp.remote import RemoteRunner
    from fmsh.runtime.deadlines import Deadlines
    from fmsh.runtime.fds import Descriptors
    from fmsh.runtime.jobcontrol import JobControl
    from fmsh.runtime.jobs import Job, JobTable
    from fmsh.tasks.run import TaskRun


def _make_jobs(shell: Shell) -> JobTable:
    from fmsh.runtime.jobs import JobTable

    return JobTable()


def _make_fds(shell: Shell) -> Descriptors:
    from fmsh.runtime.fds import Descriptors

    return Descriptors()


def _make_arith(shell: Shell) -> ArithEvaluator:
    from fmsh.expand.arith import ArithEvaluator

    return ArithEvaluator(shell)


def _make_remote(shell: Shell) -> RemoteRunner:
    from fmsh.interp.remote import RemoteRunner

    return RemoteRunner(shell)


# Parts of the shell made on first use: start-up does not import what a command line
# does not need (no job, no redirection, no arithmetic, no SSH in `fmsh -c 'echo hi'`).
_LAZY = {"jobs": _make_jobs, "fds": _make_fds, "arith": _make_arith, "remote": _make_remote}


class Shell:
    if TYPE_CHECKING:
        jobs: JobTable
        fds: Descriptors
        arith: ArithEvaluator
        remote: RemoteRunner

    def __getattr__(self, name: str) -> object:
        factory = _LAZY.get(name)
        if factory is None:
            raise AttributeError(name)
        value = factory(self)
        setattr(self, name, value)  # later lookups find the attribute: no cost
        return value

    def __init__(
        self,
        script_name: str = "fmsh",
        args: list[str] | None = None,
        environ: dict[str, str] | None = None,
        interactive: bool = False,
    ) -> None:
        self.vars = Variables(dict(os.environ) if environ is None else environ)
        self.options = Options()
        self.options.interactive = interactive
        self.positional: list[str] = list(args or [])
        self.script_name = script_name
        self.functions: dict[str, ast.FunctionDef] = {}
        self.readonly_functions: set[str] = set()
        self.aliases: dict[str, str] = {}
        self.alias_generation = 0  # bumped when aliases or their expansion change
        self.last_status = 0
        self.cmdsub_status: int | None = None
        self.last_background_pid: int | None = None
        self.pipestatus: list[int] = []
        self.call_stack: list[str] = []
        self.source_depth = 0
        self.current_pos: Pos | None = None
        self.pid = os.getpid()
        self.in_child = False
        self.interrupted = False  # the top level stopped on SIGINT
        self.remote_fds: set[int] = set()  # pipe ends held by remote stages running here
        self.task: TaskRun | None = None  # the durable task this shell runs, if it is one
        self.deadlines: Deadlines | None = None  # `timeout` deadlines in force (made on first use)
        self.jobctl: JobControl | None = None  # job control, in an interactive shell on a terminal
        self.hash = CommandHash()
        self.traps = Traps(self)
        self.words = WordEvaluator(self)
        self.cmd = CommandEvaluator(self)
        self._builtins: dict[str, Builtin | None] = {}
        self._parsed_words: dict[str, ast.Word] = {}
        self._init_variables()
        from fmsh.runtime import secrets

        secrets.attach(self.vars.get)
        secrets.mark_environment(os.environ if environ is None else environ)

    def _init_variables(self) -> None:
        v = self.vars
        if v.get("IFS") is None:
            v.set("IFS", " \t\n")
        if v.get("PS4") is None:
            v.set("PS4", "+ ")
        v.set("OPTIND", "1")
        v.set("PPID", str(os.getppid()))
        shlvl = v.get("SHLVL") or "0"
        v.set("SHLVL", str(int(shlvl) + 1) if shlvl.isdigit() else "1")
        v.export("SHLVL")
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = None
        pwd = v.get("PWD")
        if cwd is not None and (pwd is None or not _same_dir(pwd, cwd)):
            v.set("PWD", cwd)
        if cwd is not None:
            v.export("PWD")
        v.set("UID", str(os.getuid()))
        v.set("EUID", str(os.geteuid()))
        from fmsh import __version__

        v.set("FMSH_VERSION", __version__)
        v.on_assign["PATH"] = lambda _value: self.hash.clear()
        import time

        start = time.monotonic()
        v.dynamic["RANDOM"] = lambda: str(self._random().randrange(32768))
        v.dynamic["SECONDS"] = lambda: str(int(time.monotonic() - start))
        v.dynamic["EPOCHSECONDS"] = lambda: str(int(time.time()))
        v.dynamic["EPOCHREALTIME"] = lambda: f"{time.time():.6f}"
        v.dynamic["LINENO"] = lambda: str(self.current_pos.line if self.current_pos is not None else 0)
        v.dynamic["BASHPID"] = lambda: str(os.getpid())
        v.dynamic["SHELLOPTS"] = lambda: ":".join(sorted(n for n, on in self.options.values.items() if on))
        v.on_assign["RANDOM"] = lambda value: self._random().seed(value)

    def _random(self):  # type: ignore[no-untyped-def]
        """The generator behind $RANDOM, made on first use (random is slow to import)."""
        rng = self.__dict__.get("_rng")
        if rng is None:
            import random

            rng = self.__dict__["_rng"] = random.Random()
        return rng

    # --- parameters ---------------------------------------------------------------------

    def special_param(self, name: str) -> str | None:
        """`$?`, `$$`, `$#`, `$!`, `$-`, `$0` and `$1`... (not `$@`/`$*`)."""
        if name == "?":
            return str(self.last_status)
        if name.isdigit():
            n = int(name)
            if n == 0:
                return self.script_name
            return self.positional[n - 1] if n <= len(self.positional) else None
        if name == "#":
            return str(len(self.positional))
        if name == "$":
            return str(self.pid)
        if name == "!":
            return str(self.last_background_pid) if self.last_background_pid is not None else None
        if name == "-":
            return self.options.flags()
        if name == "PIPESTATUS":
            return str(self.pipestatus[0]) if self.pipestatus else None
        if name == "FUNCNAME":
            return self.call_stack[-1] if self.call_stack else None
        return None

    def variable_is_set(self, name: str) -> bool:
        """`[[ -v name ]]`, also for `name[index]`."""
        if "[" in name and name.endswith("]"):
            base, _, index = name[:-1].partition("[")
            cell = self.vars.cell(base)
            if cell is None or cell.value is None:
                return False
            if index in ("@", "*"):
                return bool(cell.value)
            from fmsh.runtime.state import AssocArray

            key: int | str = index if type(cell.value) is AssocArray else self.arith.evaluate_text(index)
            return self.words.array_element(base, key) is not None
        return self.vars.is_set(name) or (name.isdigit() and self.special_param(name) is not None)

    # --- errors and tracing -------------------------------------------------------------

    def report(self, message: str) -> None:
        """`fmsh: message` on standard error."""
        write_fd(2, f"fmsh: {message}\n")

    def _ps4(self) -> str:
        text = self.vars.get("PS4") or ""
        if "$" not in text and "`" not in text:
            return text
        word = self._parsed_words.get(text)
        try:
            if word is None:
                from fmsh.syntax.lexer import Lexer

                word = Lexer(Source("PS4", text)).words.read_heredoc_body()
                self._parsed_words[text] = word
            return self.words.expand_string(word)
        except (ParseError, ShellError):
            return text

    def trace_command(self, assignments: list[ast.Assignment], argv: list) -> None:
        from fmsh.expand.quote import shell_quote

        if assignments:
            self.trace_assignments(assignments)
        self._trace(self._ps4() + " ".join(shell_quote(a) if isinstance(a, str) else a.name for a in argv) + "\n")

    def trace_assignments(self, assignments: list[ast.Assignment]) -> None:
        from fmsh.expand.quote import shell_quote

        for a in assignments:
            self._trace(f"{self._ps4()}{a.name}={shell_quote(self.vars.get(a.name) or '')}\n")

    def trace_words(self, words: list[str], pos: Pos | None) -> None:
        if self.options.xtrace:
            self._trace(self._ps4() + " ".join(words) + "\n")

    @staticmethod
    def _trace(line: str) -> None:
        """A `set -x` line, secrets masked: it goes to logs (CI, cron mail)."""
        from fmsh.runtime.secrets import mask

        write_fd(2, mask(line))

    # --- builtins -----------------------------------------------------------------------

    def builtin(self, name: str) -> Builtin | None:
        try:
            return self._builtins[name]
        except KeyError:
            from fmsh.builtins import load

            cls = load(name)
            instance = cls(self) if cls is not None else None
            self._builtins[name] = instance
            return instance

    def run_builtin(self, builtin: Builtin, argv: list) -> int:
        try:
            return builtin.run(argv)
        except ShellError as e:
            if e.fatal:
                raise
            self.report(f"{argv[0]}: {e.message}")
            return e.status
        except BrokenPipeError:
            if self.options.interactive:
                self.report(f"{argv[0]}: write error: Broken pipe")
                return 1
            # The reader went away: end as bash does, by SIGPIPE (Python ignores it).
            signals.die_of(signals.SIGPIPE)
            return 141

    # --- processes ----------------------------------------------------------------------

    @property
    def grouping(self) -> bool:
        """Whether processes started now go into groups of their own (a deadline is in
        force, and signals whole groups when it passes)."""
        return self.deadlines is not None and self.deadlines.grouping

    @property
    def job_control(self) -> bool:
        """Whether the jobs started now are under job control: each in a process group of
        its own, a foreground one given the terminal (an interactive shell, `set -m`)."""
        return self.jobctl is not None and not self.in_child and bool(self.options.values.get("monitor"))

    def fork(
        self, action: Callable[[], int], background: bool = False, group: int | None = None, job: bool = False
    ) -> int:
        """Run `action` in a forked copy of the shell; returns the child's pid. `group`:
        0 puts the child in a new process group, N in group N. `job`: a job under job
        control (with a `group`), which a foreground one takes the terminal for."""
        pid = os.fork()
        if pid:
            if group is not None:
                try:
                    os.setpgid(pid, group or pid)  # the child does it too: whichever is first
                except OSError:
                    pass
            return pid
        status = 1
        try:
            if group is not None:
                try:
                    os.setpgid(0, group)
                except OSError:
                    pass
                if job and not background and self.jobctl is not None:
                    self.jobctl.give_terminal(group or os.getpid())  # the parent does it too
            self.in_child = True
            self.jobctl = None
            signals.child_defaults(background, job)
            for fd in list(self.remote_fds):  # a child must not hold a remote stage's pipe open
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.remote_fds.clear()
            self.task = None  # a forked copy runs its part of a step; only the shell journals
            self.deadlines = None  # the parent's timers signal this child's group
            if "remote" in self.__dict__:
                self.remote.forget()
            self.jobs.forget_children()
            self.fds.forget_internal()
            self.traps.reset_for_subshell()
            status = self.finish(self.contain(action))
        except BaseException:  # noqa: BLE001 - a child must never return into the parent's code
            pass
        finally:
            os._exit(status & 0xFF)

    def contain(self, action: Callable[[], int]) -> int:
        """Run an action as a whole shell runs (the top level, a subshell): control flow
        and errors that reach this far become its exit status."""
        try:
            return action()
        except (ExitShell, ReturnFromFunction) as e:
            return e.status
        except LoopControl:
            # break/continue cannot leave a subshell for the parent's loop.
            return 1
        except Interrupted:
            if self.task is not None and self.task.stop_reason is not None:
                # Stopped for its task (taken over, cancelled), not by the user's Ctrl-C.
                from fmsh.journal.errors import JOURNAL_STATUS

                self.report(self.task.stop_reason)
                return JOURNAL_STATUS
            self.interrupted = True
            return 130
        except ShellError as e:
            self.report(e.message)
            return e.status
        except RecursionError:
            self.report("maximum nesting depth exceeded")
            return 1
        except Exception as e:  # noqa: BLE001 - never a traceback to the user
            return self.internal_error(e)

    def internal_error(self, error: Exception) -> int:
        """A bug in fmsh: one line, not a traceback (FMSH_DEBUG=1 shows it)."""
        from fmsh.runtime.errors import internal_error_line

        self.report(internal_error_line(error))
        return 70

    def wait_foreground(
        self, pids: list[int], group: int | None = None, label: str | None = None, job: Job | None = None
    ) -> list[int]:
        """Wait for the processes of a foreground job, in order; their statuses. `group`:
        their process group, which the deadlines in force signal when they pass. `label`
        (under job control): the job's command, it holds the terminal while it runs and
        may stop (Ctrl-Z), into the job table; `job`: it is there already (`fg`)."""
        state = signals.state
        deadlines = self.deadlines if self.deadlines is not None and self.deadlines.stack else None
        # What a passing deadline signals: the group, or (timeout --foreground) the processes.
        targets: list[int] = []
        if deadlines is not None:
            targets = [group] if group is not None and deadlines.grouping else pids
        for target in targets:
            deadlines.track(target)  # type: ignore[union-attr]
        state.waiting += 1
        state.foreground = pids
        interrupted = False
        try:
            if label is not None and group is not None and self.jobctl is not None:
                statuses, interrupted = self.jobctl.run_foreground(self, pids, group, label, job)
            else:
                statuses = [process.wait_for(pid) for pid in pids]
        finally:
            state.waiting -= 1
            state.foreground = []
            for target in targets:
                deadlines.untrack(target)  # type: ignore[union-attr]
        if interrupted and not self.traps.handles("INT"):
            # The job had the terminal and died of Ctrl-C, which the shell did not see:
            # it stops as if it had (bash breaks out of a loop so).
            signals.state.sigint_seen = False
            raise Interrupted()
        if signals.state.sigint_seen:
            signals.state.sigint_seen = False
            if 130 in statuses and not self.traps.handles("INT"):
                raise Interrupted()
        return statuses

    def command_sub(self, body: ast.CommandList) -> str:
        """The output of `$(...)`, trailing newlines removed; sets `$?`. In a task it is a
        step: its output is journaled, and a resumed task gets it back from there."""
        if not body.commands:
            self.last_status = self.cmdsub_status = 0
            return ""
        task = self.task
        if task is not None and not task.depth:
            from fmsh.tasks.result import StepResult

            def capture() -> StepResult:
                output = self._command_sub(body)
                return StepResult(self.last_status, output=output)

            result = task.run_step("capture", body.pos, capture)
            self.last_status = self.cmdsub_status = result.exit_status
            return result.output or ""
        return self._command_sub(body)

    def _command_sub(self, body: ast.CommandList) -> str:
        if _has_remote(body):
            return self._command_sub_here(body)
        read_end, write_end = os.pipe()

        def child() -> int:
            os.close(read_end)
            os.dup2(write_end, 1)
            os.close(write_end)
            if not self.options.shopt["inherit_errexit"]:
                # bash clears -e in command substitutions unless inherit_errexit is set.
                self.options.set("errexit", False)
            return self.cmd.pipelines._subshell_body(body)

        grouped = self.grouping
        try:
            pid = self.fork(child, group=0 if grouped else None)
        finally:
            os.close(write_end)
        capture = Capture(read_end, self._capture_max())
        signals.state.waiting += 1
        try:
            capture.read()  # over the limit, it closes the pipe: the writer dies of SIGPIPE
        finally:
            signals.state.waiting -= 1
            capture.close()
        status = self.wait_foreground([pid], pid if grouped else None)[0]
        self.last_status = self.cmdsub_status = status
        return capture.text()

    def _command_sub_here(self, body: ast.CommandList) -> str:
        """`$(@web1 nproc)`: run in this shell, not a forked copy, so that the stage uses
        (and keeps) this shell's SSH connections. Unlike a subshell, variables it sets
        stay set; `exit` in it ends only it."""
        import threading

        read_end, write_end = os.pipe()
        capture = Capture(read_end, self._capture_max())
        reader = threading.Thread(target=capture.read, daemon=True)
        reader.start()
        frame = self.fds.push()
        errexit = self.options.errexit
        try:
            self.fds.place(write_end, 1, frame)
            os.close(write_end)
            if not self.options.shopt["inherit_errexit"]:
                self.options.set("errexit", False)
            try:
                status = self.cmd.run_list(body)
            except (ExitShell, ReturnFromFunction) as e:
                status = e.status
        finally:
            self.options.set("errexit", errexit)
            self.fds.restore(frame)
            reader.join()
            capture.close()
        self.last_status = self.cmdsub_status = status
        return capture.text()

    def _capture_max(self) -> int:
        from fmsh.runtime.settings import SettingError, size

        try:
            return size(self.vars.get("FMSH_CAPTURE_MAX"), "FMSH_CAPTURE_MAX", CAPTURE_MAX)
        except SettingError as e:
            raise ShellError(str(e)) from None

    def close(self) -> None:
        """At exit: say goodbye to the SSH servers; the terminal goes back to whoever had it."""
        if "remote" in self.__dict__:
            self.remote.close()
        if self.jobctl is not None:
            self.jobctl.end()

    # --- running text -------------------------------------------------------------------

    def _active_aliases(self) -> dict[str, str] | None:
        expand = self.options.interactive or self.options.shopt["expand_aliases"]
        return self.aliases if expand and self.aliases else None

    def parse(self, text: str, name: str) -> ast.Program:
        from fmsh.syntax.parser import parse

        return parse(Source(name, text), self._active_aliases())

    def run_top_level(self, program: ast.Program) -> int:
        """Run a program's commands in order. When aliases change while it runs (and are
        expanded), the rest of the text is parsed again, so that an alias applies from
        the next command on, as in bash. Without aliases this is a plain loop."""
        from fmsh.syntax.parser import parse

        commands = program.body.commands
        source = program.pos.source
        generation = self.alias_generation
        status = 0
        k = 0
        while k < len(commands):
            if generation != self.alias_generation:
                generation = self.alias_generation
                start = commands[k].pos.offset
                commands = parse(source, self._active_aliases(), start=start).body.commands
                k = 0
                continue
            status = self.cmd.run(commands[k])
            k += 1
        return status

    def run_script(self, text: str, name: str, origin: str | None = None, resumed: TaskRun | None = None) -> int:
        """The whole life of a non-interactive shell: parse, run, EXIT trap. The status.

        `origin` (script, command, stdin): the text may be a task, to be journaled;
        `resumed`: it is one, taken up again."""
        try:
            program = self.parse(text, name)
        except ParseError as e:
            write_fd(2, "fmsh: " + e.render() + "\n")
            if resumed is not None:
                resumed.end(2)
            return self.finish(2)
        if self.options.noexec:
            return 0  # set -n: read and check only
        if self.options.values.get("verbose"):
            write_fd(2, text if text.endswith("\n") else text + "\n")
        if resumed is not None:
            self.task = resumed
        elif origin is not None:
            status = self.start_task(program, text, name, origin)
            if status:
                return status
        status = self.finish(self.contain(lambda: self.run_top_level(program)))
        if self.task is not None:
            self.task.end(status)
            self.task = None
        return status

    def start_task(self, program: ast.Program, text: str, name: str, origin: str) -> int:
        """Journal the program as a task if it is one (0), or say why it cannot run (its
        journal is unusable: the status)."""
        from fmsh.tasks.detect import default_name, task_name

        if (self.vars.get("FMSH_JOURNAL") or "") == "none":
            return 0  # asked to run without a journal: no task, no durability
        title = task_name(program, default_name(name, text))
        if title is None:
            return 0
        if origin != "prompt" and not self.vars.get("FMSH_ALLOW_UNBOUNDED"):
            refused = self._unbounded(program, name)
            if refused:
                return refused
        from fmsh.tasks.start import begin_task

        try:
            self.task = begin_task(self, text, name, origin, title)
        except ShellError as e:
            self.report(e.message)
            return e.status
        return 0

    def _unbounded(self, program: ast.Program, name: str) -> int:
        """A task that might never end is refused before its first step (`fmsh check`
        says why): 2, with the problems; 0 when it is bounded."""
        from fmsh.check import Defaults, check_program
        from fmsh.check.report import render_text
        from fmsh.runtime.settings import SettingError

        try:
            report = check_program(program, name, Defaults.from_variables(self.vars.get))
        except SettingError as e:
            self.report(str(e))
            return 2
        if not report.diagnostics:
            return 0
        lines = [line for line in render_text(report).splitlines() if ": unbounded: " in line]
        for line in lines:
            self.report(line)
        self.report(
            f"{name}: not started: a task must be bounded (bound the loops and waits above, "
            "or run with --allow-unbounded)"
        )
        return 2

    def run_line(self, program: ast.Program, text: str) -> int:
        """One command line at the prompt; a line with a remote stage is a task."""
        status = self.start_task(program, text, "stdin", "prompt")
        if status:
            self.last_status = status
            return status
        try:
            return self.cmd.run_list(program.body)
        finally:
            if self.task is not None:
                task, self.task = self.task, None
                task.end(self.last_status)
                if task.detached:
                    self.eval_text(f"resume {task.id} &")
            if self.job_control:
                self.jobctl.lines += 1  # type: ignore[union-attr]
                self.notify_jobs()

    def notify_jobs(self) -> None:
        """Under job control, after a command line: background jobs that ended or stopped
        since the last report, one line each (`[1]+  Done    sleep 1`), as bash shows them."""
        if "jobs" not in self.__dict__ or not self.jobs.jobs:
            return
        jobs = self.jobs
        jobs.poll()
        for job in list(jobs.jobs):
            if job.reported or not (job.done or job.is_stopped):
                continue
            write_fd(2, jobs.describe(job) + "\n")
            job.reported = True
        jobs.remove_done()

    def eval_text(self, text: str, name: str = "eval") -> int:
        """`eval`: parse errors give status 2 and do not end the shell."""
        try:
            program = self.parse(text, name)
        except ParseError as e:
            write_fd(2, "fmsh: " + e.render() + "\n")
            return 2
        return self.cmd.run_list(program.body)

    def source_file(self, path: str, args: list[str] | None) -> int:
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
        except OSError as e:
            raise ShellError(f"{path}: {e.strerror}") from None
        try:
            program = self.parse(text, path)
        except ParseError as e:
            write_fd(2, "fmsh: " + e.render() + "\n")
            return 2
        saved = self.positional
        if args is not None:
            self.positional = list(args)
        self.source_depth += 1
        try:
            return self.run_top_level(program)
        except ReturnFromFunction as e:
            return e.status
        finally:
            self.source_depth -= 1
            if args is not None:
                self.positional = saved

    def finish(self, status: int) -> int:
        """Run the EXIT trap once; its `exit N` may change the status."""
        return self.traps.run_exit(status)


_remote_in: dict[int, tuple[ast.CommandList, bool]] = {}


def _has_remote(body: ast.CommandList) -> bool:
    """Whether a command substitution's body has a remote stage (looked at once per body)."""
    found = _remote_in.get(id(body))
    if found is None or found[0] is not body:
        from fmsh.interp.remote import contains_remote

        if len(_remote_in) > 4096:
            _remote_in.clear()
        found = _remote_in[id(body)] = (body, contains_remote(body))
    return found[1]


def write_fd(fd: int, text: str) -> None:
    data = text.encode("utf-8", "surrogateescape")
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        pass


def _same_dir(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
