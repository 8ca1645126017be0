"""Running `await KIND ...` (parsed in fmsh/syntax/modifiers.py): waiting, with a timeout,
until something is so.

    await port HOST:PORT [every DUR] [timeout DUR]         a TCP connect succeeds
    await http URL [status N] [match TEXT] [every] [timeout]  a GET answers N (any 2xx) with TEXT
    await file PATH [on @HOSTS] [every] [timeout]          PATH exists (here, or on every host)
    await signal NAME [into VAR] [timeout DUR]             `signal TASK NAME [VALUE]` was sent
    await callback URL [into VAR] [timeout DUR]            the URL (from `callback VAR`) was POSTed to
    await task ID [every] [timeout]                        that task has ended; its status
    await until CMD... | until { ...; } [every] [timeout]  the command succeeds

Each try is followed by a pause of `every` (1s; `await signal` and `await callback` look
every 20 ms, at the cost of one SQLite pragma while nothing was written); a try
never outlasts what is left (a connect or a request at most 10 s). The timeout is the
await's own, else FMSH_AWAIT_TIMEOUT / the config / 10m (settings.py); `timeout 0` is no
limit. An enclosing `timeout` bounds the wait too (its deadline passing unwinds to it).
On timeout: `await KIND ARG: timed out after DUR`, status 124. Ctrl-C ends a wait as it
ends `sleep`: 130, or, when INT is trapped, the wait ends with 130 and the trap runs.

`await http` follows redirects, unless the status asked for is a 3xx (then the redirect
itself is the answer); it reads at most 1 MiB of a body to find TEXT; proxies come from
the environment fmsh started with, as urllib reads it. `await file ... on @HOSTS` runs
`test -e PATH` on the hosts through the remote module, quietly; a host that cannot be
reached is one more try that failed.

In a task an await is one step (kind `await`), whatever it runs inside (the until
command, the remote test): its absolute deadline is journaled as the step's wake_at when
it first starts, so a resumed task waits only for what is left, and a finished await is
replayed from the journal. `await signal` works only in a task: the journal carries the
signal from `signal` (another process) to the waiting step; a signal sent before the
await starts, or while the task's shell was dead, is kept until it is taken. Its value is
the step's output, so a replayed await sets VAR again.
"""

from __future__ import annotations

import os
import time

from fmsh.interp.pause import OUTER_DEADLINE, pause
from fmsh.runtime import signals
from fmsh.runtime.durations import format_duration, parse_duration
from fmsh.runtime.errors import Interrupted, ShellError
from fmsh.tasks.result import StepResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fmsh.interp.shell import Shell
    from fmsh.journal.base import Journal
    from fmsh.remote.run import HostTarget
    from fmsh.syntax import ast
    from fmsh.tasks.run import TaskRun

TIMED_OUT = 124
_EVERY = 1.0  # the default pause between tries
_SIGNAL_EVERY = 0.02  # how often `await signal` looks in the journal (a pragma, while nothing changed)
_JOURNALED = ("signal", "callback")  # the kinds whose event comes through the journal
_TRY = 10.0  # the longest a single connect or request may take
_BODY_CAP = 1 << 20  # what `match` looks through


