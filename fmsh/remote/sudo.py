"""Answering sudo's password prompt on remote hosts, as Fabric does.

A remote stage whose command is `sudo ARGS` runs as `sudo -S -p PROMPT ARGS`: sudo reads
the password from standard input and asks with PROMPT, a string unique to this process,
on standard error. When PROMPT arrives there, fmsh writes the password (the secret
variable SUDO_PASSWORD; at a terminal, asked once per session without echo) and a newline
to the channel, and takes PROMPT out of the output. It answers once per host: a second
PROMPT (the password was refused) fails the host, class `auth`, and never loops.

Until sudo has asked (or has shown that it will not: its command's first output, or
HOLD_SECONDS without a prompt), the stage's own standard input is held back, so that sudo
does not take a line of it for the password.
"""

from __future__ import annotations

import os
import secrets as random_tokens
import threading

from fmsh.remote import failures

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    import paramiko

    from fmsh.remote.run import HostResult

PASSWORD_VARIABLE = "SUDO_PASSWORD"
PROMPT = f"[fmsh-sudo-{random_tokens.token_hex(6)}] password: "
HOLD_SECONDS = 3.0
# sudo's own options that decide how it gets a password: then it is left as written.
_OWN_WAY = frozenset(["-S", "--stdin", "-A", "--askpass", "-n", "--non-interactive", "-p", "--prompt"])

_asked: str | None = None  # the password typed at the terminal, for the rest of the session
_ask_lock = threading.Lock()


def sudo_argv(argv: list[str]) -> list[str]:
    """`sudo ARGS` as fmsh runs it remotely (other commands unchanged)."""
    if not argv or argv[0] != "sudo" or any(a in _OWN_WAY for a in argv[1:]):
        return argv
    return ["sudo", "-S", "-p", PROMPT, *argv[1:]]


def uses_sudo(command: str) -> bool:
    return PROMPT in command


def password() -> str | None:
    """SUDO_PASSWORD (when not empty), else (at a terminal) asked once without echo, else None."""
    global _asked
    from fmsh.runtime import secrets

    given = secrets.value(PASSWORD_VARIABLE)
    if given:  # set and empty is no password, as unset
        return given
    with _ask_lock:
        if _asked is None and _at_terminal():
            import getpass

            try:
                typed = getpass.getpass("sudo password (remote hosts): ")
            except (EOFError, OSError):
                return None
            secrets.add_value(typed)
            _asked = typed
        return _asked


def _at_terminal() -> bool:
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


class SudoResponder:
    """The prompts of one remote stage's hosts: answered, hidden, refused once."""

    def __init__(self) -> None:
        self.prompt = PROMPT.encode()
        self._lock = threading.Lock()
        self._carry: dict[int, bytes] = {}  # stderr that may be the start of a prompt
        self._answered: set[int] = set()
        self._failed: dict[int, str] = {}
        self._held: dict[int, Callable[[], None]] = {}  # id(channel) -> start its stdin

    # --- standard input -----------------------------------------------------------------

    def hold(self, channel: paramiko.Channel, release: Callable[[], None]) -> None:
        """Keep the stage's stdin (`release` starts it) until sudo has asked or will not."""
        with self._lock:
            self._held[id(channel)] = release
        timer = threading.Timer(HOLD_SECONDS, self.release, (channel,))
        timer.daemon = True
        timer.start()

    def release(self, channel: paramiko.Channel) -> None:
        with self._lock:
            release = self._held.pop(id(channel), None)
        if release is not None:
            try:
                release()
            except Exception:  # noqa: BLE001 - a channel that closed meanwhile needs no input
                pass

    def stdout(self, channel: paramiko.Channel) -> None:
        """The command printed: sudo let it run, its input can flow."""
        if id(channel) in self._held:
            self.release(channel)

    # --- standard error -----------------------------------------------------------------

    def stderr(self, index: int, channel: paramiko.Channel, data: bytes) -> bytes:
        """`data` without sudo's prompts, each answered (the first) or refused (later)."""
        data = self._carry.pop(index, b"") + data
        out = bytearray()
        while True:
            found = data.find(self.prompt)
            if found == -1:
                break
            out += data[:found]
            data = data[found + len(self.prompt) :]
            self._answer(index, channel)
        keep = _partial_prompt(data, self.prompt)
        if keep:
            self._carry[index] = data[-keep:]
            data = data[:-keep]
        out += data
        return bytes(out)

    def flush(self, index: int) -> bytes:
        return self._carry.pop(index, b"")

    def _answer(self, index: int, channel: paramiko.Channel) -> None:
        if index in self._answered or index in self._failed:
            self._failed[index] = "sudo refused the password (SUDO_PASSWORD)"
            self._close_input(channel)
            return
        self._answered.add(index)
        given = password()
        if given is None:
            self._failed[index] = f"sudo asks for a password: set {PASSWORD_VARIABLE} (`secret {PASSWORD_VARIABLE}`)"
            self._close_input(channel)
            return
        try:
            channel.sendall((given + "\n").encode("utf-8", "surrogateescape"))
        except Exception:  # noqa: BLE001 - the channel closed: its end says what happened
            pass
        self.release(channel)

    def _close_input(self, channel: paramiko.Channel) -> None:
        with self._lock:
            self._held.pop(id(channel), None)
        try:
            channel.shutdown_write()
        except Exception:  # noqa: BLE001 - already closed
            pass

    # --- the host's end -----------------------------------------------------------------

    def outcome(self, index: int, result: HostResult) -> HostResult:
        """The host's result, an `auth` failure when sudo did not take the password."""
        why = self._failed.get(index)
        if why is None or result.status == 0:
            return result
        from fmsh.remote.run import HostResult

        return HostResult(result.name, result.status, failures.AUTH, why)


def _partial_prompt(data: bytes, prompt: bytes) -> int:
    """How many bytes at the end of `data` could be the start of `prompt`."""
    for size in range(min(len(prompt) - 1, len(data)), 0, -1):
        if data.endswith(prompt[:size]):
            return size
    return 0
