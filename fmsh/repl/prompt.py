"""The prompt's text.

Without PS1: the working directory (~ for $HOME), the last status when it is not 0 (`[1]`),
the number of tasks running on this machine when there are any (`2 tasks`), `user@host:`
in front inside SSH ($SSH_CONNECTION), then `$ ` (`# ` for root).

PS1, when set, is the text with bash's backslash escapes: \\u user, \\h host (to the first
dot), \\H host, \\w directory (~ for $HOME), \\W its last component, \\$ (`#` for root, else
`$`), \\t time (HH:MM:SS), \\n newline, \\e escape (for colours), \\a bell, \\\\ backslash;
\\[ and \\] are dropped. Parameters ($x, $(...)) are not expanded. PS2 is the continuation
prompt (default `> `). The result is text with ANSI escapes, for prompt_toolkit's ANSI().
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell

BOLD_BLUE = "\x1b[1;34m"
RED = "\x1b[31m"
YELLOW = "\x1b[33m"
GREEN = "\x1b[32m"
RESET = "\x1b[0m"


def _user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _host() -> str:
    return os.uname().nodename


def _cwd(shell: Shell) -> str:
    cwd = shell.vars.get("PWD") or os.getcwd()
    home = shell.vars.get("HOME")
    if home and home != "/" and (cwd == home or cwd.startswith(home.rstrip("/") + "/")):
        return "~" + cwd[len(home.rstrip("/")) :]
    return cwd


def _dollar() -> str:
    return "#" if os.getuid() == 0 else "$"


def prompt_text(shell: Shell, tasks: RunningTasks) -> str:
    ps1 = shell.vars.get("PS1")
    if ps1:
        return expand_escapes(ps1, shell)
    parts = []
    if shell.vars.get("SSH_CONNECTION"):
        parts.append(f"{GREEN}{_user()}@{_host().split('.')[0]}{RESET}:")
    parts.append(f"{BOLD_BLUE}{_cwd(shell)}{RESET}")
    if shell.last_status:
        parts.append(f" {RED}[{shell.last_status}]{RESET}")
    running = tasks.count(shell)
    if running:
        parts.append(f" {YELLOW}{running} task{'s' if running > 1 else ''}{RESET}")
    parts.append(f" {_dollar()} ")
    return "".join(parts)


def continuation_text(shell: Shell) -> str:
    ps2 = shell.vars.get("PS2")
    return expand_escapes(ps2, shell) if ps2 is not None else "> "


def expand_escapes(text: str, shell: Shell) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 == len(text):
            out.append(c)
            i += 1
            continue
        e = text[i + 1]
        i += 2
        if e == "u":
            out.append(_user())
        elif e == "h":
            out.append(_host().split(".")[0])
        elif e == "H":
            out.append(_host())
        elif e == "w":
            out.append(_cwd(shell))
        elif e == "W":
            cwd = _cwd(shell)
            out.append(cwd if cwd in ("/", "~") else os.path.basename(cwd.rstrip("/")))
        elif e == "$":
            out.append(_dollar())
        elif e == "t":
            out.append(time.strftime("%H:%M:%S"))
        elif e == "n":
            out.append("\n")
        elif e == "e":
            out.append("\x1b")
        elif e == "a":
            out.append("\a")
        elif e == "\\":
            out.append("\\")
        elif e in "[]":
            pass
        else:
            out.append("\\" + e)
    return "".join(out)


class RunningTasks:
    """How many tasks of the journal are running, owned by this machine. Asked again only
    when the journal file changed or a few seconds went by (a lease can expire with no
    write), so that a prompt costs a stat() most of the time."""

    RECHECK = 5.0

    def __init__(self) -> None:
        self._key: tuple[str, float, float] | None = None
        self._at = 0.0
        self._count = 0

    def count(self, shell: Shell) -> int:
        environ = {
            name: shell.vars.get(name) or ""
            for name in ("FMSH_JOURNAL", "HOME", "XDG_STATE_HOME", "FMSH_JOURNAL_TIMEOUT")
        }
        if environ["FMSH_JOURNAL"] == "none":
            return 0
        from fmsh.journal import journal_path

        path = journal_path(environ)
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return 0  # no journal yet: no tasks, and nothing to import
        try:
            wal = os.stat(path + "-wal").st_mtime
        except OSError:
            wal = 0.0
        key = (path, mtime, wal)
        now = time.monotonic()
        if key == self._key and now - self._at < self.RECHECK:
            return self._count
        self._key, self._at = key, now
        self._count = _query(environ)
        return self._count


def _query(environ: dict[str, str]) -> int:
    """Read-only; any trouble with the journal means no count (the prompt must appear)."""
    try:
        from fmsh.journal import open_journal
        from fmsh.tasks.owner import this_process
        from fmsh.tasks.views import shown_status

        environ = {**environ, "FMSH_JOURNAL_TIMEOUT": "0.2"}  # a busy journal must not hold the prompt
        journal = open_journal(environ, create=False)
        if journal is None:
            return 0
        try:
            here = this_process()
            tasks = journal.tasks(["running"])
            return sum(1 for t in tasks if t.owner_host == here.host and shown_status(t, here) == "running")
        finally:
            journal.close()
    except Exception:  # noqa: BLE001 - a broken journal is reported by `tasks`, not by the prompt
        return 0
