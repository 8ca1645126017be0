"""Evaluating remote stages (`@HOSTS cmd`): the interpreter's side of fmsh/remote.

Expands the host pattern and the argv, resolves hosts (inventory, then `ssh -G`), quotes
the argv for the remote shell, runs the stage with fmsh.remote, and reports: `$?`, the
HOST_STATUS and HOST_FAILURE arrays, a one-line summary of failures on standard error.

Settings, read from the shell's variables (so `FMSH_OUTPUT=gather @web[1-9] cmd` sets one
stage only):
    FMSH_OUTPUT           auto | prefix | plain | gather | json (see remote/output.py)
    FMSH_FANOUT           how many hosts at a time (32)
    FMSH_CONNECT_TIMEOUT  time to connect and authenticate (10s, or ssh's ConnectTimeout)
    FMSH_STEP_TIMEOUT     time a host may run a stage that has no `timeout` of its own
                          before it is stopped there (1h; status 124, class timeout)
    (these two also come from the config file: see fmsh/runtime/settings.py)
    FMSH_HOST_KEYS        yes (refuse unknown keys: the default) | accept-new | no
    FMSH_INVENTORY        the inventory file (~/.config/fmsh/inventory.toml), or files
                          separated by `:`: TOML, Ansible INI/YAML, ClusterShell groups
    FMSH_SSH_CONFIG       an ssh config file for `ssh -G -F`
"""

from __future__ import annotations

import os
import threading

from fmsh.expand.quote import posix_quote
from fmsh.runtime import signals
from fmsh.runtime.errors import Interrupted, ShellError
from fmsh.runtime.state import AssocArray
from fmsh.syntax import ast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fmsh.interp.modifiers import HostPolicy
    from fmsh.interp.shell import Shell
    from fmsh.journal.records import HostRecord
    from fmsh.remote.inventory import Inventory
    from fmsh.remote.pool import Pool, Settings
    from fmsh.remote.run import HostResult, HostTarget, RemoteRun
    from fmsh.remote.sshconfig import HostConfig, SSHConfigReader
    from fmsh.tasks.run import TaskRun


class RemoteHandle:
    """A remote stage running in a thread of the shell (a stage of a pipeline)."""

    def __init__(
        self, runner: RemoteRunner, node: ast.RemoteCommand, fds: tuple[int | None, int, int], owned: list[int]
    ) -> None:
        self.status = 0
        self.error: BaseException | None = None
        self._run: RemoteRun | None = None
        self._stop_now = False
        runner.sh.remote_fds.update(owned)

        def started(run: RemoteRun) -> None:
            self._run = run
            if self._stop_now:
                run.request_stop()

        def work() -> None:
            try:
                self.status = runner.run(node, *fds, on_start=started)
            except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
                self.error = e
            finally:
                for fd in owned:
                    runner.sh.remote_fds.discard(fd)
                    try:
                        os.close(fd)
                    except OSError:
                        pass

        self._thread = threading.Thread(target=work, name="fmsh-remote-stage", daemon=True)
        self._thread.start()

    def wait(self) -> int:
        while self._thread.is_alive():
            self._thread.join(0.2)
        if self.error is not None:
            raise self.error
        return self.status

    def stop(self) -> None:
        """Stop the remote commands (the pipeline is being abandoned: SIGINT, an error)."""
        self._stop_now = True
        if self._run is not None:
            self._run.request_stop()


