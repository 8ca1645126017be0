"""A command on N hosts: connect, start, stream, stop, and tell how each host ended.

Worker threads (at most `width` hosts at a time) connect through the pool and start the
command; one loop (in the thread that called `run`) reads every channel as data arrives
and hands it to the output sink, so a slow host never holds up the others. Standard input
goes to a single host as a stream; to several hosts, it is read once and sent to each.

Each host has its own clock: a try that runs past `settings.step_timeout` is stopped on
that host alone (status 124, class timeout) while the others go on, and a host whose try
failed is tried again after its backoff when `settings.tries` allows, without holding up
or rerunning the hosts that succeeded.

Stopping (SIGINT, a deadline) must reach the remote command itself: closing the channel
leaves it running, and sshd refuses the SSH "signal" request unless it runs with
privilege separation. So every command runs in a small POSIX sh wrapper that first
reports its process id on standard error (the line is taken out of the stream); the
command and its children share that process group, and stopping runs `kill -INT -- -PID`
(then KILL after a grace period) over a second channel of the same connection.
"""

from __future__ import annotations

import os
import queue
import selectors
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fmsh.remote import failures
from fmsh.remote.failures import HostFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    import paramiko

    from fmsh.remote.output import Sink
    from fmsh.remote.pool import Pool, Settings
    from fmsh.remote.sshconfig import HostConfig
    from fmsh.remote.sudo import SudoResponder

_GRACE = 2.0  # seconds between the polite signal and KILL, and between KILL and giving up
_SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9, "USR1": 10,
            "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15}  # fmt: skip


class HostTarget:
    """A host of a stage: its config, or the failure that stopped it before connecting."""

    __slots__ = ("name", "config", "failure")

    def __init__(self, name: str, config: HostConfig | None, failure: HostFailure | None = None) -> None:
        self.name = name
        self.config = config
        self.failure = failure


class HostResult:
    """How a host ended: status as `$?` would show it, kind None for success or a class."""

    __slots__ = ("name", "status", "kind", "message")

    def __init__(self, name: str, status: int, kind: str | None, message: str = "") -> None:
        self.name = name
        self.status = status
        self.kind = kind
        self.message = message

    def __repr__(self) -> str:
        return f"HostResult({self.name!r}, {self.status}, {self.kind!r})"


_PID_LINE = b"fmsh-pid "

# What the remote /bin/sh runs itself: `exec exit 4` would look for a program named exit.
SHELL_BUILTINS = frozenset(
    ". : alias bg break cd command continue eval exec exit export false fg getopts hash jobs kill "
    "read readonly return set shift source test times trap true type ulimit umask unalias unset wait [".split()
)


def argv_script(argv: list[str]) -> tuple[str, bool]:
    """A command's argv as remote shell text, quoted word by word, and whether it may
    replace the shell (`exec`): not when it is one of the shell's own builtins."""
    from fmsh.expand.quote import posix_quote
    from fmsh.remote.sudo import sudo_argv

    argv = sudo_argv(argv)  # `sudo ...`: its password prompt is answered (remote/sudo.py)
    return " ".join(posix_quote(a) for a in argv), argv[0] not in SHELL_BUILTINS


def wrap(script: str, replace: bool, environment: dict[str, str] | None = None) -> str:
    """The command line sent to the remote login shell: /bin/sh reports its pid (the
    process group of everything the command starts), then runs the script (`exec` for a
    single program, so that its exit signal is the stage's). `environment` (sshd accepts
    few variables of the client's own) is given by `env` to /bin/sh itself, not exported
    from inside it: so it is in the group leader's /proc/PID/environ from the start, where
    a resumed task finds the marker (FMSH_ATTEMPT) that tells its leftovers from a
    process that reuses the pid."""
    from fmsh.expand.quote import posix_quote

    body = "printf 'fmsh-pid %s\\n' \"$$\" >&2; " + ("exec " if replace else "") + script
    if environment:
        assignments = " ".join(f"{name}={posix_quote(value)}" for name, value in environment.items())
        return f"exec env {assignments} /bin/sh -c {posix_quote(body)}"
    return "exec /bin/sh -c " + posix_quote(body)


