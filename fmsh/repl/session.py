"""The prompt on a terminal: a prompt_toolkit PromptSession with fmsh's keys, history in
SQLite (history.py), completion (complete.py) and highlighting (highlight.py).

Keys beyond prompt_toolkit's Emacs defaults:
    Enter       runs the line when it is complete; inside an open quote, an `if` without
                `fi`, after a trailing `|`..., inserts a newline (continuation prompt)
    Alt-Enter   (or Escape then Enter) always inserts a newline
    Ctrl-D      on an empty line: exit; at the end of an unfinished line: the syntax
                error, and a new prompt
    Ctrl-C      drops the line, new prompt ($? is 130)
    Ctrl-R      reverse search in the history; Enter runs the line found
    Right       at the end of the line: accepts the grey suggestion from the history

Importing prompt_toolkit costs ~100 ms. So that the prompt shows at once, it is drawn first
with plain writes (the terminal already set raw, so keys typed meanwhile wait in its
buffer, unseen), then prompt_toolkit is imported and draws the same prompt over it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from fmsh.interp.shell import Shell, write_fd
from fmsh.repl.history import HistoryError, HistoryStore, history_path, history_variables, prompt_history
from fmsh.repl.prompt import RunningTasks, continuation_text, prompt_text
from fmsh.repl.runner import contained, source_rc
from fmsh.runtime.errors import Interrupted
from fmsh.syntax.errors import IncompleteInput, ParseError

HUGE = 50_000  # characters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.key_binding import KeyBindings


def run_prompt(shell: Shell, norc: bool = False) -> int:
    from fmsh.runtime import signals

    # Some terminals never answer prompt_toolkit's cursor-position request; it then waits.
    os.environ["PROMPT_TOOLKIT_NO_CPR"] = "1"
    if not norc and not source_rc(shell):
        return shell.finish(shell.last_status)
    tasks = RunningTasks()
    first = _safe_prompt(shell, tasks)
    saved = _paint_early(first)
    # Ctrl-C is a key from here on (the terminal is raw); a SIGINT sent by another process
    # must not cut an import in half.
    handler = signals.get_handler(signals.SIGINT)
    signals.set_handler(signals.SIGINT, signals.SIG_IGN)
    store = HistoryStore(history_path(history_variables(shell)))
    try:
        session = _make_session(shell, store)
    except BaseException:
        _restore_terminal(saved)
        raise
    finally:
        signals.set_handler(signals.SIGINT, handler)
    repl = Repl(shell, session, store, tasks)
    repl.loop(first, lambda: _restore_terminal(saved))
    repl.close()
    return shell.finish(shell.last_status)


class Repl:
    """The read-run loop and the history rows it writes."""

    def __init__(self, shell: Shell, session: PromptSession[str], store: HistoryStore, tasks: RunningTasks) -> None:
        self.shell = shell
        self.session = session
        self.tasks = tasks
        self.store: HistoryStore | None = store  # None once it proved unusable
        self.session_id = f"{os.getpid()}-{int(time.time())}"
        self.host = os.uname().nodename

    def loop(self, first: str, after_first: Callable[[], None]) -> None:
        """`after_first`: run once the first prompt has been read (it gives the terminal
        back the settings that the early prompt changed, and that prompt_toolkit restores)."""
        from prompt_toolkit.formatted_text import ANSI

        shell = self.shell
        text_prompt: str | None = first
        while True:
            try:
                if text_prompt is None:
                    text_prompt = _safe_prompt(shell, self.tasks)
                try:
                    # The continuation prompt is made once a line, not once a wrapped row.
                    more = ANSI(_safe_continuation(shell))
                    text = self.session.prompt(ANSI(text_prompt), prompt_continuation=more)
                finally:
                    text_prompt = None
                    after_first()
                    after_first = _nothing
                if text.strip() and not self.run(text):
                    break
            except KeyboardInterrupt:
                shell.last_status = 130  # as bash: Ctrl-C at the prompt
            except EOFError:
                break
            except Interrupted:
                # SIGINT outside a command's containment: between a command's end and the
                # next prompt (the terminal is not raw then, so Ctrl-C is a signal).
                write_fd(2, "\n")
                shell.last_status = 130

    def run(self, text: str) -> bool:
        """Run one accepted line; False when it asked the shell to exit."""
        shell = self.shell
        entry = self._record(text)
        started = time.monotonic()
        try:
            program = shell.parse(text, "stdin")
        except ParseError as e:  # IncompleteInput too: Ctrl-D on an unfinished line
            write_fd(2, "fmsh: " + e.render() + "\n")
            shell.last_status = 2
            self._finish(entry, 2, 0.0)
            return True
        status = contained(shell, lambda: shell.run_line(program, text))
        self._finish(entry, shell.last_status, time.monotonic() - started)
        return status is not None

    def _record(self, text: str) -> int | None:
        if self.store is None:
            return None
        try:
            return self.store.record(text, self.shell.vars.get("PWD") or "", self.host, self.session_id)
        except HistoryError as e:
            self._lost(e)
            return None

    def _finish(self, entry: int | None, status: int, duration: float) -> None:
        if entry is None or self.store is None:
            return
        try:
            self.store.finish(entry, status, round(duration, 3))
        except HistoryError as e:
            self._lost(e)

    def _lost(self, error: HistoryError) -> None:
        """Say once that the history file is unusable; the shell goes on without it."""
        self.shell.report(f"history: {error}: commands are not kept")
        self.store = None

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _nothing() -> None:
    pass


def _safe_continuation(shell: Shell) -> str:
    try:
        return continuation_text(shell)
    except Exception:  # noqa: BLE001 - as for the prompt
        return "> "


def _safe_prompt(shell: Shell, tasks: RunningTasks) -> str:
    try:
        return prompt_text(shell, tasks)
    except Interrupted:
        raise
    except Exception:  # noqa: BLE001 - a prompt that cannot be built must not end the shell
        return "$ "


# --- the early prompt -------------------------------------------------------------------


def _paint_early(text: str) -> list | None:  # type: ignore[type-arg]
    """Draw the prompt before prompt_toolkit is loaded; the terminal's settings to restore
    once the first line is read (None when it could not be done). The terminal is set
    raw as prompt_toolkit sets it, so that keys typed meanwhile wait in its buffer unseen
    and unchanged (Enter stays \\r, Ctrl-C stays a key), for prompt_toolkit to read."""
    import termios

    try:
        saved = termios.tcgetattr(0)
        raw = termios.tcgetattr(0)
        raw[0] &= ~(termios.IXON | termios.IXOFF | termios.ICRNL | termios.INLCR | termios.IGNCR)
        raw[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
        termios.tcsetattr(0, termios.TCSANOW, raw)
    except termios.error:
        return None
    # The last line of the prompt, then back to its start: prompt_toolkit draws from there.
    lines = text.split("\n")
    write_fd(1, "\n".join(lines[:-1]) + ("\n" if len(lines) > 1 else "") + lines[-1] + "\r")
    return saved


def _restore_terminal(saved: list | None) -> None:  # type: ignore[type-arg]
    if saved is None:
        return
    import termios

    try:
        termios.tcsetattr(0, termios.TCSANOW, saved)
    except termios.error:
        pass


# --- the session ------------------------------------------------------------------------


def _make_session(shell: Shell, store: HistoryStore) -> PromptSession[str]:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory

    from fmsh.repl.complete import FmshCompleter
    from fmsh.repl.highlight import FmshLexer, style
    from fmsh.repl.keyinput import CoalescingInput

    session: PromptSession[str] = PromptSession(
        history=prompt_history(store),
        auto_suggest=AutoSuggestFromHistory(),
        completer=FmshCompleter(shell),
        complete_while_typing=False,
        lexer=FmshLexer(shell),
        style=style(),
        multiline=True,
        key_bindings=_key_bindings(shell),
        enable_suspend=False,
        input=CoalescingInput(sys.stdin),
        mouse_support=False,
    )
    # A redraw costs the whole text (seconds for a megabyte): while the text is huge (a
    # paste arriving without bracketed paste), redraw less often the larger it is, not
    # once per read, so that reading keeps up.
    app = session.app
    session.default_buffer.on_text_changed += lambda buffer: setattr(
        app, "min_redraw_interval", len(buffer.text) / 100_000 if len(buffer.text) > HUGE else None
    )
    return session


def _incomplete(shell: Shell, text: str) -> bool:
    """Whether the text needs more lines (a syntax error is complete: it is shown)."""
    try:
        shell.parse(text, "stdin")
    except IncompleteInput:
        return True
    except Exception:  # noqa: BLE001 - any other error is reported when the line runs
        return False
    return False


def _key_bindings(shell: Shell) -> KeyBindings:
    from prompt_toolkit.enums import DEFAULT_BUFFER
    from prompt_toolkit.filters import has_focus, is_searching
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.key_binding.key_processor import KeyPressEvent
    from prompt_toolkit.search import accept_search

    bindings = KeyBindings()
    editing = has_focus(DEFAULT_BUFFER)

    @bindings.add("enter", filter=editing)
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            buffer.complete_state = None  # Enter picks the highlighted completion
            return
        if _incomplete(shell, buffer.text):
            buffer.insert_text("\n")
        else:
            buffer.validate_and_handle()

    @bindings.add("escape", "enter", filter=editing)
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @bindings.add("c-d", filter=editing)
    def _end(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if not buffer.text:
            event.app.exit(exception=EOFError)
        elif buffer.cursor_position < len(buffer.text):
            buffer.delete()
        elif _incomplete(shell, buffer.text):
            buffer.validate_and_handle()  # the loop shows the syntax error

    @bindings.add("enter", filter=is_searching)
    def _run_found(event: KeyPressEvent) -> None:
        # As bash: Enter in a Ctrl-R search runs the line found.
        accept_search()
        event.app.current_buffer.validate_and_handle()

    return bindings