class _Usage(ShellError):
    """A bad value in an await (status 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=2)


class _Wait:
    """One await, expanded: what it is shown as, and its try."""

    def __init__(self, kind: str, arg: str, timeout: float | None, every: float) -> None:
        self.kind = kind
        self.arg = arg
        self.shown = f"{kind} {arg}"  # in messages
        self.timeout = timeout  # seconds, None: no limit
        self.every = every
        self.probe: Callable[[float | None], bool] = lambda budget: False
        self.last: str | None = None  # why the latest try failed
        self.status = 0  # what a satisfied wait gives (`await task`: that task's status)
        self.value: str | None = None  # `await signal`, `await callback`: what it received
        self.into = "CALLBACK_BODY" if kind == "callback" else "SIGNAL_VALUE"
        self.signal = arg  # the name of the signal it takes (a callback's: callback:ID)
        self.cleanup: list[Callable[[], None]] = []


class AwaitRunner:
    def __init__(self, shell: Shell) -> None:
        self.sh = shell

    def run(self, node: ast.Await) -> int:
        sh = self.sh
        try:
            if sh.deadlines is not None and sh.deadlines.any_expired:
                sh.deadlines.check()
            wait = self._prepare(node)
            try:
                status = self._run(node, wait)
            finally:
                for close in wait.cleanup:
                    close()
        except ShellError as e:
            if e.fatal:
                raise
            sh.report(e.message)
            return e.status
        if sh.deadlines is not None and sh.deadlines.any_expired:
            sh.deadlines.check()  # an enclosing `timeout` passed while waiting: unwind to it
        return status

    def _run(self, node: ast.Await, wait: _Wait) -> int:
        sh = self.sh
        task = sh.task
        if wait.kind in _JOURNALED:
            refusal = self._signal_refusal(wait.kind)
            if refusal is not None:
                raise _Usage(refusal)
            if wait.kind == "callback":
                assert task is not None
                self._own_callback(task, wait)
        if task is None or task.depth:
            # Not a step of its own: outside a task, or part of a step that runs it.
            deadline = None if wait.timeout is None else time.time() + wait.timeout
            status = self._poll(wait, deadline)
            return self._ended(wait, status)
        assert task is not None
        journaled = task

        def step() -> StepResult:
            return self._step(journaled, wait)

        wake_at = None if wait.timeout is None else time.time() + wait.timeout
        result = task.run_step("await", node.pos, step, wake_at=wake_at)
        if wait.kind in _JOURNALED and result.exit_status == 0:
            sh.vars.set(wait.into, result.output or "")
        return result.exit_status

    def _signal_refusal(self, kind: str) -> str | None:
        sh = self.sh
        task = sh.task
        if task is not None and not task.depth:
            return None
        if task is not None:
            return f"await {kind}: cannot wait inside another step (a $(...) or a pipeline): write it on its own"
        if sh.in_child and sh.vars.get("FMSH_TASK_ID"):
            return f"await {kind}: only the task's own shell can wait for a {kind}, not a subshell or a pipeline stage"
        if (sh.vars.get("FMSH_JOURNAL") or "") == "none":
            return f"await {kind}: FMSH_JOURNAL=none runs no task, and only a task can wait for a {kind}"
        return (
            f"await {kind}: only a task can wait for a {kind}: run it in a `task NAME {{ ... }}` block, "
            "or in a script that is a task"
        )

    def _step(self, task: TaskRun, wait: _Wait) -> StepResult:
        """The await as a step of `task`: its wait journaled, its deadline the step's."""
        active = task.current
        assert active is not None
        deadline = active.wake_at  # the first start's, when the step runs again
        journal = task.journal
        name = wait.signal if wait.kind in _JOURNALED else wait.shown
        state = journal.begin_wait(task.id, task.epoch, active.seq, name, wait.kind, deadline)
        if state == "timed-out":  # final, though its shell died before the step's result
            self._report_timeout(wait)
            return StepResult(TIMED_OUT)
        if wait.kind in _JOURNALED:
            seq = active.seq
            wait.every = max(wait.every, journal.poll_every)  # a cluster is asked less often

            def take(budget: float | None) -> bool:
                wait.value = journal.take_signal(task.id, task.epoch, wait.signal, seq, deadline)
                return wait.value is not None

            wait.probe = take
        status = self._poll(wait, deadline)
        if status == 0:
            if wait.kind not in _JOURNALED:  # take_signal marked it, in its own transaction
                journal.end_wait(task.id, task.epoch, active.seq, "satisfied")
            return StepResult(wait.status, output=wait.value)
        # Timed out, an enclosing deadline, a trapped Ctrl-C: this await takes nothing more.
        journal.end_wait(task.id, task.epoch, active.seq, "timed-out")
        return StepResult(self._ended(wait, status))

    def _ended(self, wait: _Wait, status: int) -> int:
        if status == 0:
            return wait.status
        if status == TIMED_OUT:
            self._report_timeout(wait)
        if status == OUTER_DEADLINE:
            return TIMED_OUT  # the enclosing `timeout` reports (or not, as coreutils' does)
        return status

    def _report_timeout(self, wait: _Wait) -> None:
        limit = format_duration(wait.timeout) if wait.timeout is not None else "its deadline"
        last = f" (last try: {wait.last})" if wait.last else ""
        self.sh.report(f"await {wait.shown}: timed out after {limit}{last}")

    # --- the wait -----------------------------------------------------------------------

    def _poll(self, wait: _Wait, deadline: float | None) -> int:
        """Try until the try succeeds (0), the deadline passes (124), an enclosing deadline
        passes (OUTER_DEADLINE), or a trapped Ctrl-C (130). `await signal` (and callback)
        looks at least once, however late: a resumed one still takes what was sent in time."""
        sh = self.sh
        while True:
            left = None if deadline is None else deadline - time.time()
            if left is not None and left <= 0 and wait.kind not in _JOURNALED:
                return TIMED_OUT  # a resumed await whose time ran out while its shell was dead
            if wait.probe(left if left is None else max(left, 0.0)):
                return 0
            if sh.deadlines is not None and sh.deadlines.any_expired:
                return OUTER_DEADLINE
            left = None if deadline is None else deadline - time.time()
            if left is not None and left <= 0:
                return TIMED_OUT
            seconds = wait.every if left is None else min(wait.every, left)
            status = pause(self.sh, seconds)
            if status is not None:
                return status

    def _budget(self, left: float | None, cap: float | None = _TRY) -> float | None:
        """How long one try may take: what is left, of the await and of the enclosing
        deadlines, and at most `cap`."""
        limits = [x for x in (left, cap) if x is not None]
        deadlines = self.sh.deadlines
        if deadlines is not None:
            outer = deadlines.remaining()
            if outer is not None:
                limits.append(outer)
        return max(min(limits), 0.05) if limits else None

    # --- each kind ----------------------------------------------------------------------

    def _prepare(self, node: ast.Await) -> _Wait:
        sh = self.sh
        words = sh.words
        kind = node.kind
        # In the order written (expansions can have effects; `set -x` shows them so).
        written = sorted(node.options.items(), key=lambda item: item[1].pos.offset)
        options = {name: words.expand_string(word) for name, word in written}
        arg = words.expand_string(node.args[0]) if node.args else ""
        if kind == "until":
            arg = _command_text(node)
        if kind == "callback":
            arg = self._callback_token(arg)
        if sh.options.xtrace:
            from fmsh.expand.quote import shell_quote

            shown = ["await", kind] + ([shell_quote(arg)] if kind not in ("until", "callback") else [arg[:6] + "…"])
            shown += [f"{name} {shell_quote(value)}" for name, value in options.items()]
            sh.trace_words(shown, node.pos)
        wait = _Wait(kind, arg, self._timeout(kind, options.get("timeout")), self._every(kind, options.get("every")))
        if kind == "callback":
            wait.shown = "callback"  # not its token: `callback ID` once it is found
        if kind == "port":
            self._port(wait)
        elif kind == "http":
            self._http(wait, options.get("status"), options.get("match"))
        elif kind == "file":
            self._file(wait, options.get("on"))
        elif kind in _JOURNALED:
            self._signal(wait, options.get("into"))
        elif kind == "task":
            self._task(wait)
        else:
            assert node.block is not None
            self._until(wait, node.block)
        return wait

    def _timeout(self, kind: str, text: str | None) -> float | None:
        if text is None:
            from fmsh.runtime import settings

            try:
                return settings.timeout("await-timeout", self.sh.vars.get("FMSH_AWAIT_TIMEOUT"))
            except settings.SettingError as e:
                raise _Usage(f"await {kind}: {e}") from None
        seconds = parse_duration(text)
        if seconds is None:
            raise _Usage(f"await {kind}: timeout `{text}': not a duration (as in 30s, 5m, 1h; 0 for no limit)")
        return seconds or None

    def _every(self, kind: str, text: str | None) -> float:
        if text is None:
            return _SIGNAL_EVERY if kind in _JOURNALED else _EVERY
        seconds = parse_duration(text)
        if seconds is None:
            raise _Usage(f"await {kind}: every `{text}': not a duration (as in 500ms, 5s, 1m)")
        if seconds <= 0:
            raise _Usage(f"await {kind}: every `{text}': the pause between tries must be more than 0")
        return seconds

    def _port(self, wait: _Wait) -> None:
        import socket

        host, port = _host_port(wait.arg)

        def connect(left: float | None) -> bool:
            try:
                with socket.create_connection((host, port), timeout=self._budget(left)):
                    return True
            except OSError as e:
                wait.last = _os_reason(e)
                return False

        wait.probe = connect

    def _http(self, wait: _Wait, status: str | None, match: str | None) -> None:
        from urllib.parse import urlsplit

        url = wait.arg
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _Usage(f"await http `{url}': not an http:// or https:// URL")
        wanted: int | None = None
        if status is not None:
            if not (status.isdigit() and 100 <= int(status) <= 599):
                raise _Usage(f"await http: status `{status}': not an HTTP status (100-599)")
            wanted = int(status)
        needle = match.encode("utf-8", "surrogateescape") if match is not None else None
        opener = _opener(follow=wanted is None or not 300 <= wanted < 400)

        def get(left: float | None) -> bool:
            import http.client
            import urllib.error
            import urllib.request

            request = urllib.request.Request(url, headers={"User-Agent": "fmsh-await"})
            try:
                try:
                    with opener.open(request, timeout=self._budget(left)) as response:
                        code = response.status
                        body = response.read(_BODY_CAP) if needle is not None else b""
                except urllib.error.HTTPError as e:  # a 4xx, 5xx (or unfollowed 3xx) is an answer too
                    code = e.code
                    try:
                        body = e.read(_BODY_CAP) if needle is not None else b""
                    finally:
                        e.close()
            except urllib.error.URLError as e:
                reason = e.reason
                wait.last = _os_reason(reason) if isinstance(reason, OSError) else str(reason)
                return False
            except (OSError, http.client.HTTPException, ValueError) as e:
                wait.last = _os_reason(e) if isinstance(e, OSError) else (str(e) or type(e).__name__)
                return False
            if code != wanted if wanted is not None else not 200 <= code < 300:
                wait.last = f"status {code}"
                return False
            if needle is not None and needle not in body:
                wait.last = f"status {code}, no `{match}' in the body"
                return False
            return True

        wait.probe = get

    def _file(self, wait: _Wait, on: str | None) -> None:
        path = wait.arg
        if on is None:

            def exists(left: float | None) -> bool:
                if os.path.exists(path):
                    return True
                wait.last = "no such file"
                return False

            wait.probe = exists
            return
        pattern = on[1:] if on.startswith("@") else on
        if not pattern:
            raise _Usage("await file: on `@': hosts must follow the @ (as in on @web1)")
        wait.shown = f"file {path} on @{pattern}"
        wait.probe = _RemoteTest(self, wait, pattern, path).probe

    def _signal(self, wait: _Wait, into: str | None) -> None:
        from fmsh.syntax.word_parser import is_name

        if not wait.arg:
            raise _Usage("await signal: an empty signal name")
        if into is not None:
            if not is_name(into):
                raise _Usage(f"await {wait.kind}: into `{into}': not a variable name")
            wait.into = into
        # The try (taking the signal from the journal) is made by _step: it needs the step.

    @staticmethod
    def _callback_token(url: str) -> str:
        """The token of the callback URL awaited (only its hash is looked up)."""
        from fmsh.tasks.callbacks import token_in

        token = token_in(url)
        if token is None:
            shown = url if len(url) <= 60 else url[:59] + "…"
            raise _Usage(f"await callback `{shown}': not a callback URL (make one with `callback VAR`)")
        return token

    @staticmethod
    def _own_callback(task: TaskRun, wait: _Wait) -> None:
        """Which of this task's callbacks the URL is: its signal is `callback:ID`."""
        from fmsh.tasks.callbacks import token_hash

        callback = task.journal.find_callback(token_hash(wait.arg))
        if callback is None or callback.task_id != task.id:
            raise _Usage("await callback: not a callback of this task (make one with `callback VAR` in it)")
        wait.signal = f"callback:{callback.id}"
        wait.shown = f"callback {callback.id}"

    def _task(self, wait: _Wait) -> None:
        spec = wait.arg
        if not spec.isdigit():
            raise _Usage(f"await task `{spec}': not a task id (a number: `tasks` lists them)")
        task_id = int(spec)
        own = self.sh.task
        if own is not None and own.id == task_id:
            raise _Usage(f"await task {spec}: that is this task itself; it would wait for ever")
        journal: list[Journal] = []

        def ended(left: float | None) -> bool:
            from fmsh.journal.errors import TaskNotFound

            if not journal:
                if own is not None:
                    journal.append(own.journal)
                else:
                    from fmsh.tasks.start import open_existing

                    try:
                        opened = open_existing(self.sh.vars.environ())
                    except ShellError as e:
                        if e.fatal:
                            raise
                        raise ShellError(f"await task {spec}: {e.message}") from None
                    journal.append(opened)
                    wait.cleanup.append(opened.close)
            record = journal[0].task(task_id)
            if record is None:
                raise ShellError(f"await task {spec}: {TaskNotFound(spec, journal[0].path).message}")
            if record.status not in ("done", "failed", "cancelled"):
                wait.last = f"task {spec} is {record.status}"
                return False  # running, or interrupted: it may be resumed
            default = {"done": 0, "failed": 1, "cancelled": 130}[record.status]
            wait.status = record.exit_status if record.exit_status is not None else default
            return True

        wait.probe = ended

    def _until(self, wait: _Wait, command: ast.Command) -> None:
        def succeeds(left: float | None) -> bool:
            status = self._run_bounded(command, left)
            wait.last = f"status {status}"
            return status == 0

        wait.probe = succeeds

    def _run_bounded(self, command: ast.Command, left: float | None) -> int:
        """Run the until command once, as a condition (no `set -e`); what it starts is
        stopped when the await's time is up (TERM, then KILL 2 s later), as under
        `timeout`."""
        import signal as _signal

        from fmsh.runtime.deadlines import Deadline, DeadlineExpired, Deadlines

        sh = self.sh
        mine: Deadline | None = None
        if left is not None:
            if sh.deadlines is None:
                sh.deadlines = Deadlines()
            mine = Deadline(max(left, 0.0), _signal.SIGTERM, 2.0, label="await")
            sh.deadlines.push(mine)
        sh.cmd.errexit_suppressed += 1
        try:
            return sh.cmd.run(command)
        except DeadlineExpired:
            # Its own time is up, or an enclosing deadline passed (which _poll sees next, and
            # the await step ends before unwinding to that `timeout`).
            return TIMED_OUT
        finally:
            sh.cmd.errexit_suppressed -= 1
            if mine is not None and sh.deadlines is not None:
                sh.deadlines.pop(mine)