class _Active:
    """A host whose command is running."""

    __slots__ = ("index", "channel", "stop", "stop_sent", "killed_at", "pid", "pid_told", "head", "helpers")

    def __init__(self, index: int, channel: paramiko.Channel) -> None:
        self.index = index
        self.channel = channel
        self.stop: tuple[str, str, int] | None = None  # this host's own stop (its time is up)
        self.stop_sent: float | None = None
        self.killed_at: float | None = None
        self.pid: int | None = None  # the remote process group, once reported
        self.pid_told = False  # handed to the sink's `process_started` (a task journals it)
        self.head: bytearray | None = bytearray()  # stderr until the pid line is read
        self.helpers: list[paramiko.Channel] = []  # the channels that ran `kill`

    def stderr(self, data: bytes) -> bytes:
        """Standard error with the wrapper's pid line taken out."""
        if self.head is None:
            return data
        self.head.extend(data)
        newline = self.head.find(b"\n")
        if newline == -1 and len(self.head) < 64:
            return b""
        head, self.head = bytes(self.head), None
        if newline != -1 and head.startswith(_PID_LINE) and head[len(_PID_LINE) : newline].isdigit():
            self.pid = int(head[len(_PID_LINE) : newline])
            return head[newline + 1 :]
        return head


class RemoteRun:
    def __init__(
        self,
        pool: Pool,
        settings: Settings,
        targets: list[HostTarget],
        command: str,
        stdin_fd: int | None,
        sink: Sink,
        width: int = 32,
        interrupted: Callable[[], bool] | None = None,
    ) -> None:
        if "\0" in command:
            from fmsh.runtime.errors import ShellError

            # sshd would refuse it with no word of why; no program's argv can hold one.
            raise ShellError("a remote command cannot carry a NUL byte (no argument or command line can hold one)")
        self.pool = pool
        self.settings = settings
        self.targets = targets
        self.command = command
        self.stdin_fd = stdin_fd
        self.sink = sink
        self.width = max(1, width)
        self.interrupted = interrupted  # polled: a SIGINT the shell noted
        self.results: list[HostResult | None] = [None] * len(targets)
        # (host index, (try's generation, its channel or failure)), from the workers
        self._posted: queue.SimpleQueue[tuple[int, tuple[int, object]]] = queue.SimpleQueue()
        self._done = [threading.Event() for _ in targets]
        self._started = [0.0] * len(targets)  # when each host's current try began (monotonic)
        self._try = [1] * len(targets)
        self._generation = [0] * len(targets)  # what a worker posts for an earlier try is dropped
        self._retry_at: dict[int, float] = {}  # hosts waiting out their backoff
        self._last: dict[int, HostResult] = {}  # their last try's result
        self._stop: tuple[str, str, int] | None = None  # (signal, failure class, status)
        self._wake_r, self._wake_w = os.pipe()
        self._broadcast: bytes | None = None
        self._output_closed = False
        self._remaining = len(targets)
        self.sudo: SudoResponder | None = None
        if "sudo" in command:
            from fmsh.remote.sudo import SudoResponder, uses_sudo

            self.sudo = SudoResponder() if uses_sudo(command) else None

    # --- control from other threads -----------------------------------------------------

    def request_stop(self, signal: str = "INT", kind: str = failures.INTERRUPTED, status: int = 130) -> None:
        """Stop every host (SIGINT: INT, 130; a deadline: TERM, 124). Thread-safe."""
        if self._stop is None:
            self._stop = (signal, kind, status)
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _post(self, index: int, item: tuple[int, object]) -> None:
        self._posted.put((index, item))
        self._wake()

    # --- the run ------------------------------------------------------------------------

    def run(self) -> list[HostResult]:
        """Run to the end; every host gets a result."""
        _capture_exit_signal()
        if self.stdin_fd is not None and len(self.targets) > 1:
            self._broadcast = _read_all(self.stdin_fd)
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        active: dict[int, _Active] = {}
        awaiting_status: dict[int, _Active] = {}
        settings = self.settings
        workers = ThreadPoolExecutor(min(self.width, len(self.targets)), thread_name_prefix="fmsh-connect")
        self._workers = workers
        try:
            for index, target in enumerate(self.targets):
                workers.submit(self._start_host, index, target, 0)
            while self._remaining:
                wait = 0.01 if awaiting_status else 0.2
                if self._retry_at:
                    wait = max(0.0, min(wait, min(self._retry_at.values()) - time.monotonic()))
                for key, _ in selector.select(wait):
                    if key.data is None:
                        os.read(self._wake_r, 4096)
                        continue
                    host = active.get(key.data)
                    if host is not None and self._pump(host):
                        selector.unregister(host.channel)
                        del active[key.data]
                        awaiting_status[key.data] = host
                self._take_posted(selector, active)
                for index, host in list(awaiting_status.items()):
                    if self._finished(host):
                        del awaiting_status[index]
                if self._stop is None and self.interrupted is not None and self.interrupted():
                    self.request_stop()
                now = time.monotonic()
                if self._stop is None and settings.stage_deadline is not None and now > settings.stage_deadline:
                    self.request_stop(settings.stop_signal, failures.TIMEOUT, 124)
                running = list(active.values()) + list(awaiting_status.values())
                if settings.step_timeout is not None and self._stop is None:
                    self._time_up(running, now)
                self._stopping(running, now)
                for index, host in list(active.items()):
                    if host.channel.closed:  # given up on (no answer to TERM, then KILL)
                        for key in list(selector.get_map().values()):
                            if key.data == index:
                                selector.unregister(key.fd)
                        del active[index]
                        awaiting_status[index] = host
                if self._stop is not None:
                    self._give_up_retries()
                    if not active and not awaiting_status:
                        self._stop_unstarted()
                elif self._retry_at:
                    self._start_retries(now)
                self.sink.tick()
        finally:
            workers.shutdown(wait=False, cancel_futures=True)
            for event in self._done:
                event.set()
            selector.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
        results = [r for r in self.results if r is not None]
        self.sink.finish(results)
        return results

    # --- workers: connect and start -----------------------------------------------------

    def _start_host(self, index: int, target: HostTarget, generation: int) -> None:
        """In a worker thread: connect, start the command, then hold the slot until done."""
        self._started[index] = time.monotonic()
        done = self._done[index]
        try:
            if self._stop is not None:
                raise HostFailure(self._stop[1], "stopped before it started")
            if target.failure is not None:
                raise target.failure
            assert target.config is not None
            channel = self._open_channel(target.config)
            self._feed_stdin(channel)
            self._post(index, (generation, channel))
        except HostFailure as failure:
            self._post(index, (generation, failure))
            return
        except Exception as e:  # noqa: BLE001 - every failure becomes a class
            self._post(index, (generation, failures.classify_connect_error(e)))
            return
        done.wait()

    def _open_channel(self, config: HostConfig) -> paramiko.Channel:
        """A session running the command. A kept connection may have died since its last
        use without anyone noticing yet: then it is replaced, once."""
        for attempt in (1, 2):
            transport = self.pool.transport(config, self.settings)
            if self._stop is not None:
                raise HostFailure(self._stop[1], "stopped before it started")
            try:
                channel = transport.open_session(timeout=self.settings.connect_timeout)
                # Bytes that are not UTF-8 (a file name) are in the text as surrogates
                # (surrogateescape): they go out as the same bytes.
                channel.exec_command(self.command.encode("utf-8", "surrogateescape"))
                return channel
            except Exception as e:  # noqa: BLE001 - classified
                if attempt == 1 and not transport.is_active():
                    self.pool.discard(config)
                    continue
                if attempt == 1 and self.pool.was_reused(transport):
                    self.pool.discard(config)
                    continue
                raise HostFailure(failures.CHANNEL, f"cannot start the command ({e})") from None
        raise AssertionError("unreachable")

    def _feed_stdin(self, channel: paramiko.Channel, held: bool = True) -> None:
        if held and self.sudo is not None:
            self.sudo.hold(channel, lambda: self._feed_stdin(channel, held=False))
            return
        if self.stdin_fd is None:
            channel.shutdown_write()
            return
        data = self._broadcast
        if data == b"":
            _send_all(channel, data)  # nothing to send (as from /dev/null): no thread for it
            return
        target = _send_all if data is not None else _stream
        thread = threading.Thread(
            target=target, args=(channel, data if data is not None else self.stdin_fd), daemon=True
        )
        thread.start()

    # --- the loop -----------------------------------------------------------------------

    def _take_posted(self, selector: selectors.BaseSelector, active: dict[int, _Active]) -> None:
        while True:
            try:
                index, (generation, item) = self._posted.get_nowait()
            except queue.Empty:
                return
            stale = generation != self._generation[index] or self.results[index] is not None
            if isinstance(item, HostFailure):
                if stale:
                    continue
                status = (
                    self._stop[2] if item.kind == failures.INTERRUPTED and self._stop else failures.CONNECTION_STATUS
                )
                self._host_ended(index, HostResult(self.targets[index].name, status, item.kind, item.message))
                continue
            if stale:  # stopped, or timed out, while it was starting
                item.close()  # type: ignore[attr-defined]
                continue
            host = _Active(index, item)  # type: ignore[arg-type]
            active[index] = host
            selector.register(host.channel, selectors.EVENT_READ, index)

    def _pump(self, host: _Active) -> bool:
        """Move what a channel has to the sink; True when its streams have ended."""
        channel = host.channel
        try:
            while channel.recv_ready():
                data = channel.recv(65536)
                if self.sudo is not None:
                    self.sudo.stdout(channel)
                if not self._output_closed:
                    self.sink.data(host.index, 1, data)
            while channel.recv_stderr_ready():
                data = host.stderr(channel.recv_stderr(65536))
                if self.sudo is not None and data:
                    data = self.sudo.stderr(host.index, channel, data)
                if host.pid is not None and not host.pid_told:
                    self._process_started(host)
                if data and not self._output_closed:
                    self.sink.data(host.index, 2, data)
        except BrokenPipeError:
            # The reader went away: as a local command would die of SIGPIPE, stop this one.
            self._output_closed = True
            self.request_stop("PIPE", failures.SIGNAL, 141)
        except Exception as e:
            from paramiko.ssh_exception import SSHException

            if not isinstance(e, SSHException):
                raise
            # paramiko gave up on the connection (a key exchange that timed out): this
            # host is lost, with what it sent so far; the shell and the others go on.
            transport = channel.get_transport()
            if transport is not None:
                transport.close()
            channel.close()
            return True
        return bool(channel.eof_received or channel.closed)

    def _process_started(self, host: _Active) -> None:
        """A task's sink journals the remote process group of each try (a resumed task
        stops it if the shell dies); other sinks do not have the method."""
        host.pid_told = True
        started = getattr(self.sink, "process_started", None)
        if started is not None and host.pid is not None:
            started(host.index, self._try[host.index], host.pid)

    def _finished(self, host: _Active) -> bool:
        """Record the host's end once its exit status (or its channel's end) is known."""
        channel = host.channel
        self._pump(host)
        name = self.targets[host.index].name
        if host.head:  # a short stderr that never had the pid line: it is the command's
            self.sink.data(host.index, 2, bytes(host.head))
            host.head = None
        if self.sudo is not None and (rest := self.sudo.flush(host.index)):
            self.sink.data(host.index, 2, rest)
        stop = host.stop or self._stop
        if stop is not None and host.stop_sent is not None and (channel.exit_status_ready() or channel.closed):
            _, kind, status = stop
            why = f"ran past its {self.settings.step_timeout:g}s" if host.stop is not None else "stopped"
            result = HostResult(name, status, kind, why)
        elif getattr(channel, "fmsh_signal", None):
            signal_name = channel.fmsh_signal  # type: ignore[attr-defined]
            result = HostResult(
                name, 128 + _SIGNALS.get(signal_name, 0), failures.SIGNAL, f"killed by SIG{signal_name}"
            )
        elif channel.exit_status_ready() and channel.exit_status >= 0:
            status = channel.exit_status
            result = HostResult(
                name, status, None if status == 0 else failures.EXIT, f"exit {status}" if status else ""
            )
        elif channel.closed:
            transport = channel.get_transport()
            lost = transport is None or not transport.is_active()
            why = "the connection was lost" if lost else "the channel closed without an exit status"
            result = HostResult(name, failures.CONNECTION_STATUS, failures.LOST, why)
        else:
            return False
        if self.sudo is not None:
            result = self.sudo.outcome(host.index, result)
        channel.close()
        for helper in host.helpers:
            helper.close()
        self._host_ended(host.index, result)
        return True

    # --- each host's clock and tries ----------------------------------------------------

    def _time_up(self, running: list[_Active], now: float) -> None:
        """Stop the hosts whose try ran out of time; and fail the ones still connecting."""
        limit = self.settings.step_timeout
        assert limit is not None
        stop = (self.settings.stop_signal, failures.TIMEOUT, 124)
        busy = set()
        for host in running:
            busy.add(host.index)
            if host.stop is None and now - self._started[host.index] > limit:
                host.stop = stop
        for index, result in enumerate(self.results):
            started = self._started[index]
            if result is None and index not in busy and index not in self._retry_at and started:
                if now - started > limit:
                    self._generation[index] += 1  # its worker's channel, when it comes, is closed
                    name = self.targets[index].name
                    self._host_ended(index, HostResult(name, 124, failures.TIMEOUT, f"not connected within {limit:g}s"))

    def _host_ended(self, index: int, result: HostResult) -> None:
        """A try ended: journal it, and try again after the backoff, or record the end."""
        settings = self.settings
        attempt = self._try[index]
        if settings.on_try is not None:
            settings.on_try(index, attempt, result, self._started[index])
        if self._retries(result) and attempt < settings.tries:
            assert settings.backoff is not None
            self._try[index] = attempt + 1
            self._generation[index] += 1
            self._started[index] = 0.0
            self._last[index] = result
            done, self._done[index] = self._done[index], threading.Event()
            done.set()  # the worker lets its slot go
            self._retry_at[index] = time.monotonic() + settings.backoff.wait(attempt)
            return
        self._record(index, result)

    def _retries(self, result: HostResult) -> bool:
        if result.kind is None or self._stop is not None:
            return False
        on = self.settings.retry_on
        if on is not None:
            return result.status in on
        # Trying again cannot change a name that does not resolve, a refused key or host key.
        return result.kind not in (failures.INTERRUPTED, failures.RESOLVE, failures.HOST_KEY, failures.AUTH)

    def _start_retries(self, now: float) -> None:
        for index, at in list(self._retry_at.items()):
            if at <= now:
                del self._retry_at[index]
                self._workers.submit(self._start_host, index, self.targets[index], self._generation[index])

    def _give_up_retries(self) -> None:
        """A stop came: the hosts waiting to try again end with their last try's result."""
        for index in list(self._retry_at):
            del self._retry_at[index]
            self._record(index, self._last[index])

    def _stop_unstarted(self) -> None:
        """Hosts still connecting or queued when a stop came: they never run the command
        (their workers check before starting it), and nobody waits for their handshake."""
        assert self._stop is not None
        _, kind, status = self._stop
        for index, result in enumerate(self.results):
            if result is None:
                self._record(index, HostResult(self.targets[index].name, status, kind, "stopped before it started"))

    def _record(self, index: int, result: HostResult) -> None:
        if self.results[index] is not None:
            return
        self._remaining -= 1
        self.results[index] = result
        self.sink.host_done(index, result)
        self._done[index].set()

    def _stopping(self, hosts: list[_Active], now: float) -> None:
        """Escalate, host by host: the stop signal, then KILL, then give up on the channel."""
        for host in hosts:
            stop = host.stop or self._stop
            if stop is None or self.results[host.index] is not None:
                continue
            if host.stop_sent is None:
                host.stop_sent = now
                _signal_later(host, stop[0])
            elif host.killed_at is None and now - host.stop_sent > self.settings.kill_after:
                host.killed_at = now
                _signal_later(host, "KILL")
            elif host.killed_at is not None and now - host.killed_at > _GRACE:
                host.channel.close()


