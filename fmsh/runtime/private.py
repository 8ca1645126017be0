"""Files that hold what a user ran and what it printed (the journal, the history): made
private to their user when found open to others."""

from __future__ import annotations

import os


def make_private(path: str, what: str, st: os.stat_result | None = None) -> None:
    """A file of this user's that others can read is made 0600, its SQLite -wal and -shm
    too (SQLite creates them with the file's mode), and fmsh says so once on stderr."""
    if st is None:
        try:
            st = os.stat(path)
        except OSError:
            return
    if st.st_uid != os.getuid() or not st.st_mode & 0o077:
        return
    for name in (path, path + "-wal", path + "-shm"):
        try:
            os.chmod(name, 0o600)
        except OSError:
            pass
    if st.st_size:  # an empty file (just made by another program) exposed nothing
        told = f"fmsh: the {what} {path} was open to others (mode {st.st_mode & 0o777:o}): made 0600\n"
        os.write(2, told.encode("utf-8", "replace"))