class _RemoteTest:
    """`test -e PATH` on hosts, through fmsh/remote: every host must say yes. Quiet: what
    the test or a failed connection says becomes `last`, shown if the await times out."""

    def __init__(self, runner: AwaitRunner, wait: _Wait, pattern: str, path: str) -> None:
        self.runner = runner
        self.wait = wait
        self.pattern = pattern
        self.path = path
        self.targets: list[HostTarget] | None = None  # resolved once, at the first try

    def probe(self, left: float | None) -> bool:
        sh = self.runner.sh
        if self.targets is None:
            self.targets = sh.remote.targets(self.pattern)
        results = sh.remote.probe(self.targets, ["test", "-e", self.path], self.runner._budget(left, None))
        if any(r.kind == "interrupted" for r in results):
            signals.state.sigint_seen = False
            if not sh.traps.handles("INT"):
                raise Interrupted()
            return False  # the trapped SIGINT is pending: the pause ends the wait
        failed = [r for r in results if r.kind is not None or r.status != 0]
        if not failed:
            return True
        self.wait.last = "; ".join(
            f"{r.name}: {'no such file' if r.kind == 'exit' else f'{r.kind}: {r.message}'}" for r in failed[:3]
        ) + (f"; and {len(failed) - 3} more" if len(failed) > 3 else "")
        return False