class RemoteRunner:
    def __init__(self, shell: Shell) -> None:
        self.sh = shell
        self._pool: Pool | None = None
        self._reader: SSHConfigReader | None = None
        self._inventory: tuple[str, tuple[tuple[str, float], ...], Inventory] | None = None

    # --- running a stage ----------------------------------------------------------------

    def run(
        self,
        node: ast.RemoteCommand,
        stdin_fd: int | None = -1,
        stdout_fd: int = 1,
        stderr_fd: int = 2,
        on_start: Callable[[RemoteRun], None] | None = None,
        policy: HostPolicy | None = None,
    ) -> int:
        """Run the stage to its end; `$?`. stdin_fd -1: the shell's standard input (unless
        it is a terminal), None: nothing. `policy`: each host's timeout and tries, the quorum."""
        sh = self.sh
        if node.assignments:
            return sh.cmd.simple._with_temp_assignments(
                node.assignments, lambda: self._run(node, stdin_fd, stdout_fd, stderr_fd, on_start, policy)
            )
        return self._run(node, stdin_fd, stdout_fd, stderr_fd, on_start, policy)

    def start(
        self, node: ast.RemoteCommand, stdin_fd: int, stdout_fd: int, owned: list[int], stderr_fd: int = 2
    ) -> RemoteHandle:
        """Run the stage in a thread (a pipeline stage); the handle closes `owned` when
        done. stdin_fd -1: the shell's standard input (the first stage).

        Called in the shell's main thread, which is where descriptors may be rearranged:
        the standard input is duplicated now (the last stage may take fd 0 next), and the
        low descriptors are reserved before any thread opens one."""
        self.pool()
        stdin: int | None = stdin_fd
        if stdin_fd == -1:
            import fcntl

            stdin = None if os.isatty(0) else fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 10)
            if stdin is not None:
                owned = owned + [stdin]
        return RemoteHandle(self, node, (stdin, stdout_fd, stderr_fd), owned)

    def _run(
        self,
        node: ast.RemoteCommand,
        stdin_fd: int | None,
        stdout_fd: int,
        stderr_fd: int,
        on_start: Callable[[RemoteRun], None] | None,
        policy: HostPolicy | None = None,
    ) -> int:
        from fmsh.remote.output import make_sink, summary
        from fmsh.remote.run import RemoteRun

        sh = self.sh
        task = sh.task
        step_active = task is not None and task.current is not None
        pattern = sh.words.expand_string(node.hosts)
        command = self.command_text(node, task.remote_environment() if step_active else None)  # type: ignore[union-attr]
        if sh.options.xtrace:
            sh.trace_words([f"@{pattern}", self.shown(node)], node.pos)
        targets = self.targets(pattern)
        done: dict[str, HostRecord] = task.finished_hosts() if step_active else {}  # type: ignore[union-attr]
        if done:
            targets = self._skip_finished(targets, done)
        names = [t.name for t in targets]
        mode = (sh.vars.get("FMSH_OUTPUT") or "auto").strip()
        from fmsh.remote.output import MODES

        if mode not in MODES:
            raise ShellError(f"FMSH_OUTPUT={mode}: not one of {', '.join(MODES)}")
        if stdin_fd == -1:
            stdin_fd = None if os.isatty(0) else 0
        sink = make_sink(mode, names, stdout_fd, stderr_fd)
        if step_active:
            sink = task.recording_sink(sink)  # type: ignore[union-attr]
        settings = self.settings(policy)
        if step_active:
            settings.on_try = self._journal_try(task, targets)  # type: ignore[arg-type]
        run = RemoteRun(
            self.pool(),
            settings,
            targets,
            command,
            stdin_fd,
            sink,
            width=self._int_setting("FMSH_FANOUT", 32),
            interrupted=_sigint_arrived,
        )
        if on_start is not None:
            on_start(run)
        signals.state.waiting += 1
        try:
            results = run.run() if targets else []
        finally:
            signals.state.waiting -= 1
        if done:
            results = self._with_finished(results, done)
        self._report(results, mode, stderr_fd, summary)
        if any(r.kind == "interrupted" for r in results) and not sh.traps.handles("INT"):
            raise Interrupted()
        quorum = policy.quorum if policy is not None else None
        if quorum is not None and len(results) > 1:
            needed = quorum.required(len(results))
            succeeded = sum(1 for r in results if r.kind is None)
            if succeeded >= needed:
                return 0
            sh.report(f"need {quorum}: {succeeded} of {len(results)} hosts succeeded, {needed} needed")
        return _status(results)

    def _journal_try(self, task: TaskRun, targets: list[HostTarget]) -> Callable[[int, int, HostResult, float], None]:
        """Each host's tries, as they end, into the journal (`retry` on a fan-out)."""
        import time

        active = task.current
        assert active is not None
        wall = time.time() - time.monotonic()

        def record(index: int, attempt: int, result: HostResult, started: float) -> None:
            values = {
                "host": targets[index].name,
                "try": attempt,
                "status": result.status,
                "failure": result.kind,
                "message": result.message,
                "started_at": wall + started if started else None,
                "ended_at": time.time(),
            }
            try:
                task.journal.record_host_try(task.id, task.epoch, active.seq, active.attempt, values)
            except ShellError as e:
                task.journal_failed(e)  # the step fails with it when it ends: said once

        return record

    def probe(self, targets: list[HostTarget], argv: list[str], seconds: float | None) -> list[HostResult]:
        """Run `argv` on the hosts quietly, for its status (each try of an `await ... on
        @hosts`): one connect attempt, at most `seconds`; Ctrl-C stops it on the hosts."""
        from fmsh.remote.output import Quiet
        from fmsh.remote.run import RemoteRun, argv_script, wrap

        settings = self.settings()
        if seconds is not None:
            settings.connect_timeout = min(settings.connect_timeout, seconds)
            settings.step_timeout = seconds
        settings.connect_attempts = 1  # the await tries again itself
        run = RemoteRun(
            self.pool(),
            settings,
            targets,
            wrap(*argv_script(argv)),
            None,
            Quiet([t.name for t in targets], 1, 2),
            interrupted=_sigint_arrived,
        )
        signals.state.waiting += 1  # Ctrl-C is noted and stops the command on the hosts
        try:
            return run.run()
        finally:
            signals.state.waiting -= 1

    def _skip_finished(self, targets: list[HostTarget], done: dict[str, HostRecord]) -> list[HostTarget]:
        """A fan-out step that runs again (its task was resumed) runs only on the hosts that
        did not finish it before."""
        from fmsh.remote.nodeset import fold

        skipped = [t.name for t in targets if t.name in done]
        if skipped:
            task = self.sh.task
            step = task.current.seq if task is not None and task.current is not None else "?"
            self.sh.report(
                f"{fold(skipped)}: finished step {step} before the task was interrupted; not run again there"
            )
        return [t for t in targets if t.name not in done]

    @staticmethod
    def _with_finished(results: list[HostResult], done: dict[str, HostRecord]) -> list[HostResult]:
        from fmsh.remote.run import HostResult

        ran = {r.name for r in results}
        earlier = [HostResult(h.host, h.status, h.failure, h.message or "") for h in done.values() if h.host not in ran]
        return earlier + results

    def set_host_arrays(self, hosts: list[tuple[str, int, str | None]]) -> None:
        """HOST_STATUS and HOST_FAILURE: each host's status and failure class."""
        statuses = AssocArray()
        classes = AssocArray()
        for name, status, kind in hosts:
            statuses[name] = str(status)
            if kind is not None:
                classes[name] = kind
        self.sh.vars.set_array("HOST_STATUS", statuses)
        self.sh.vars.set_array("HOST_FAILURE", classes)

    def command_text(self, node: ast.RemoteCommand, environment: dict[str, str] | None = None) -> str:
        """What the remote shell runs. Two or more words: an exact argv, each word quoted
        so that it arrives as one argument (`@h rm "$f"` can never run code). One word: a
        command line for the remote shell, as ssh takes it (`@h 'cat > /srv/x'`). A block:
        its text, with the local values of the variables it uses set first. In a task,
        FMSH_TASK_ID and FMSH_STEP are exported to it (`environment`)."""
        from fmsh.remote.run import argv_script, wrap

        sh = self.sh
        if node.block is None:
            argv = sh.words.expand_argv(node.words)
            if not argv:
                raise ShellError("a remote stage needs a command")
            if len(argv) == 1:
                return wrap(argv[0], replace=False, environment=environment)
            script, replace = argv_script(argv)
            return wrap(script, replace=replace, environment=environment)
        lines = []
        for name in node.block_names:
            value = sh.vars.get(name)
            if value is not None:
                lines.append(f"{name}={posix_quote(value)}")
        return wrap("\n".join(lines + [node.block]), replace=False, environment=environment)

    def shown(self, node: ast.RemoteCommand) -> str:
        """The stage as `set -x` shows it (the words, not the wrapper)."""
        if node.block is not None:
            return "{ " + node.block + " }"
        from fmsh.expand.quote import shell_quote

        return " ".join(shell_quote(a) for a in self.sh.words.expand_argv(node.words))

    def _report(self, results: list[HostResult], mode: str, stderr_fd: int, summary) -> None:  # type: ignore[no-untyped-def]
        sh = self.sh
        self.set_host_arrays([(r.name, r.status, r.kind) for r in results])
        if mode == "json":
            return
        if len(results) == 1:
            r = results[0]
            if r.kind not in (None, "exit", "signal", "interrupted"):
                sh.report(f"{r.name}: {r.kind}: {r.message}")
            return
        for r in results:
            if r.kind not in (None, "exit", "interrupted"):
                sh.report(f"{r.name}: {r.kind}: {r.message}")
        line = summary(results)
        if line is not None:
            sh.report(line)

    # --- hosts --------------------------------------------------------------------------

    def targets(self, pattern: str) -> list[HostTarget]:
        """The hosts of a pattern with their SSH settings (looked up in parallel)."""
        from concurrent.futures import ThreadPoolExecutor

        from fmsh.remote import nodeset
        from fmsh.remote.failures import RESOLVE, HostFailure
        from fmsh.remote.run import HostTarget

        refs = nodeset.expand(pattern, self.inventory(), nodeset.limit_of(self.sh.vars.get(nodeset.MAX_HOSTS_VARIABLE)))
        if not refs:
            raise ShellError(f"@{pattern}: no hosts")

        def one(ref: nodeset.HostRef) -> HostTarget:
            try:
                return HostTarget(ref.name, self.config(ref.name, ref.user, ref.port))
            except ShellError as e:
                return HostTarget(ref.name, None, HostFailure(RESOLVE, e.message))

        if len(refs) == 1:
            return [one(refs[0])]
        self.reader()  # made here, once: the threads below would each make their own
        with ThreadPoolExecutor(min(16, len(refs))) as pool:
            return list(pool.map(one, refs))

    def config(self, name: str, user: str | None = None, port: int | None = None) -> HostConfig:
        """One host's settings: inventory first (user and port written in the pattern
        win), then `ssh -G` for the rest."""
        inventory = self.inventory()
        entry = inventory.entry(name) or inventory.default_entry(name)
        config = self.reader().resolve(
            name,
            user=user or (entry.user if entry else None),
            port=port or (entry.port if entry else None),
            address=entry.address if entry else None,
            jump=entry.jump if entry else None,
        )
        if entry is not None:
            config.vars = entry.vars
            config.source = f"{entry.source} + ssh -G"
        return config

    def inventory(self) -> Inventory:
        from fmsh.remote.inventory import Inventory, default_path, stamp

        sh = self.sh
        path = sh.vars.get("FMSH_INVENTORY") or default_path(sh.vars.get("XDG_CONFIG_HOME"), sh.vars.get("HOME"))
        files = stamp(path)  # each file FMSH_INVENTORY names (a:b) with its mtime
        cached = self._inventory
        if cached is None or cached[0] != path or cached[1] != files:
            cached = self._inventory = (path, files, Inventory.load(path))
        return cached[2]

    def reader(self) -> SSHConfigReader:
        from fmsh.remote.sshconfig import SSHConfigReader

        config_file = self.sh.vars.get("FMSH_SSH_CONFIG") or None
        if self._reader is None or self._reader.config_file != config_file:
            self._reader = SSHConfigReader(config_file)
        return self._reader

    def pool(self) -> Pool:
        if self._pool is None:
            from fmsh.remote.pool import Pool

            # From here on the shell owns descriptors of its own: keep them above 9.
            self.sh.fds.reserve_low()

            def resolve_jump(spec: str) -> HostConfig:
                from fmsh.remote.nodeset import split_user_port

                user, name, port = split_user_port(spec)
                return self.config(name, user, port)

            self._pool = Pool(resolve_jump)
        return self._pool

    def settings(self, policy: HostPolicy | None = None) -> Settings:
        import time

        from fmsh.remote.pool import Settings
        from fmsh.runtime import settings as defaults

        sh = self.sh
        settings = Settings()
        try:
            connect = defaults.timeout("connect-timeout", sh.vars.get("FMSH_CONNECT_TIMEOUT"))
            step = defaults.timeout("step-timeout", sh.vars.get("FMSH_STEP_TIMEOUT"))
        except defaults.SettingError as e:
            raise ShellError(str(e)) from None
        problem = defaults.problem()
        if problem is not None:
            sh.report(problem)
        settings.connect_timeout = connect or 3600.0
        settings.step_timeout = step
        if policy is not None:
            if policy.timeout is not None:
                settings.step_timeout = policy.timeout
            settings.stop_signal = policy.signal
            settings.kill_after = policy.kill_after
            settings.tries = policy.tries
            settings.backoff = policy.backoff
            settings.retry_on = policy.retry_on
        left = sh.deadlines.remaining() if sh.deadlines is not None else None
        if left is not None:
            settings.stage_deadline = time.monotonic() + left
        keys = self.sh.vars.get("FMSH_HOST_KEYS")
        if keys:
            if keys not in ("yes", "accept-new", "no"):
                raise ShellError(f"FMSH_HOST_KEYS={keys}: not one of yes, accept-new, no")
            settings.host_keys = keys
        return settings

    def _int_setting(self, name: str, default: int) -> int:
        value = self.sh.vars.get(name)
        if not value:
            return default
        if not value.isdigit() or int(value) < 1:
            raise ShellError(f"{name}={value}: not a positive number")
        return int(value)

    # --- life cycle ---------------------------------------------------------------------

    def forget(self) -> None:
        """In a forked child: the parent's connections must not be used or closed."""
        if self._pool is not None:
            self._pool.forget()
        self._reader = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def _sigint_arrived() -> bool:
    """Whether SIGINT came while the stage ran (noted by the shell's handler, or queued for
    an INT trap, which runs once the stage is stopped)."""
    return signals.state.sigint_seen or signals.SIGINT in signals.state.pending


def _status(results: list[HostResult]) -> int:
    """`$?` of a stage: a single host's status; for a fan-out 0 only when every host
    succeeded, else 255 when a host could not run the command, else the highest status."""
    if len(results) == 1:
        return results[0].status
    if all(r.kind is None for r in results):
        return 0
    from fmsh.remote.failures import CONNECTION_STATUS

    if any(r.kind not in (None, "exit", "signal", "timeout", "interrupted") for r in results):
        return CONNECTION_STATUS
    return max(r.status for r in results)


def contains_remote(node: object) -> bool:
    """Whether a command (list) has a remote stage in it, seen without running it."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.RemoteCommand):
            return True
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, ast.Command) or isinstance(item, (ast.CommandList, ast.IfArm, ast.CaseArm)):
            stack.extend(
                getattr(item, f) for f in item._fields if f not in ("pos", "words", "assignments", "redirects")
            )
    return False
