"""The journal in an rqlite cluster (Raft-replicated SQLite), for a fleet of machines:

    FMSH_JOURNAL=rqlite://HOST:PORT[,HOST:PORT...]     (rqlites:// for HTTPS)

The same tables, migrations and code as the file journal (sqlite.py): RQLiteJournal is
that journal with its transactions carried out another way. rqlite runs each request's
statements in one transaction on the leader, through Raft, but has no interactive
transactions; so each of the journal's transactions (a Python function over a
connection) runs optimistically, against a stand-in connection:

- a read runs at once, after the transaction's own writes so far (in a request that is
  then rolled back), and its result is kept, as SQLite renders it (quote()); a read
  this process made before (the task's epoch, before each step) is reused without asking,
  since the guard checks it all the same;
- a write is kept, in order; its rowid or row count, when asked for, comes from such a
  rolled-back request too;
- at the end, one request replays the writes in order, with a guard in the place of each
  read (and each rowid or count asked for) that fails when the result differs now. A
  guard that fails rolls the whole request back: another client changed what the
  function read, and the function runs again on what is there now. The request starts
  with a unique commit id (table fmsh_commits), so that sending it again, when its answer
  was lost with a dying node, cannot apply it twice.

So a transaction commits only if everything it read still holds when its writes land:
leases, fencing epochs, locks and step results are decided as strongly as in one file,
at the cost of a request per read. The reads outside a transaction (listing tasks, a
trace) are the leader's (level weak). Any node can be asked: a follower forwards to the
leader; a node that does not answer is skipped, and a cluster without a leader (an
election) is waited for, up to FMSH_JOURNAL_TIMEOUT.
"""

from __future__ import annotations

import base64
import json
import random
import sqlite3
import threading
import time

from fmsh.journal import schema
from fmsh.journal.errors import JournalError
from fmsh.journal.sqlite import SQLiteJournal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import Any, TypeVar

    T = TypeVar("T")

SCHEMES = ("rqlite://", "rqlites://")
_GUARD_TABLE = "fmsh_guard"  # a guard fails by inserting a row its CHECK refuses
_GUARD_FAILED = "CHECK constraint failed: x = 0"
_COMMITS = "fmsh_commits"  # the ids of the commits that landed: sending one again is harmless
_FAIL = [f"INSERT INTO {_GUARD_TABLE} (x) VALUES (1)"]  # ends a request that must not commit
_READS = ("SELECT", "WITH", "PRAGMA", "VALUES")


def is_rqlite(spec: str) -> bool:
    return spec.startswith(SCHEMES)


class _Conflict(Exception):
    """What a transaction read changed before its writes landed: run it again."""


# --- the cluster's HTTP API -----------------------------------------------------------------


