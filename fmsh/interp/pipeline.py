"""Pipelines, subshells and background jobs: the commands that run in forked copies of
the shell. Stages are joined by real OS pipes; no byte of a pipeline of external
commands passes through Python.
"""

from __future__ import annotations

import os

from fmsh.runtime import signals
from fmsh.runtime.errors import Interrupted
from fmsh.syntax import ast
from fmsh.tasks.result import StepResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.command import CommandEvaluator
    from fmsh.interp.remote import RemoteHandle
    from fmsh.interp.shell import Shell


class PipelineRunner:
    def __init__(self, shell: Shell, evaluator: CommandEvaluator) -> None:
        self.sh = shell
        self.ev = evaluator

    def run_in_child(self, command: ast.Command) -> int:
        """Run a command as the last thing this (forked) process does."""
        if type(command) is ast.SimpleCommand:
            return self.ev.simple.run(command, tail=True)  # type: ignore[arg-type]
        if type(command) is ast.Subshell and not command.redirects:  # type: ignore[attr-defined]
            return self.ev.run_list(command.body)  # type: ignore[attr-defined]
        return self.ev.run(command)

    def run_pipeline(self, node: ast.Pipeline) -> int:
        if node.timed:
            return self._timed(node)
        return self._run_pipeline(node)

    def _timed(self, node: ast.Pipeline) -> int:
        """`time PIPELINE`: bash's report on standard error after it ends."""
        import time

        start, before = time.monotonic(), os.times()
        try:
            return self._run_pipeline(node)
        finally:
            after = os.times()
            user = after.user - before.user + after.children_user - before.children_user
            system = after.system - before.system + after.children_system - before.children_system
            real = time.monotonic() - start
            times = (("real", real), ("user", user), ("sys", system))
            if node.timed == "posix":  # `time -p`: POSIX's format
                report = "".join(f"{label} {value:.2f}\n" for label, value in times)
            else:
                report = "\n" + "".join(f"{label}\t{int(value // 60)}m{value % 60:.3f}s\n" for label, value in times)
            from fmsh.interp.shell import write_fd

            write_fd(2, report)

    def _run_pipeline(self, node: ast.Pipeline) -> int:
        sh = self.sh
        commands = node.commands
        if node.negated:
            self.ev.errexit_suppressed += 1
        try:
            if len(commands) == 1:
                status = self.ev.run(commands[0])
                sh.pipestatus = [status]
            else:
                task = sh.task
                if task is not None and not task.depth:

                    def stages() -> StepResult:
                        statuses = self._run_stages(node)
                        return StepResult(statuses[-1], pipestatus=statuses)

                    result = task.run_step("pipeline", node.pos, stages)
                    statuses = result.pipestatus or [result.exit_status]
                else:
                    statuses = self._run_stages(node)
                sh.pipestatus = statuses
                status = statuses[-1]
                if sh.options.pipefail:
                    for value in reversed(statuses):
                        if value:
                            status = value
                            break
        finally:
            if node.negated:
                self.ev.errexit_suppressed -= 1
        if node.negated:
            return 0 if status else 1
        return status

    def _run_stages(self, node: ast.Pipeline) -> list[int]:
        """Start every stage, then wait for all. Local stages are forked copies of the
        shell; remote stages run in threads of this process, which holds the SSH
        connections, and own their ends of the pipes until they finish."""
        sh = self.sh
        commands = node.commands
        last = len(commands) - 1
        # In a task a pipeline is one step, replayed as a whole: its last stage must not
        # change the shell (it would not on resume), so it runs in a subshell, as in bash.
        lastpipe = sh.options.shopt["lastpipe"] and not sh.options.interactive and sh.task is None
        started: list[tuple[int, int | RemoteHandle]] = []  # (stage, pid or remote handle)
        previous_read = -1
        # Under a deadline the stages share a process group of their own (the first one's);
        # so they do under job control, a job given the terminal (not with a remote stage:
        # the shell keeps the terminal, for Ctrl-C to reach it).
        job = sh.job_control and not any(type(c) is ast.RemoteCommand for c in commands)
        group: int | None = 0 if sh.grouping or job else None
        try:
            for k, command in enumerate(commands):
                if k == last and lastpipe:
                    break
                read_end, write_end = os.pipe() if k < last else (-1, -1)
                stdin_fd = previous_read
                stderr_too = k < last and node.stderr_too[k]
                if type(command) is ast.RemoteCommand:
                    owned = [fd for fd in (stdin_fd, write_end) if fd != -1]
                    out = write_end if write_end != -1 else 1
                    handle = sh.remote.start(command, stdin_fd, out, owned, stderr_fd=out if stderr_too else 2)
                    started.append((k, handle))
                    previous_read = read_end
                    continue

                def child(
                    command: ast.Command = command,
                    stdin_fd: int = stdin_fd,
                    read_end: int = read_end,
                    write_end: int = write_end,
                    stderr_too: bool = stderr_too,
                ) -> int:
                    if stdin_fd != -1:
                        os.dup2(stdin_fd, 0)
                        os.close(stdin_fd)
                    if write_end != -1:
                        os.close(read_end)
                        os.dup2(write_end, 1)
                        os.close(write_end)
                        if stderr_too:
                            os.dup2(1, 2)
                    return self.run_in_child(command)

                pid = sh.fork(child, group=group, job=job)
                if group == 0:
                    group = pid
                started.append((k, pid))
                if previous_read != -1:
                    os.close(previous_read)
                if write_end != -1:
                    os.close(write_end)
                previous_read = read_end
            last_status: int | None = None
            if lastpipe:
                stdin_fd, previous_read = previous_read, -1
                last_status = self._run_last_here(commands[last], stdin_fd)
            label = _pipeline_text(node) if job else None
            return self._wait_stages(started, last_status, group or None, label)
        except BaseException:
            if previous_read != -1:
                os.close(previous_read)
            self._abandon(started)
            raise

    @staticmethod
    def _abandon(started: list[tuple[int, int | RemoteHandle]]) -> None:
        """The pipeline ends early (SIGINT, an error): its remote stages are stopped on the
        remote side, not left running."""
        handles = [what for _, what in started if not isinstance(what, int)]
        for handle in handles:
            handle.stop()
        for handle in handles:
            try:
                handle.wait()
            except BaseException:  # noqa: BLE001 - the first error is the one to report
                pass

    def _wait_stages(
        self,
        started: list[tuple[int, int | RemoteHandle]],
        last_status: int | None,
        group: int | None,
        label: str | None = None,
    ) -> list[int]:
        """The statuses in stage order. A remote stage stopped by SIGINT ends the pipeline
        as a local one killed by it does."""
        statuses: dict[int, int] = {}
        interrupted = False
        for k, what in started:
            if not isinstance(what, int):
                try:
                    statuses[k] = what.wait()
                except Interrupted:
                    statuses[k] = 130
                    interrupted = True
        local = [(k, pid) for k, pid in started if isinstance(pid, int)]
        for (k, _), status in zip(local, self.sh.wait_foreground([pid for _, pid in local], group, label), strict=True):
            statuses[k] = status
        if interrupted:
            signals.state.sigint_seen = False
            raise Interrupted()
        ordered = [statuses[k] for k in sorted(statuses)]
        return ordered + ([last_status] if last_status is not None else [])

    def _run_last_here(self, command: ast.Command, stdin_fd: int) -> int:
        """`shopt -s lastpipe`: the last stage runs in this shell, reading the pipe."""
        sh = self.sh
        frame = sh.fds.push()
        try:
            sh.fds.place(stdin_fd, 0, frame)
            os.close(stdin_fd)
            return self.ev.run(command)
        finally:
            sh.fds.restore(frame)

    def run_subshell(self, node: ast.Subshell) -> int:
        sh = self.sh

        def body() -> int:
            # The EXIT trap of the subshell runs inside its redirections.
            return sh.finish(sh.contain(lambda: self._subshell_body(node.body)))

        def child() -> int:
            return self.ev.with_redirects(node.redirects, body)

        def run() -> int:
            job = sh.job_control
            if sh.grouping or job:
                pid = sh.fork(child, group=0, job=job)
                return sh.wait_foreground([pid], pid, _command_text(node) if job else None)[-1]
            return sh.wait_foreground([sh.fork(child)])[-1]

        task = sh.task
        if task is not None and not task.depth:
            return task.run_step("subshell", node.pos, lambda: StepResult(run())).exit_status
        return run()

    def _subshell_body(self, body: ast.CommandList) -> int:
        commands = body.commands
        for command in commands[:-1]:
            self.ev.run(command)
        return self.run_in_child(commands[-1])

    def run_background(self, node: ast.Background) -> int:
        sh = self.sh
        command = node.command

        def child() -> int:
            if not sh.options.values.get("monitor"):
                # Without job control, a background job's input is /dev/null (POSIX).
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.close(devnull)
            return self.run_in_child(command)

        text = _command_text(command) + " &"

        def launch() -> int:
            job = sh.job_control  # a process group of its own, for `fg` to give the terminal
            pid = sh.fork(child, background=True, group=0 if job else None, job=job)
            sh.jobs.add([pid], text, pgid=pid if job else None)
            return pid

        task = sh.task
        if task is not None and not task.depth:
            pid, replayed = task.background(node.pos, launch)
            if replayed is not None:  # it ran before the task was resumed: not again
                sh.jobs.add_finished(pid, replayed.exit_status, text)
        else:
            pid = launch()
        sh.last_background_pid = pid
        return 0


def _command_text(command: ast.Command) -> str:
    """The source text of a command, for `jobs`: up to its `&` on the line."""
    pos = command.pos
    text = pos.source.text
    end = text.find("\n", pos.offset)
    line = text[pos.offset : end if end != -1 else len(text)]
    return line.split("&")[0].strip() or line.strip()


def _pipeline_text(node: ast.Pipeline) -> str:
    """A pipeline's source text as `jobs` shows it: its line from its start, cut at the
    first `;`, `&&`, `||` or ` &` (a rough cut: enough for a label)."""
    pos = node.pos
    text = pos.source.text
    end = text.find("\n", pos.offset)
    line = text[pos.offset : end if end != -1 else len(text)]
    for separator in (";", "&&", "||"):
        cut = line.find(separator)
        if cut > 0:
            line = line[:cut]
    return line.split(" &")[0].strip() or line.strip()