def _signal_later(host: _Active, name: str) -> None:
    """Signal from a thread of its own: a host that does not answer (stopped, cut off)
    must not hold up the loop that serves the others while its helper channel opens."""
    threading.Thread(target=_signal, args=(host, name), name="fmsh-signal", daemon=True).start()


def _signal(host: _Active, name: str) -> None:
    """Signal the host's remote process group: by `kill` over a second channel when the
    wrapper reported the pid, else by an SSH signal request (which sshd may refuse)."""
    if host.pid is None:
        send_signal(host.channel, name)
        return
    transport = host.channel.get_transport()
    try:
        helper = transport.open_session(timeout=5)  # type: ignore[union-attr]
        # Through /bin/sh: its kill takes -PID for a process group (dash has no `--`).
        helper.exec_command(f"exec /bin/sh -c 'kill -{name} -{host.pid} 2>/dev/null'")
        host.helpers.append(helper)
    except Exception:  # noqa: BLE001 - a lost connection: its commands get SIGHUP'd by sshd or not at all
        send_signal(host.channel, name)


def send_signal(channel: paramiko.Channel, name: str) -> None:
    """An SSH "signal" channel request (RFC 4254 6.9); sshd signals the process group."""
    from paramiko.common import cMSG_CHANNEL_REQUEST
    from paramiko.message import Message

    message = Message()
    message.add_byte(cMSG_CHANNEL_REQUEST)
    message.add_int(channel.remote_chanid)
    message.add_string("signal")
    message.add_boolean(False)
    message.add_string(name)
    try:
        channel.transport._send_user_message(message)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - a dead connection cannot be signalled; it is lost anyway
        pass


