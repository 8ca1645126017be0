"""The journal as a user meets it: where it is, how it is made (0600 in a 0700 directory,
WAL, versioned schema), that the manual names every table and column, and what fmsh says
and does when the journal cannot be used — an unknown task, a lock held too long, a file
that is not SQLite, a damaged journal, a read-only directory, another program's database,
a journal from a newer fmsh: a clear message naming the file and the way out, a non-zero
status, no step run, and the file left byte for byte as it was.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK, Result, run_fmsh

from fmsh.journal import schema

MANUAL = Path(__file__).resolve().parent.parent / "man" / "fmsh.1"
JOURNAL_STATUS = 75  # the documented status of a task stopped by an unusable journal

# A task script whose only step prints `hi`: when fmsh refuses the journal, no `hi`.
SCRIPT = ("-c", "task t { echo hi; }")
# The tasks of a journal made by `_make_real_journal`: 1-3 finished, 4 interrupted (resumable).
DONE_TASKS = (1, 2, 3)
INTERRUPTED = 4


def _env(path: Path | str, **extra: str) -> dict[str, str]:
    return {"FMSH_JOURNAL": str(path), **extra}


def _commands(task_id: int = INTERRUPTED) -> list[tuple[str, ...]]:
    """A task script and the task commands that open the journal, from outside and as
    builtins."""
    return [SCRIPT, ("--tasks",), ("--resume", str(task_id)), ("-c", "tasks"), ("-c", f"resume {task_id}")]


def _ids(command: tuple[str, ...]) -> str:
    return " ".join(command)


def _snapshot(path: Path) -> dict[str, object]:
    """What must not change: the file's bytes and mode, its -wal's, and what else is in its
    directory (fmsh must not leave a -wal or -shm beside a file it refused)."""
    files: dict[str, object] = {}
    for suffix in ("", "-wal"):
        name = Path(f"{path}{suffix}")
        if name.exists():
            files[suffix] = (name.read_bytes(), stat.S_IMODE(name.stat().st_mode))
    files["listing"] = sorted(os.listdir(path.parent))
    return files


def _assert_refused(r: Result, path: Path, *words: str, status: int = JOURNAL_STATUS) -> None:
    """A clear, one-line refusal that names the journal, and no step run."""
    assert r.status == status, r
    assert str(path) in r.err, r
    for word in words:
        assert word in r.err, (word, r)
    assert len(r.err.splitlines()) == 1, r
    assert r.err.startswith("fmsh: "), r
    assert "hi" not in r.out, r


def _sql(path: Path, query: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(query, args).fetchall()
    finally:
        conn.close()


def _integrity(path: Path) -> str:
    """`PRAGMA integrity_check` as sqlite3 reports it: `ok`, its findings, or its error."""
    try:
        return "; ".join(str(row[0]) for row in _sql(path, "PRAGMA integrity_check"))
    except sqlite3.DatabaseError as e:
        return str(e)


def _make_real_journal(path: Path) -> None:
    """A journal with three finished tasks and one interrupted (its fmsh SIGKILLed), all
    of it checkpointed into the file (no -wal left)."""
    for n in DONE_TASKS:
        r = run_fmsh("-c", f"task t{n} {{ /bin/true; echo hi{n}; }}", env=_env(path))
        assert (r.status, r.out) == (0, f"hi{n}\n"), r
    r = run_fmsh("-c", "task t4 { /bin/true; kill -9 $$; echo never; }", env=_env(path))
    assert r.status == -9 and "never" not in r.out, r
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert not Path(f"{path}-wal").exists()
    assert _sql(path, "SELECT id, status FROM tasks ORDER BY id") == [
        *((n, "done") for n in DONE_TASKS),
        (INTERRUPTED, "running"),  # its owner is dead: `tasks` shows it interrupted
    ]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "journal.db"
    _make_real_journal(path)
    return path


@pytest.fixture
def real_journal(template: Path, tmp_path: Path) -> Path:
    """A copy of the module's real journal, in this test's own directory."""
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    path = directory / "journal.db"
    shutil.copy2(template, path)
    return path


# --- a new journal ---------------------------------------------------------------------


def test_new_journal_is_private_wal_and_at_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "state" / "fmsh" / "journal.db"
    old = os.umask(0)  # even with a permissive umask
    try:
        r = run_fmsh("-c", "task t { /bin/true; echo hi; }", env=_env(path))
    finally:
        os.umask(old)
    assert (r.status, r.out, r.err) == (0, "hi\n", ""), r
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for name in os.listdir(path.parent):  # no -wal or -shm readable by others either
        assert stat.S_IMODE((path.parent / name).stat().st_mode) & 0o077 == 0, name

    assert _sql(path, "PRAGMA journal_mode") == [("wal",)]
    assert _sql(path, "PRAGMA user_version") == [(schema.LATEST,)]
    migrations = _sql(path, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    assert [(v, n) for v, n, _ in migrations] == [(v, name) for v, (name, _) in enumerate(schema.MIGRATIONS, 1)]
    assert all(abs(float(at) - time.time()) < 300 for _, _, at in migrations)  # type: ignore[arg-type]
    assert _sql(path, "SELECT id, name, status, exit_status FROM tasks") == [(1, "t", "done", 0)]
    assert _integrity(path) == "ok"

    listed = run_fmsh("--tasks", env=_env(path))
    assert listed.status == 0 and re.search(r"^1\s+t\s+done\b", listed.out, re.M), listed


def test_default_location_is_under_xdg_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FMSH_JOURNAL", raising=False)
    home, state = tmp_path / "home", tmp_path / "xdg-state"
    home.mkdir()
    env = {"HOME": str(home), "XDG_STATE_HOME": str(state)}
    r = run_fmsh(*SCRIPT, env=env, cwd=tmp_path)
    assert (r.status, r.out) == (0, "hi\n"), r
    path = state / "fmsh" / "journal.db"
    assert _sql(path, "SELECT name, status FROM tasks") == [("t", "done")]
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert os.listdir(home) == []
    assert "done" in run_fmsh("--tasks", env=env).out


def test_default_location_without_xdg_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FMSH_JOURNAL", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    r = run_fmsh(*SCRIPT, env={"HOME": str(home)}, cwd=tmp_path)
    assert (r.status, r.out) == (0, "hi\n"), r
    assert _sql(home / ".local" / "state" / "fmsh" / "journal.db", "SELECT name FROM tasks") == [("t",)]


@pytest.mark.parametrize("command", [SCRIPT, ("--tasks",)], ids=_ids)
def test_journal_readable_by_others_is_made_private(real_journal: Path, command: tuple[str, ...]) -> None:
    real_journal.chmod(0o644)
    r = run_fmsh(*command, env=_env(real_journal))
    assert r.status == 0, r
    assert stat.S_IMODE(real_journal.stat().st_mode) == 0o600


# --- the manual names every table and column -------------------------------------------


def _manual_tables() -> dict[str, set[str]]:
    """Each table entry of the JOURNAL section (`.TP` then `.B table`): the bold words of
    its paragraph."""
    text = MANUAL.read_text()
    start = text.index(".SH JOURNAL")
    section = text[start : text.index("\n.SH ", start + 1)].replace("\\-", "-")
    tables: dict[str, set[str]] = {}
    current: set[str] | None = None
    previous = ""
    for line in section.splitlines():
        if previous == ".TP" and line.startswith(".B "):
            current = tables.setdefault(line[3:].strip(), set())  # the heading: not a column
            previous = line
            continue
        previous = line
        if current is None or not line.startswith((".B ", ".BR ", ".BI ")):
            continue
        macro, _, rest = line.partition(" ")
        words = shlex.split(rest)
        bold = words if macro == ".B" else words[::2]  # .BR/.BI alternate bold and roman
        current.update(w.strip(" ,.") for w in bold)
    return tables


def test_manual_names_every_table_and_column(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    assert run_fmsh(*SCRIPT, env=_env(path)).status == 0
    names = _sql(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    tables = [str(r[0]) for r in names if not str(r[0]).startswith("sqlite_")]
    assert "tasks" in tables and "schema_migrations" in tables
    documented = _manual_tables()
    assert sorted(documented) == sorted(tables), "the JOURNAL section's table entries are not the tables"
    for table in tables:
        columns = [str(r[1]) for r in _sql(path, f'PRAGMA table_info("{table}")')]
        missing = [c for c in columns if c not in documented[table]]
        assert not missing, f"man/fmsh.1, JOURNAL, {table}: no word on the columns {missing}"


# --- an unknown task --------------------------------------------------------------------

UNKNOWN = [
    ("--trace", "999"),
    ("--resume", "999"),
    ("-c", "resume 999"),
    ("-c", "trace 999"),
    ("--log", "999"),
    ("--cancel", "999"),
    ("--forget", "999"),
    ("--retry", "999", "--from", "1"),
]


@pytest.mark.parametrize("command", UNKNOWN, ids=_ids)
def test_unknown_task_id(real_journal: Path, command: tuple[str, ...]) -> None:
    before = _snapshot(real_journal)
    r = run_fmsh(*command, env=_env(real_journal))
    _assert_refused(r, real_journal, "no task 999", "tasks -a", status=1)
    assert _snapshot(real_journal) == before


NOT_AN_ID = [
    ("--trace", "abc"),
    ("--resume", "abc"),
    ("-c", "resume abc"),
    ("--resume", "1x"),
    ("--cancel", "--", "-1"),
]


@pytest.mark.parametrize("command", NOT_AN_ID, ids=_ids)
def test_task_id_that_is_not_a_number(real_journal: Path, command: tuple[str, ...]) -> None:
    before = _snapshot(real_journal)
    r = run_fmsh(*command, env=_env(real_journal))
    # Not about the journal: the message says what an id is, not where the journal is.
    assert r.status == 2, r
    assert "not a task id" in r.err and "`fmsh --tasks`" in r.err and len(r.err.splitlines()) == 1, r
    assert _snapshot(real_journal) == before


@pytest.mark.parametrize("command", [("--trace", "1"), ("--resume", "1"), ("-c", "resume 1")], ids=_ids)
def test_task_command_without_a_journal_creates_none(tmp_path: Path, command: tuple[str, ...]) -> None:
    path = tmp_path / "state" / "journal.db"
    r = run_fmsh(*command, env=_env(path))
    _assert_refused(r, path, "no journal", "FMSH_JOURNAL", status=1)
    assert not path.parent.exists()
    assert run_fmsh("--tasks", env=_env(path)).out == "no tasks yet\n"
    assert not path.parent.exists()


# --- locked -----------------------------------------------------------------------------

TIMEOUT = 0.5


def _timed(*command: str, env: dict[str, str]) -> tuple[Result, float]:
    start = time.monotonic()
    r = run_fmsh(*command, env=env)
    return r, time.monotonic() - start


# Another process that holds the journal's write lock until told to let go. (Not a
# connection of the test's own: POSIX locks belong to a process, and the test's reading the
# file to compare its bytes would silently drop them.) With `readers`, in exclusive locking
# mode, which keeps readers out as well.
HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
if sys.argv[2] == "readers":
    assert conn.execute("PRAGMA locking_mode = EXCLUSIVE").fetchall() == [("exclusive",)]
conn.execute("SELECT count(*) FROM tasks").fetchall()  # in WAL mode, as fmsh left it
conn.execute("BEGIN EXCLUSIVE")
conn.execute("SELECT count(*) FROM tasks").fetchall()
print("held", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
"""


