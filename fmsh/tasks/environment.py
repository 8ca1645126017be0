"""The environment a task started with: journaled without its secrets, restored on resume.

A variable whose name says it holds a secret (…SECRET…, …TOKEN…, …PASSWORD…, …_KEY, …),
or that `secret` marked, is never written to the journal: only its name is, and a resumed
task takes its value from the environment of the shell that resumes it (and says so if it
is missing there). The same names make a variable from the environment a secret whose
value is masked wherever fmsh writes (fmsh/runtime/secrets.py).
Variables that belong to the session rather than to the task (the ssh-agent socket, the
terminal, the display, fmsh's own journal settings) also come from the resuming shell.
"""

from __future__ import annotations

import re

_SECRET = re.compile(
    r"SECRET|TOKEN|PASSW|PASSPHRASE|CREDENTIAL|PRIVATE|COOKIE|SESSION|API_?KEY|ACCESS_?KEY|(^|_)KEY($|_)|"
    r"(^|_)AUTH($|_)(?!SOCK)|_PAT$|^PAT$|SIGNATURE|SALT",
    re.IGNORECASE,
)
_SESSION = frozenset(
    [
        "SSH_AUTH_SOCK", "SSH_AGENT_PID", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY", "TERM", "COLORTERM",
        "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "COLUMNS", "LINES",
        "TMUX", "TMUX_PANE", "STY", "WINDOWID", "FMSH_JOURNAL", "FMSH_JOURNAL_TIMEOUT", "FMSH_JOURNAL_SYNC",
        "FMSH_LEASE", "FMSH_TASK_ID", "FMSH_STEP", "SHLVL", "OLDPWD", "PWD", "_",
        # The desktop session's, not secrets (their values, `user` or `wayland`, must not be masked):
        "XDG_SESSION_ID", "XDG_SESSION_TYPE", "XDG_SESSION_CLASS", "XDG_SESSION_DESKTOP", "DESKTOP_SESSION",
        "SESSION_MANAGER",
    ]
)  # fmt: skip


def is_secret(name: str) -> bool:
    """Whether NAME, by its name alone, holds a secret."""
    return name not in _SESSION and _SECRET.search(name) is not None


def _marked(name: str) -> bool:
    from fmsh.runtime import secrets

    return is_secret(name) or secrets.is_secret(name)


def journaled(environ: dict[str, str]) -> list[tuple[str, int, str]]:
    """The bindings to journal: `env:NAME` with its value, `secret:NAME` with none."""
    out: list[tuple[str, int, str]] = []
    for name, value in sorted(environ.items()):
        if name in _SESSION:
            continue
        if _marked(name):
            out.append((f"secret:{name}", 0, ""))
        else:
            out.append((f"env:{name}", 0, value))
    return out


def restore(bindings: list[tuple[str, int, str]], current: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The environment to resume with, and the secrets that are missing from it."""
    environ: dict[str, str] = {}
    missing: list[str] = []
    for name, _, value in bindings:
        kind, _, var = name.partition(":")
        if kind == "env":
            environ[var] = value
        elif kind == "secret":
            if var in current:
                environ[var] = current[var]
            else:
                missing.append(var)
    for name in _SESSION:
        if name in current:
            environ[name] = current[name]
    environ.pop("FMSH_TASK_ID", None)
    environ.pop("FMSH_STEP", None)
    return environ, missing