class Cluster:
    """The nodes of one cluster; each request goes to the node that answered last, else the
    next, until one answers or `timeout` passes."""

    def __init__(self, url: str, timeout: float) -> None:
        from urllib.parse import urlsplit

        self.url = url
        self.https = url.startswith("rqlites://")
        rest = url.split("://", 1)[1].split("/", 1)[0]
        userinfo, _, hosts = rest.rpartition("@")
        self.auth = "Basic " + base64.b64encode(userinfo.encode()).decode() if userinfo else None
        self.nodes = [h.strip() for h in hosts.split(",") if h.strip()]
        for node in self.nodes:
            parts = urlsplit(f"http://{node}")
            if not parts.hostname or not parts.port:
                raise JournalError(f"FMSH_JOURNAL={_shown(url)}: `{node}' is not HOST:PORT (as in db1:4001)")
        if not self.nodes:
            raise JournalError(f"FMSH_JOURNAL={_shown(url)}: no nodes (as in rqlite://db1:4001,db2:4001)")
        self.timeout = max(timeout, 1.0)
        self.current = 0
        self._local = threading.local()  # a keep-alive connection per thread and node

    def request(self, statements: list[list[Any]], *, transaction: bool, level: str = "weak") -> list[dict[str, Any]]:
        """The results of `statements` ([sql, *params] each) in one request (/db/request)."""
        query = f"?level={level}&timings=false" + ("&transaction" if transaction else "")
        body = json.dumps([_encoded(s) for s in statements]).encode()
        deadline = time.monotonic() + self.timeout
        problem = ""
        pause = 0.05
        while True:
            for turn in range(len(self.nodes)):
                index = (self.current + turn) % len(self.nodes)
                status, data, problem = self._post(index, "/db/request" + query, body)
                if status == 200:
                    answer = json.loads(data)
                    if "error" not in answer:
                        self.current = index
                        results: list[dict[str, Any]] = answer.get("results", [])
                        return results
                    # The node could not reach the leader (it died, an election runs): the
                    # request may or may not have been applied; a commit carries an id that
                    # makes sending it again safe (Transaction.commit).
                    problem = f"{self.nodes[index]}: {answer['error']}"
                if status in (401, 403):
                    raise JournalError(f"the rqlite journal {_shown(self.url)} refused fmsh: {problem}")
            if time.monotonic() + pause > deadline:
                raise JournalError(
                    f"the rqlite journal {_shown(self.url)} did not answer within {self.timeout:g} s "
                    f"(last: {problem}): check that its nodes run and have a leader; "
                    "FMSH_JOURNAL_TIMEOUT sets how long to wait"
                )
            time.sleep(pause)  # no node answered, or none has a leader (an election): again
            pause = min(pause * 2, 0.5)

    def _post(self, index: int, path: str, body: bytes) -> tuple[int, bytes, str]:
        import http.client

        connections: dict[int, http.client.HTTPConnection] = getattr(self._local, "connections", None) or {}
        self._local.connections = connections
        node = self.nodes[index]
        for fresh in (False, True):
            conn = connections.get(index)
            if conn is None or fresh:
                if conn is not None:
                    conn.close()
                host, _, port = node.rpartition(":")
                kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
                conn = kind(host.strip("[]"), int(port), timeout=min(self.timeout, 5.0))
                connections[index] = conn
            headers = {"Content-Type": "application/json"}
            if self.auth:
                headers["Authorization"] = self.auth
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                connections.pop(index, None)
                if fresh or isinstance(e, TimeoutError | ConnectionRefusedError):
                    return 0, b"", f"{node}: {getattr(e, 'strerror', None) or e or type(e).__name__}"
                continue  # a kept-alive connection the node had closed: once more, on a new one
            if response.status == 200:
                return 200, data, ""
            return (
                response.status,
                data,
                f"{node}: HTTP {response.status} {data[:200].decode(errors='replace').strip()}",
            )
        return 0, b"", f"{node}: no answer"

    def close(self) -> None:
        for conn in (getattr(self._local, "connections", None) or {}).values():
            conn.close()


def _encoded(statement: list[Any]) -> list[Any]:
    """rqlite takes no bytes as a parameter: such a `?` becomes unhex(?) with hex text."""
    sql, params = statement[0], statement[1:]
    if not any(isinstance(p, bytes) for p in params):
        return [sql, *params]
    pieces = _split_marks(sql)
    out = [pieces[0]]
    values = []
    for k, param in enumerate(params):
        if isinstance(param, bytes):
            out.append("unhex(?)")
            values.append(param.hex())
        else:
            out.append("?")
            values.append(param)
        out.append(pieces[k + 1])
    return ["".join(out), *values]


def _split_marks(sql: str) -> list[str]:
    """The text between the `?` marks of `sql` (outside quotes)."""
    pieces, start, quote = [], 0, ""
    for k, c in enumerate(sql):
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "?":
            pieces.append(sql[start:k])
            start = k + 1
    pieces.append(sql[start:])
    return pieces


def _shown(url: str) -> str:
    """The URL without a password."""
    scheme, _, rest = url.partition("://")
    userinfo, at, hosts = rest.rpartition("@")
    return f"{scheme}://{userinfo.split(':')[0] + '@' if at else ''}{hosts}"


# --- rows -----------------------------------------------------------------------------------