@contextlib.contextmanager
def _lock_held(path: Path, readers: bool = False) -> Iterator[None]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), "readers" if readers else "writers"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0


@pytest.mark.parametrize("command", [SCRIPT, ("--resume", "4"), ("-c", "resume 4")], ids=_ids)
def test_journal_locked_by_another_writer(real_journal: Path, command: tuple[str, ...]) -> None:
    env = _env(real_journal, FMSH_JOURNAL_TIMEOUT=str(TIMEOUT))
    _, baseline = _timed("--trace", "1", env=env)  # what a run costs without waiting
    with _lock_held(real_journal):
        before = _snapshot(real_journal)
        r, took = _timed(*command, env=env)
        _assert_refused(r, real_journal, "locked by another process", "FMSH_JOURNAL_TIMEOUT")
        assert f"waited {TIMEOUT:g} s" in r.err, r
        assert TIMEOUT <= took < TIMEOUT + 2 * baseline + 1.0, (took, baseline)
        # A reader is not held up by a writer (WAL): the tasks are listed meanwhile.
        listed, took = _timed("--tasks", env=env)
        assert listed.status == 0 and re.search(r"^4\s+t4\s+interrupted\b", listed.out, re.M), listed
        assert took < 2 * baseline + 1.0, (took, baseline)
        assert _snapshot(real_journal) == before
    assert _integrity(real_journal) == "ok"
    assert _sql(real_journal, "SELECT id, status FROM tasks WHERE id = 4") == [(4, "running")]  # not claimed


