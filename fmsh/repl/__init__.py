"""The interactive shell: the prompt (prompt_toolkit) on a terminal, a plain line reader
otherwise (`fmsh -i` with a pipe on standard input).

Nothing heavy is imported here: `fmsh -c CMD` and the `history` builtin (which imports
fmsh.repl.history) must not pay for prompt_toolkit.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell


def run_repl(shell: Shell, norc: bool = False) -> int:
    """Read and run command lines until end of input or `exit`; the shell's exit status."""
    if os.isatty(0) and os.isatty(1):
        from fmsh.repl.session import run_prompt

        return run_prompt(shell, norc)
    from fmsh.repl.plain import run_plain

    return run_plain(shell, norc)