class Row:
    """A row as sqlite3.Row gives it: by index or by column name."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: list[Any]) -> None:
        self._names = names
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[key if isinstance(key, int) else self._names[key]]

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _rows(result: dict[str, Any]) -> tuple[list[str], list[Row]]:
    if "error" in result:
        raise _statement_error(str(result["error"]))
    columns: list[str] = result.get("columns") or []
    types: list[str] = result.get("types") or []
    names = {name: k for k, name in enumerate(columns)}
    blobs = [k for k, t in enumerate(types) if t == "blob"]
    rows = []
    for values in result.get("values") or []:
        for k in blobs:
            if isinstance(values[k], str):
                values[k] = base64.b64decode(values[k])
        rows.append(Row(names, values))
    return columns, rows


def _statement_error(text: str) -> sqlite3.Error:
    if _GUARD_FAILED in text:
        raise _Conflict()
    if "constraint" in text.lower():
        return sqlite3.IntegrityError(text)
    return sqlite3.OperationalError(text)


_SEEN_MAX = 256  # reads kept for reuse by one journal
_WIDTHS: dict[str, int] = {}  # a read's number of columns, by its SQL (the journal's are few and fixed)


def _reading(sql: str) -> bool:
    return sql.lstrip().upper().startswith(_READS)


def _as_rendered(sql: str, width: int) -> str:
    """`sql`'s rows as SQLite renders them, exactly (blobs as X'..', reals to the bit)."""
    names = ", ".join(f"c{k}" for k in range(width))
    row = ", ".join(f"quote(c{k})" for k in range(width))
    return f"WITH g({names}) AS ({sql}) SELECT json_group_array(json_array({row})) FROM g"


def _exact_text(sql: str, width: int) -> str:
    """`sql` with each TEXT-declared value that holds a BLOB as `x:HEX` (rqlite would show it as
    lossy text)."""
    names = ", ".join(f"c{k}" for k in range(width))
    row = ", ".join(f"CASE typeof(c{k}) WHEN 'blob' THEN 'x:' || hex(c{k}) ELSE c{k} END" for k in range(width))
    return f"WITH g({names}) AS ({sql}) SELECT {row} FROM g"


# --- a transaction --------------------------------------------------------------------------


class _Cursor:
    def __init__(self, rows: list[Row] | None = None, facts: Callable[[], tuple[int, int]] | None = None) -> None:
        self._rows = rows or []
        self._facts = facts  # a write's (rowid, changes), worked out when asked for

    def fetchone(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Row]:
        return self._rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    @property
    def lastrowid(self) -> int:
        assert self._facts is not None
        return self._facts()[0]

    @property
    def rowcount(self) -> int:
        assert self._facts is not None
        return self._facts()[1]