def _opener(follow: bool):  # type: ignore[no-untyped-def]
    import urllib.request

    if follow:
        return urllib.request.build_opener()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            return None  # the 3xx itself is the answer (as an HTTPError)

    return urllib.request.build_opener(NoRedirect)


def _command_text(node: ast.Await) -> str:
    """The until command as written (without the await's options), for messages."""
    from fmsh.tasks.keys import step_text

    block = node.block
    assert block is not None
    if not node.options:
        text = step_text(block.pos)
    else:
        # The options come last: cut before the first option's keyword.
        end = min(word.pos.offset for word in node.options.values())
        text = block.pos.source.text[block.pos.offset : end].rstrip()
        text = text.rsplit(None, 1)[0]  # the keyword (every, timeout) before that value
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


def _host_port(text: str) -> tuple[str, int]:
    """`host:port`, `10.0.0.5:22`, `[::1]:8080`."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        ok = bool(bracket and host)
    else:
        host, colon, port = text.rpartition(":")
        ok = bool(colon and host) and ":" not in host
    if not ok or not port.isdigit() or not 0 < int(port) < 65536:
        raise _Usage(f"await port `{text}': not HOST:PORT (as in web1:443, 10.0.0.5:22, [::1]:8080)")
    return host, int(port)


def _os_reason(error: OSError) -> str:
    import socket

    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return error.strerror or str(error) or type(error).__name__