def _capture_exit_signal() -> None:
    """paramiko drops the "exit-signal" request; keep its signal name on the channel (a
    command killed by a signal has status 128 + N). The transport dispatches channel
    requests through a class-level table, so the hook goes there, once."""
    import paramiko
    from paramiko.common import MSG_CHANNEL_REQUEST

    table = paramiko.Transport._channel_handler_table
    original = table[MSG_CHANNEL_REQUEST]
    if getattr(original, "fmsh_hook", False):
        return

    def handle(channel: paramiko.Channel, message: paramiko.Message) -> None:
        start = message.packet.tell()
        if message.get_text() == "exit-signal":
            message.get_boolean()
            channel.fmsh_signal = message.get_text()  # type: ignore[attr-defined]
            channel.status_event.set()
            return
        message.packet.seek(start)
        original(channel, message)

    handle.fmsh_hook = True  # type: ignore[attr-defined]
    table[MSG_CHANNEL_REQUEST] = handle


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _stream(channel: paramiko.Channel, fd: int) -> None:
    """Standard input to one host, as it comes."""
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            channel.sendall(chunk)
        channel.shutdown_write()
    except (OSError, EOFError):
        pass  # the command ended before reading all of it


def _send_all(channel: paramiko.Channel, data: bytes) -> None:
    try:
        if data:
            channel.sendall(data)
        channel.shutdown_write()
    except (OSError, EOFError):
        pass
