"""Command history in SQLite, shared by every session of the user.

The file is $FMSH_HISTORY, else $XDG_STATE_HOME/fmsh/history.db, else
~/.local/state/fmsh/history.db (mode 0600 in a 0700 directory). One table:

    entries(id, command, cwd, status, duration, started_at, host, session)

A row is written when a command line is accepted and completed (status, duration in
seconds) when it ends; every secret value in it is masked as `***` (fmsh/runtime/secrets.py).
A line that uses `secret` is written only when it ends, so that the secret it sets
(`secret TOKEN=...`) is masked in it too. Every SQL statement of the history is in this module. The prompt
reads it through `prompt_history(store)`, a prompt_toolkit History; the `history` builtin
through `HistoryStore` directly (without importing prompt_toolkit).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

from fmsh.runtime.private import make_private

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

    from prompt_toolkit.history import History

    from fmsh.interp.shell import Shell

# Commands longer than this are run but not kept: a pasted megabyte would be loaded by
# every new session for ever.
MAX_COMMAND = 100_000
# How many distinct commands a new session loads for Up, Ctrl-R and autosuggestion.
LOAD_LIMIT = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    cwd TEXT,
    status INTEGER,
    duration REAL,
    started_at REAL NOT NULL,
    host TEXT,
    session TEXT
);
CREATE INDEX IF NOT EXISTS entries_command ON entries(command);
"""


def history_path(environ: Mapping[str, str | None]) -> str:
    from fmsh.runtime.settings import state_file

    return state_file(environ, "FMSH_HISTORY", "history.db")


def history_variables(shell: Shell) -> dict[str, str | None]:
    """The shell variables that place the history file."""
    return {name: shell.vars.get(name) for name in ("FMSH_HISTORY", "XDG_STATE_HOME", "HOME")}


class HistoryError(Exception):
    """The history file cannot be opened or written (the message says why)."""


class HistoryStore:
    """The SQLite file. Connections are opened lazily, one per thread that asks."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        # Lines held until they end (they set secrets): negative id -> the row's values.
        self._held: dict[int, tuple[str, str, float, str, str]] = {}

    # --- connections --------------------------------------------------------------------

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        import sqlite3

        if not os.path.exists(self.path):
            if not create:
                return None
            directory = os.path.dirname(self.path)
            try:
                if directory:
                    os.makedirs(directory, mode=0o700, exist_ok=True)
                # Created 0600 before SQLite opens it: commands may hold secrets.
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            except OSError as e:
                raise HistoryError(f"{self.path}: {e.strerror}") from None
        elif create:
            make_private(self.path, "history")
        try:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 5000")
            if create:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(SCHEMA)
        except sqlite3.Error as e:
            raise HistoryError(f"{self.path}: {e}") from None
        return conn

    def _writer(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._connect(create=True)
        assert self._conn is not None
        return self._conn

    def _run(self, conn: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        import sqlite3

        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise HistoryError(f"{self.path}: {e}") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- writing ------------------------------------------------------------------------

    def record(self, command: str, cwd: str, host: str, session: str) -> int | None:
        """A command as it starts; its row id (None when it is not kept: blank, too long,
        or starting with a space, as bash's ignorespace)."""
        if not command.strip() or command.startswith(" ") or len(command) > MAX_COMMAND:
            return None
        if _SETS_SECRET.search(command):
            entry = -1 - len(self._held)
            self._held[entry] = (command, cwd, time.time(), host, session)
            return entry
        from fmsh.runtime.secrets import mask

        conn = self._writer()
        self._run(
            conn,
            "INSERT INTO entries (command, cwd, started_at, host, session) VALUES (?, ?, ?, ?, ?)",
            (mask(command), cwd, time.time(), host, session),
        )
        return int(self._run(conn, "SELECT last_insert_rowid()")[0][0])

    def finish(self, entry: int, status: int, duration: float) -> None:
        held = self._held.pop(entry, None)
        if held is not None:
            from fmsh.runtime.secrets import mask

            command, cwd, started_at, host, session = held
            self._run(
                self._writer(),
                "INSERT INTO entries (command, cwd, status, duration, started_at, host, session) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (mask(command), cwd, status, duration, started_at, host, session),
            )
            return
        self._run(self._writer(), "UPDATE entries SET status = ?, duration = ? WHERE id = ?", (status, duration, entry))

    def clear(self) -> None:
        conn = self._connect(create=False)
        if conn is None:
            return
        try:
            self._run(conn, "DELETE FROM entries")
        finally:
            conn.close()

    # --- reading ------------------------------------------------------------------------

    def recent_commands(self, limit: int = LOAD_LIMIT) -> list[str]:
        """Distinct commands, newest first (each at its latest use)."""
        conn = self._connect(create=False)
        if conn is None:
            return []
        try:
            rows = self._run(
                conn, "SELECT command FROM entries GROUP BY command ORDER BY MAX(id) DESC LIMIT ?", (limit,)
            )
        finally:
            conn.close()
        return [row[0] for row in rows]

    def entries(self, last: int | None = None) -> list[dict[str, Any]]:
        """Rows in the order they were run; the `last` ones only when given."""
        conn = self._connect(create=False)
        if conn is None:
            return []
        columns = "id, command, cwd, status, duration, started_at, host, session"
        try:
            if last is None:
                rows = self._run(conn, f"SELECT {columns} FROM entries ORDER BY id")
            else:
                rows = self._run(conn, f"SELECT {columns} FROM entries ORDER BY id DESC LIMIT ?", (last,))
                rows.reverse()
        finally:
            conn.close()
        names = columns.split(", ")
        return [dict(zip(names, row, strict=True)) for row in rows]


_SETS_SECRET = re.compile(r"(^|[^\w-])secret\b")


_history_class: type | None = None


def prompt_history(store: HistoryStore) -> History:
    """The store as a prompt_toolkit History: loaded newest-first in a thread (the first
    prompt does not wait for SQLite); a line starting with a space is not remembered
    (bash's ignorespace). The class is made on first use so that importing this module
    does not import prompt_toolkit."""
    global _history_class
    if _history_class is None:
        from prompt_toolkit.history import History as Base
        from prompt_toolkit.history import ThreadedHistory

        class Loader(Base):
            def __init__(self, store: HistoryStore) -> None:
                super().__init__()
                self.store = store

            def load_history_strings(self) -> Iterator[str]:
                try:
                    commands = self.store.recent_commands()
                except HistoryError:
                    commands = []  # the REPL reports an unusable file when it records
                yield from commands

            def store_string(self, string: str) -> None:
                pass  # the REPL records each line itself, with its status and duration

        class SqliteHistory(ThreadedHistory):
            def __init__(self, store: HistoryStore) -> None:
                super().__init__(Loader(store))

            def append_string(self, string: str) -> None:
                if not string.startswith(" "):
                    super().append_string(string)

        _history_class = SqliteHistory
    history: History = _history_class(store)
    return history
