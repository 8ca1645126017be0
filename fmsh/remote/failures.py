"""Why a host failed, in a word a person can act on. Never folded into "255"."""

from __future__ import annotations

import socket

RESOLVE = "resolve"  # the name does not resolve
REFUSED = "refused"  # nothing listens there
CONNECT_TIMEOUT = "connect-timeout"  # no SSH banner or handshake in time
PROTOCOL = "protocol"  # the server does not speak SSH, or shares no algorithm with fmsh
HOST_KEY = "host-key"  # unknown, changed or revoked host key
AUTH = "auth"  # no key was accepted
CHANNEL = "channel"  # connected, but the server refused the session or command
EXIT = "exit"  # the command ran and exited non-zero
SIGNAL = "signal"  # the command was killed by a signal
TIMEOUT = "timeout"  # the command ran past its deadline
LOST = "lost"  # the connection went away while the command ran
INTERRUPTED = "interrupted"  # stopped by SIGINT

# The status a host gets when it never ran the command (ssh's convention).
CONNECTION_STATUS = 255


class HostFailure(Exception):
    """A failure before or around the command, with its class."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def classify_connect_error(error: BaseException) -> HostFailure:
    """The class of an exception raised while connecting."""
    if isinstance(error, HostFailure):
        return error
    if isinstance(error, socket.gaierror):
        return HostFailure(RESOLVE, f"name does not resolve ({error.strerror})")
    if isinstance(error, ConnectionRefusedError):
        return HostFailure(REFUSED, "connection refused")
    if isinstance(error, (socket.timeout, TimeoutError)):
        return HostFailure(CONNECT_TIMEOUT, "no answer in time")
    name = type(error).__name__
    text = str(error) or name
    if name in ("AuthenticationException", "BadAuthenticationType", "PasswordRequiredException"):
        return HostFailure(AUTH, f"authentication failed ({text})")
    if name == "ChannelException":
        return HostFailure(CHANNEL, f"channel refused ({text})")
    if name == "IncompatiblePeer" or text.startswith(_NOT_SSH):
        return HostFailure(PROTOCOL, f"not an SSH server, or none fmsh can talk to ({_shown(text)})")
    if text.startswith("Error reading SSH protocol banner"):
        # paramiko's words for a server that hung up and for one that went quiet after
        # lines that were not its version: what it caught tells them apart.
        if isinstance(error.__context__, (socket.timeout, TimeoutError)):
            return HostFailure(CONNECT_TIMEOUT, "no SSH version line: the server sent other lines, then nothing")
        return HostFailure(REFUSED, "the server closed the connection before its SSH version line")
    if "banner" in text.lower() and "timeout" in text.lower() or "timed out" in text.lower():
        return HostFailure(CONNECT_TIMEOUT, "no SSH banner in time")
    if isinstance(error, (ConnectionResetError, EOFError, BrokenPipeError)) or "reset" in text.lower():
        return HostFailure(REFUSED, f"connection closed during the handshake ({text})")
    if isinstance(error, OSError) and error.errno is not None:
        return HostFailure(REFUSED, f"cannot connect ({error.strerror})")
    return HostFailure(LOST, text)


# How paramiko begins the errors of a server whose first words are not SSH's.
_NOT_SSH = ("Indecipherable protocol version", "Invalid SSH banner", "Incompatible version")


def _shown(text: str, limit: int = 200) -> str:
    """A server's words in a message: printable, one line, not too long."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[:limit] + "..."