class Transaction:
    """The stand-in connection that a journal transaction runs against (see the top)."""

    in_transaction = False

    def __init__(self, cluster: Cluster, seen: dict[tuple[Any, ...], tuple[list[Row], Any]] | None = None) -> None:
        self.cluster = cluster
        self.log: list[list[Any]] = []  # writes and guards, in order
        self.writes = 0
        # Reads this process made before (rows, rendering), reused without asking: the guard
        # checks them at the commit all the same, and a conflict runs the transaction again
        # without them (RQLiteJournal._write). None: every read asks.
        self.seen = seen
        self.reused = False

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        if _reading(sql):
            return _Cursor(self._read(sql, list(params)))
        statement = [sql, *params]
        self.log.append(statement)
        self.writes += 1
        facts: list[tuple[int, int]] = []

        def worked_out() -> tuple[int, int]:
            if not facts:
                at = next(k for k, s in enumerate(self.log) if s is statement) + 1
                results = self._dry([*self.log[:at], ["SELECT last_insert_rowid(), changes()"]])
                _, rows = _rows(results[at])
                rowid, changes = int(rows[0][0]), int(rows[0][1])
                if sql.lstrip().upper().startswith(("INSERT", "REPLACE")):
                    guard = ["SELECT 1 WHERE last_insert_rowid() IS NOT ? OR changes() IS NOT ?", rowid, changes]
                else:  # last_insert_rowid() is whatever was inserted last, by anyone: not this write's
                    guard = ["SELECT 1 WHERE changes() IS NOT ?", changes]
                self.log.insert(at, [f"INSERT INTO {_GUARD_TABLE} (x) {guard[0]}", *guard[1:]])
                facts.append((rowid, changes))
            return facts[0]

        return _Cursor(facts=worked_out)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        for params in rows:
            self.execute(sql, params)

    def _read(self, sql: str, params: list[Any]) -> list[Row]:
        """Run a read and its rendering in one request (so that the guard checks exactly what
        was read), or reuse what this process read before (not after this transaction's own
        writes); put its guard in the log."""
        key = (sql, *params)
        if self.seen is not None and not self.writes and key in self.seen:
            rows, value = self.seen[key]
            self.reused = True
        else:
            rows, value = self._ask(sql, params)
            if self.seen is not None and not self.writes and value is not None:
                if len(self.seen) > _SEEN_MAX:
                    self.seen.clear()
                self.seen[key] = (rows, value)
        if value is not None:
            guard = f"SELECT 1 WHERE ({_as_rendered(sql, _WIDTHS[sql])}) IS NOT ?"
            self.log.append([f"INSERT INTO {_GUARD_TABLE} (x) {guard}", *params, value])
        return rows

    def _ask(self, sql: str, params: list[Any]) -> tuple[list[Row], Any]:
        """The rows of a read and SQLite's rendering of them (None for a read of no columns)."""
        width = _WIDTHS.get(sql)
        if width is None:  # its number of columns, first (the rendering is built on it)
            probe = [[sql, *params]]
            results = self._dry([*self.log, *probe]) if self.log else self.cluster.request(probe, transaction=True)
            columns, rows = _rows(results[-1])
            width = _WIDTHS[sql] = len(columns)
            if not width:
                return rows, None
        probe = [[sql, *params], [_as_rendered(sql, width), *params]]
        results = self._dry([*self.log, *probe]) if self.log else self.cluster.request(probe, transaction=True)
        columns, rows = _rows(results[-2])
        _, value = _rows(results[-1])
        if any(isinstance(v, str) and "\ufffd" in v for row in rows for v in row):
            rows = self._exact(sql, params, columns)
        return rows, value[0][0]

    def _exact(self, sql: str, params: list[Any], columns: list[str]) -> list[Row]:
        exact = [[_exact_text(sql, len(columns)), *params]]
        results = self._dry([*self.log, *exact]) if self.log else self.cluster.request(exact, transaction=True)
        _, rows = _rows(results[-1])
        names = {name: k for k, name in enumerate(columns)}
        fixed = []
        for row in rows:
            values = [bytes.fromhex(v[2:]) if isinstance(v, str) and v.startswith("x:") else v for v in row]
            fixed.append(Row(names, values))
        return fixed

    def _dry(self, statements: list[list[Any]]) -> list[dict[str, Any]]:
        """Run `statements` (this transaction's log so far, and more), then roll it all back.
        The results of all but the last, which is the failure that rolls back."""
        results = self.cluster.request([*statements, _FAIL], transaction=True)
        for result in results[: len(statements)]:
            if "error" in result:
                raise _statement_error(str(result["error"]))
        if len(results) <= len(statements):
            raise sqlite3.OperationalError("rqlite answered fewer results than statements")
        return results[: len(statements)]

    def commit(self) -> None:
        """One request: the commit's id (sent again after an answer that was lost, a second
        copy fails on it, which says the first landed), then the log."""
        if not self.writes:
            if self.reused:  # it only read, some of it from before: check that it still holds
                results = self.cluster.request(self.log, transaction=True, level="strong")
                for result in results:
                    if "error" in result:
                        raise _statement_error(str(result["error"]))
            return  # it only read: what it read was so when it read it
        import uuid

        now = time.time()
        first = [[f"INSERT INTO {_COMMITS} (id, at) VALUES (?, ?)", uuid.uuid4().hex, now]]
        if random.random() < 0.005:  # now and then, forget the ids of a day ago
            first.append([f"DELETE FROM {_COMMITS} WHERE at < ?", now - 86400])
        results = self.cluster.request([*first, *self.log], transaction=True, level="strong")
        if results and "error" in results[0] and _COMMITS in str(results[0]["error"]):
            return  # an earlier copy of this request landed, its answer was lost
        for result in results:
            if "error" in result:
                raise _statement_error(str(result["error"]))


# --- the journal ----------------------------------------------------------------------------


