"""What both readers share: the rc file, and running one line under the containment that
keeps the interactive shell alive (errors, Ctrl-C, `exit`)."""

from __future__ import annotations

import os
from collections.abc import Callable

from fmsh.interp.shell import Shell, write_fd
from fmsh.runtime.errors import ExitShell, Interrupted, ShellError


def rc_path(shell: Shell) -> str:
    """$XDG_CONFIG_HOME/fmsh/rc, else ~/.config/fmsh/rc."""
    config = shell.vars.get("XDG_CONFIG_HOME") or os.path.join(shell.vars.get("HOME") or "~", ".config")
    return os.path.join(config, "fmsh", "rc")


def source_rc(shell: Shell) -> bool:
    """Source the rc file if there is one; False when it ran `exit`."""
    path = rc_path(shell)
    if not os.path.isfile(path):
        return True
    return contained(shell, lambda: shell.source_file(path, None)) is not None


def contained(shell: Shell, action: Callable[[], int]) -> int | None:
    """Run one line; its status, or None when it asked the shell to exit."""
    try:
        return action()
    except ExitShell as e:
        shell.last_status = e.status
        return None
    except Interrupted:
        write_fd(2, "\n")
        shell.last_status = 130
    except ShellError as e:
        shell.report(e.message)
        shell.last_status = e.status
    return shell.last_status
