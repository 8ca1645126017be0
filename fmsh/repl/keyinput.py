"""The terminal's input for the prompt: prompt_toolkit's, except that a run of plain
characters read at once (a paste in a terminal without bracketed paste, or text typed
ahead while a command ran) becomes one insertion instead of one key press each.

prompt_toolkit handles each key press through its key bindings (~0.2 ms), then inserts
one character into a new copy of the line: a megabyte pasted unbracketed took many
minutes. Enter, escape sequences and control keys in the run stay key presses of their
own, so a pasted line still runs when its newline comes.
"""

from __future__ import annotations

from prompt_toolkit.input.vt100 import Vt100Input
from prompt_toolkit.key_binding.key_processor import KeyPress
from prompt_toolkit.keys import Keys

# Shorter runs stay key presses (typing is never this fast; a few keys typed ahead keep
# their usual handling).
RUN = 16


class CoalescingInput(Vt100Input):
    def read_keys(self) -> list[KeyPress]:
        return coalesce(super().read_keys())

    def flush_keys(self) -> list[KeyPress]:
        return coalesce(super().flush_keys())


def _plain(key: KeyPress) -> bool:
    return isinstance(key.key, str) and key.key == key.data and len(key.data) == 1 and key.data.isprintable()


def coalesce(keys: list[KeyPress]) -> list[KeyPress]:
    if len(keys) < RUN:
        return keys
    out: list[KeyPress] = []
    run: list[str] = []

    def close_run() -> None:
        if len(run) >= RUN:
            out.append(KeyPress(Keys.BracketedPaste, "".join(run)))
        else:
            out.extend(KeyPress(c, c) for c in run)
        run.clear()

    for key in keys:
        if _plain(key):
            run.append(key.data)
        else:
            close_run()
            out.append(key)
    close_run()
    return out
