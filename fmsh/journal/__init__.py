"""The journal: where tasks, their steps and the steps' results are kept. The only part
of fmsh that writes SQL.

    base.py     the interface (Journal) and the values it takes (Owner, Chunk)
    sqlite.py   the embedded default: one SQLite file
    rqlite.py   the same, in an rqlite cluster (FMSH_JOURNAL=rqlite://HOST:PORT,...)
    schema.py   the tables, as registered migrations
    records.py  the rows it hands back
    errors.py   what can go wrong, said for the user

Where the journal is: $FMSH_JOURNAL, else $XDG_STATE_HOME/fmsh/journal.db, else
~/.local/state/fmsh/journal.db. FMSH_JOURNAL_TIMEOUT (seconds, 10) is how long a writer
waits for another's lock; FMSH_JOURNAL_SYNC=full fsyncs every commit.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from fmsh.journal.base import Journal


def is_cluster(path: str) -> bool:
    """Whether FMSH_JOURNAL names an rqlite cluster rather than a file."""
    return path.startswith(("rqlite://", "rqlites://"))


def journal_path(environ: Mapping[str, str]) -> str:
    from fmsh.runtime.settings import state_file

    return state_file(environ, "FMSH_JOURNAL", "journal.db")


def open_journal(environ: Mapping[str, str], create: bool = True) -> Journal | None:
    """The journal the environment names; None when it does not exist and `create` is
    False (reading an empty history does not create a file). Raises JournalError."""
    from fmsh.journal.errors import JournalError
    from fmsh.journal.sqlite import SQLiteJournal

    path = journal_path(environ)
    remote = is_cluster(path)
    if not create and not remote and not os.path.exists(path):
        return None
    timeout = environ.get("FMSH_JOURNAL_TIMEOUT") or "10"
    try:
        seconds = float(timeout)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86400:  # also refuses nan and inf
        raise JournalError(f"FMSH_JOURNAL_TIMEOUT={timeout}: not a number of seconds (0 or more)")
    if remote:
        from fmsh.journal.rqlite import RQLiteJournal

        return RQLiteJournal(path, timeout=seconds)
    sync = (environ.get("FMSH_JOURNAL_SYNC") or "normal").lower()
    if sync not in ("normal", "full"):
        raise JournalError(f"FMSH_JOURNAL_SYNC={sync}: not one of normal, full")
    return SQLiteJournal(path, timeout=seconds, sync=sync)