@pytest.mark.parametrize("command", _commands(), ids=_ids)
def test_journal_locked_against_readers_too(real_journal: Path, command: tuple[str, ...]) -> None:
    """A holder in exclusive locking mode keeps readers out as well: every command waits
    the timeout, then says so."""
    env = _env(real_journal, FMSH_JOURNAL_TIMEOUT=str(TIMEOUT))
    _, baseline = _timed("--trace", "1", env=env)
    with _lock_held(real_journal, readers=True):
        before = _snapshot(real_journal)
        r, took = _timed(*command, env=env)
        _assert_refused(r, real_journal, "locked by another process", "FMSH_JOURNAL_TIMEOUT")
        assert TIMEOUT <= took < TIMEOUT + 2 * baseline + 1.0, (took, baseline)
        assert _snapshot(real_journal) == before
    assert _integrity(real_journal) == "ok"


# --- not a SQLite file ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [b"my notes\n" * 500, b"SQLite", b"SQLite format 2\x00" + b"x" * 200],
    ids=["text", "short", "other-header"],
)
@pytest.mark.parametrize("command", _commands(1), ids=_ids)
def test_file_that_is_not_sqlite(tmp_path: Path, text: bytes, command: tuple[str, ...]) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(text)
    path.chmod(0o644)
    before = _snapshot(path)
    r = run_fmsh(*command, env=_env(path))
    _assert_refused(r, path, "not an fmsh journal", "not a SQLite database", "FMSH_JOURNAL")
    assert _snapshot(path) == before