class RQLiteJournal(SQLiteJournal):
    poll_every = 0.25  # `await signal` asks the cluster four times a second

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.path = _shown(url)
        self.timeout = timeout
        self._lock = threading.RLock()
        self._writes = 0
        self._nothing_at = None
        self._seen: dict[tuple[Any, ...], tuple[list[Row], Any]] = {}  # reads reused, guarded (Transaction)
        self.cluster = Cluster(url, timeout)
        self._setup_cluster()

    def _setup_cluster(self) -> None:
        cluster = self.cluster
        try:
            guard_table = f"CREATE TABLE IF NOT EXISTS {_GUARD_TABLE} (x INTEGER CHECK (x = 0))"
            commits = f"CREATE TABLE IF NOT EXISTS {_COMMITS} (id TEXT PRIMARY KEY, at REAL NOT NULL)"
            cluster.request([[guard_table], [commits]], transaction=True)
            while True:
                version, tables = self._version()
                if version > schema.LATEST:
                    raise JournalError(
                        f"the journal {self.path} was written by a newer fmsh (schema {version}; this fmsh knows up "
                        f"to {schema.LATEST}): upgrade fmsh, or set FMSH_JOURNAL to another journal"
                    )
                if version == schema.LATEST:
                    return
                if version == 0 and set(tables) - {_GUARD_TABLE, _COMMITS}:
                    raise self._foreign(tables)
                try:
                    self._migrate(version)
                    return
                except _Conflict:
                    continue  # another fmsh migrated it meanwhile
        except sqlite3.Error as e:
            raise self._error(e) from None

    def _version(self) -> tuple[int, list[str]]:
        results = self.cluster.request(
            [["SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"]],
            transaction=False,
            level="strong",
        )
        _, rows = _rows(results[0])
        tables = [str(r[0]) for r in rows]
        if "schema_migrations" not in tables:
            return 0, tables
        _, rows = _rows(self.cluster.request([["SELECT max(version) FROM schema_migrations"]], transaction=False)[0])
        return int(rows[0][0] or 0), tables

    def _migrate(self, current: int) -> None:
        """The migrations after `current`, as the statements they run on a file journal,
        in one request that first checks that the version is still `current`."""
        memory = sqlite3.connect(":memory:", isolation_level=None)
        try:
            if current:
                schema.migrate(memory, 0, time.time(), target=current)
            statements: list[str] = []
            memory.set_trace_callback(statements.append)
            schema.migrate(memory, current, time.time())
        finally:
            memory.close()
        writes = [[s] for s in statements if not s.lstrip().upper().startswith((*_READS, "BEGIN", "COMMIT"))]
        if current:
            check = "SELECT 1 WHERE (SELECT max(version) FROM schema_migrations) IS NOT ?"
            guard = [f"INSERT INTO {_GUARD_TABLE} (x) {check}", current]
        else:
            check = "SELECT 1 WHERE EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations')"
            guard = [f"INSERT INTO {_GUARD_TABLE} (x) {check}"]
        results = self.cluster.request([guard, *writes], transaction=True, level="strong")
        for result in results:
            if "error" in result:
                raise _statement_error(str(result["error"]))

    # --- transactions -----------------------------------------------------------------------

    def _write(self, action: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            self._writes += 1
            deadline = time.monotonic() + max(self.timeout, 1.0)
            pause = 0.002
            seen: dict[tuple[Any, ...], tuple[list[Row], Any]] | None = self._seen
            while True:
                transaction = Transaction(self.cluster, seen)
                try:
                    result = action(transaction)  # type: ignore[arg-type]
                    transaction.commit()
                    return result
                except _Conflict:
                    self._seen.clear()  # what this process had read is out of date
                    seen = None  # and this transaction, again, asks for everything
                    if time.monotonic() > deadline:
                        raise JournalError(
                            f"the journal {self.path} is too busy: a change kept meeting others' for "
                            f"{self.timeout:g} s; FMSH_JOURNAL_TIMEOUT sets how long to try"
                        ) from None
                    time.sleep(random.uniform(0, pause))  # others wrote what it read: again
                    pause = min(pause * 2, 0.2)
                except sqlite3.Error as e:
                    raise self._error(e) from None
                except Exception:
                    if not transaction.reused:
                        raise
                    # Decided on a read reused from before (TaskStopped for an epoch this
                    # process has since moved itself): decide again on what is there now.
                    self._seen.clear()
                    seen = None

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                results = self.cluster.request([[sql, *args]], transaction=False)
                columns, rows = _rows(results[0])
                if columns and any(isinstance(v, str) and "\ufffd" in v for row in rows for v in row):
                    rows = Transaction(self.cluster)._exact(sql, list(args), columns)
                return rows  # type: ignore[return-value]
            except _Conflict:
                raise AssertionError("a read met a guard") from None
            except sqlite3.Error as e:
                raise self._error(e) from None

    def _change_mark(self) -> tuple[int, int]:
        self._writes += 1  # no cheap way to know whether the cluster changed: always look
        return 0, self._writes

    def _error(self, error: sqlite3.Error) -> JournalError:
        return JournalError(f"the journal {self.path}: {error}")

    def integrity_check(self) -> str:
        return "; ".join(str(r[0]) for r in self._read("PRAGMA integrity_check"))

    def close(self) -> None:
        self.cluster.close()


def open_rqlite(url: str, timeout: float) -> RQLiteJournal:
    return RQLiteJournal(url, timeout)