def test_zero_length_file_becomes_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    path.touch(mode=0o600)
    r = run_fmsh(*SCRIPT, env=_env(path))
    assert (r.status, r.out, r.err) == (0, "hi\n", ""), r
    assert _sql(path, "PRAGMA user_version") == [(schema.LATEST,)]
    assert _sql(path, "SELECT name, status FROM tasks") == [("t", "done")]


def test_zero_length_file_lists_no_tasks(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    path.touch(mode=0o600)
    r = run_fmsh("--tasks", env=_env(path))
    assert (r.status, r.out, r.err) == (0, "no tasks yet\n", ""), r


# --- damaged ----------------------------------------------------------------------------


def _corrupt(path: Path, table: str) -> None:
    """Overwrite the root page of `table` (past the 100-byte file header) with garbage,
    and make sure SQLite itself now calls the file malformed."""
    (root,) = _sql(path, "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,))[0]
    (page_size,) = _sql(path, "PRAGMA page_size")[0]
    assert isinstance(root, int) and isinstance(page_size, int) and root > 1
    with open(path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xaa" * page_size)
    assert "malformed" in _integrity(path)
    with pytest.raises(sqlite3.DatabaseError, match="malformed"):
        _sql(path, f'SELECT * FROM "{table}"')


@pytest.mark.parametrize("table", ["tasks", "steps", "bindings", "events", "schema_migrations"])
@pytest.mark.parametrize("command", _commands(), ids=_ids)
def test_damaged_journal(real_journal: Path, table: str, command: tuple[str, ...]) -> None:
    _corrupt(real_journal, table)
    before = _snapshot(real_journal)
    r = run_fmsh(*command, env=_env(real_journal))
    _assert_refused(r, real_journal, "is damaged", "malformed", ".recover", "FMSH_JOURNAL")
    assert _snapshot(real_journal) == before


# --- read-only directory ----------------------------------------------------------------

ROOT = os.geteuid() == 0


def _run_read_only(directory: Path, *args: str, env: dict[str, str]) -> Result:
    """fmsh with `directory` read-only: a read-only bind mount in a mount namespace of its
    own when root (whom file modes do not stop), else mode 0555."""
    full_env = {**os.environ, **env}
    full_env.pop("FMSH_DEBUG", None)
    if ROOT:
        if shutil.which("unshare") is None:
            pytest.fail("unshare (util-linux) is needed to make a read-only directory as root")
        ro = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", ro, str(directory), *FMSH_ARGV, *args]
        proc = subprocess.run(argv, capture_output=True, text=True, env=full_env, timeout=30, stdin=subprocess.DEVNULL)
    else:
        mode = stat.S_IMODE(directory.stat().st_mode)
        directory.chmod(0o555)
        try:
            proc = subprocess.run(
                [*FMSH_ARGV, *args], capture_output=True, text=True, env=full_env, timeout=30, stdin=subprocess.DEVNULL
            )
        finally:
            directory.chmod(mode)
    assert TRACEBACK not in proc.stderr, proc.stderr
    assert "mount:" not in proc.stderr and "unshare:" not in proc.stderr, proc.stderr
    return Result(proc)


def test_read_only_directory_really_is(tmp_path: Path) -> None:
    """The helper works: nothing can be created in the directory."""
    r = _run_read_only(tmp_path, "-c", f"echo x > {tmp_path}/probe", env={})
    assert r.status != 0 and not (tmp_path / "probe").exists(), r


@pytest.mark.parametrize("nested", [False, True], ids=["journal-in-it", "journal-dir-in-it"])
def test_read_only_directory_without_a_journal(tmp_path: Path, nested: bool) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    path = directory / "fmsh" / "journal.db" if nested else directory / "journal.db"
    r = _run_read_only(directory, *SCRIPT, env=_env(path))
    _assert_refused(r, path.parent if nested else path, "cannot create the journal", "set FMSH_JOURNAL", "writable")
    assert os.listdir(directory) == []
    r = _run_read_only(directory, "--tasks", env=_env(path))
    assert (r.status, r.out) == (0, "no tasks yet\n"), r
    r = _run_read_only(directory, "--resume", "1", env=_env(path))
    _assert_refused(r, path, "no journal", status=1)
    assert os.listdir(directory) == []


@pytest.mark.parametrize("command", _commands(), ids=_ids)
def test_read_only_directory_with_a_journal(real_journal: Path, command: tuple[str, ...]) -> None:
    before = _snapshot(real_journal)
    r = _run_read_only(real_journal.parent, *command, env=_env(real_journal))
    _assert_refused(r, real_journal, "cannot use the journal", "-wal", "writable", "FMSH_JOURNAL")
    assert ("read-only file system" if ROOT else "not writable by you") in r.err, r
    assert _snapshot(real_journal) == before


# --- another program's database; a newer fmsh's journal --------------------------------


@pytest.mark.parametrize("version", [0, schema.LATEST, schema.LATEST + 5], ids=lambda v: f"user_version={v}")
@pytest.mark.parametrize("command", _commands(1), ids=_ids)
def test_database_that_is_not_a_journal(tmp_path: Path, version: int, command: tuple[str, ...]) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
        "INSERT INTO users (name) VALUES ('ann'), ('bob');"
        f"CREATE TABLE orders (id INTEGER PRIMARY KEY, user INTEGER); PRAGMA user_version = {version};"
    )
    conn.close()
    path.chmod(0o644)
    before = _snapshot(path)
    r = run_fmsh(*command, env=_env(path))
    _assert_refused(r, path, "not an fmsh journal", "users, orders", "FMSH_JOURNAL")
    assert _snapshot(path) == before  # not even switched to WAL, nor made 0600
    assert _sql(path, "PRAGMA journal_mode") == [("delete",)]


@pytest.mark.parametrize("command", _commands(), ids=_ids)
def test_journal_from_a_newer_fmsh(real_journal: Path, command: tuple[str, ...]) -> None:
    newer = schema.LATEST + 1
    conn = sqlite3.connect(real_journal)
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()
    before = _snapshot(real_journal)
    r = run_fmsh(*command, env=_env(real_journal))
    _assert_refused(r, real_journal, "newer fmsh", f"schema {newer}", f"up to {schema.LATEST}", "upgrade fmsh")
    assert _snapshot(real_journal) == before


# --- no journal at all ------------------------------------------------------------------


def test_journal_none_runs_a_task_without_a_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, state, work = tmp_path / "home", tmp_path / "state", tmp_path / "work"
    for d in (home, state, work):
        d.mkdir()
    monkeypatch.delenv("FMSH_TASK_ID", raising=False)
    env = {"FMSH_JOURNAL": "none", "HOME": str(home), "XDG_STATE_HOME": str(state)}
    script = "task t { /bin/true; echo hi; /bin/sh -c 'echo task=${FMSH_TASK_ID:-none}'; }"
    r = run_fmsh("-c", script, env=env, cwd=work)
    assert (r.status, r.out, r.err) == (0, "hi\ntask=none\n", ""), r
    assert (os.listdir(home), os.listdir(state), os.listdir(work)) == ([], [], [])
    assert run_fmsh("--tasks", env=env, cwd=work).out == "no tasks: FMSH_JOURNAL=none (tasks run without a journal)\n"
    assert os.listdir(work) == []


# --- reading a big journal: a step at a time, summaries counted by SQLite ---------------


def _journal_with_steps(path: Path, steps: dict[str, list[int | None]]):  # type: ignore[no-untyped-def]
    """A journal (through fmsh's journal module) with one task per entry of `steps`: the
    exit status of each of its steps, None for a step still in flight."""
    from fmsh.journal.sqlite import SQLiteJournal
    from fmsh.tasks.owner import this_process

    journal = SQLiteJournal(str(path))
    owner = this_process()
    ids = []
    for name, statuses in steps.items():
        values = {"name": name, "origin": "command", "source_name": "-c", "source": "x", "source_hash": "h"}
        task = journal.create_task(values, owner, 30.0)
        ids.append(task.id)
        for seq, status in enumerate(statuses, 1):
            row = {"seq": seq, "key": f"1:{seq}", "kind": "command", "location": f"-c:1:{seq}", "text": "cmd",
                   "context": "", "fingerprint": str(seq), "tested": 1 if status == 3 else 0}  # fmt: skip
            journal.start_step(task.id, task.epoch, row, True, 1, str(owner), [])
            if status is not None:
                journal.finish_step(task.id, task.epoch, seq, 1, {"exit_status": status})
    return journal, ids


def test_step_summary_counts_steps_and_failures_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fmsh.journal import sqlite as journal_sqlite

    # 1 failed at 2 and 4; 2 clean; 3 tested its failure (not the task's) and stopped at 3;
    # 4 none yet.
    journal, ids = _journal_with_steps(tmp_path / "j.db", {"a": [0, 1, 0, 2], "b": [0, 0], "c": [3, 0, None], "d": []})
    try:
        expected = {ids[0]: (4, [2, 4]), ids[1]: (2, []), ids[2]: (3, [])}
        assert journal.step_summary(ids + [999]) == expected
        monkeypatch.setattr(journal_sqlite, "_BATCH", 2)  # the ids bound a few at a time
        assert journal.step_summary(ids + [999]) == expected
        assert journal.step_summary([]) == {}
    finally:
        journal.close()


def test_step_reads_one_step_by_number_or_where_the_task_stopped(tmp_path: Path) -> None:
    journal, (stopped, finished) = _journal_with_steps(tmp_path / "j.db", {"a": [0, 1, None], "b": [0, 0]})
    try:
        step = journal.step(stopped, 2)
        assert step is not None and (step.seq, step.exit_status, step.finished) == (2, 1, True)
        step = journal.step(stopped)
        assert step is not None and (step.seq, step.finished) == (3, False)
        assert journal.step(finished) is None  # every step finished
        assert journal.step(finished, 7) is None
        assert [s.as_dict() for s in journal.steps(stopped)][1] == journal.step(stopped, 2).as_dict()  # type: ignore[union-attr]
    finally:
        journal.close()


def test_record_from_a_row_or_a_mapping() -> None:
    from fmsh.journal.records import EventRecord

    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT 7 AS id, 3 AS task_id, 'created' AS kind, 'x' AS other").fetchone()
    event = EventRecord.from_row(row)
    assert (event.id, event.task_id, event.kind, event.at, event.detail) == (7, 3, "created", None, None)
    event = EventRecord.from_row({"id": 8, "kind": "claimed"})
    assert (event.id, event.kind, event.task_id) == (8, "claimed", None)


def test_many_processes_opening_a_new_journal_at_once(tmp_path: Path) -> None:
    """The first processes on a new journal switch it to WAL; SQLite refuses that switch at
    once, without waiting, while another opens the file: each must wait its turn, not fail
    with `locked` (two `lock` users started together did, in CI). The processes start
    together on a signal (a file appearing), so that they do meet."""
    opener = (
        "import os, sys, time\n"
        "from fmsh.journal.sqlite import SQLiteJournal\n"
        "while not os.path.exists(sys.argv[2]): time.sleep(0.001)\n"
        "SQLiteJournal(sys.argv[1]).close()\n"
        "print('ok')\n"
    )
    for round_ in range(10):
        journal, go = tmp_path / f"new{round_}.db", tmp_path / f"go{round_}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", opener, str(journal), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for _ in range(6)
        ]
        time.sleep(0.3)  # all started and watching
        go.touch()
        results = [(p.wait(60), *p.communicate()) for p in procs]
        assert all(r[:2] == (0, "ok\n") for r in results), results
