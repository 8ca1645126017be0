"""What must hold after a chaos run, each check returning its violations as data.

(a) no finished step ran again: a (step, host) the journal had finished at a snapshot
    gets no new ledger record after it; every execution in the ledgers belongs to an
    attempt the journal has, and no (step, attempt, host) ran more often than its tries;
    a host journaled as succeeded has an execution; two executions of one step on one
    host never overlap in time;
(b) every output chunk journaled at a snapshot is still there at the end, byte for byte;
(c) every task ended in a definite state (done, failed, cancelled);
(d) PRAGMA integrity_check is ok;
(e) no remote process is left (the workload's command lines hold the ledger's path);
(f) no lease is left held: no task's, no lock's.

Snapshots read the journal through a read-only connection, so that the writer under test
is never disturbed.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from chaos.workload import Stream, payload

DEFINITE = ("done", "failed", "cancelled")
ENDED = (None, "exit", "signal")  # failure classes of a host that ran the command to its end


@dataclass(frozen=True)
class Violation:
    invariant: str  # a..f, or stream / traceback / hang (the driver's)
    where: str
    what: str

    def __str__(self) -> str:
        return f"({self.invariant}) {self.where}: {self.what}"


@dataclass(frozen=True)
class Execution:
    """One run of a remote command, from its host's ledger."""

    task: int
    seq: int
    attempt: int
    host: str
    name: str
    pid: str
    begin: float
    last: float  # its last record: a tick or its end
    ended: bool


@dataclass
class Snapshot:
    at: float
    finished: set[tuple[int, int, str]] = field(default_factory=set)  # (task, seq, host)
    chunks: dict[tuple[int, int, str, int, int], bytes] = field(default_factory=dict)
    executions: Counter[tuple[int, int, str]] = field(default_factory=Counter)


def read_only(journal: Path) -> sqlite3.Connection | None:
    if not journal.exists():
        return None
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=10)
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def snapshot(journal: Path, ledger: Path) -> Snapshot:
    """What the journal had acknowledged now, then the ledgers (in this order: a step's
    records are written before its result is journaled)."""
    snap = Snapshot(time.time())
    conn = read_only(journal)
    if conn is not None:
        try:
            tables = _tables(conn)
            if {"steps", "step_hosts", "output"} <= tables:
                steps = {
                    (t, s): (status, kind)
                    for t, s, status, kind in conn.execute("SELECT task_id, seq, status, kind FROM steps")
                }
                for task, seq, host, failure in conn.execute("SELECT task_id, seq, host, failure FROM step_hosts"):
                    status, kind = steps.get((task, seq), ("", ""))
                    # A host that finished a fan-out is not run again (fmsh skips it); a
                    # pipeline or a capture runs again whole until the step is finished.
                    if status == "finished" or (kind == "remote" and failure in ENDED):
                        snap.finished.add((task, seq, host))
                for task, seq, host, attempt, chunk, data in conn.execute(
                    "SELECT task_id, seq, host, attempt, chunk, data FROM output"
                ):
                    snap.chunks[(task, seq, host, attempt, chunk)] = bytes(data)
        except sqlite3.Error:
            pass  # not created yet, or the writer's first transaction is not in: nothing acknowledged
        finally:
            conn.close()
    for run in executions(ledger):
        snap.executions[(run.task, run.seq, run.host)] += 1
    return snap


def executions(ledger: Path) -> list[Execution]:
    """Each host's ledger (`begin|tick|end MARKER HOST NAME PID TIME`) as executions."""
    found: dict[tuple[str, str, str, str], dict[str, float | bool]] = {}
    for path in sorted(ledger.iterdir()) if ledger.exists() else []:
        if "." in path.name or not path.is_file() or path.name in ("slow",) or path.name.startswith("flag-"):
            continue
        for line in path.read_text(errors="replace").splitlines():
            fields = line.split()
            if len(fields) != 6 or fields[0] not in ("begin", "tick", "end"):
                continue
            what, marker, host, name, pid, at = fields
            entry = found.setdefault((marker, host, name, pid), {"begin": float(at), "last": float(at), "ended": False})
            entry["last"] = max(float(entry["last"]), float(at))
            if what == "begin":
                entry["begin"] = float(at)
            if what == "end":
                entry["ended"] = True
    runs = []
    for (marker, host, name, pid), entry in found.items():
        parts = marker.split(".")
        if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
            parts = ["0", "0", "0", ""]  # no FMSH_ATTEMPT: reported by `check_executions`
        runs.append(
            Execution(
                int(parts[0]),
                int(parts[1]),
                int(parts[2]),
                host,
                name,
                pid,
                float(entry["begin"]),
                float(entry["last"]),
                bool(entry["ended"]),
            )  # fmt: skip
        )
    return runs


def check_executions(journal: Path, ledger: Path, snapshots: list[Snapshot], label: str) -> list[Violation]:
    """(a)"""
    found: list[Violation] = []
    runs = executions(ledger)
    final: Counter[tuple[int, int, str]] = Counter((r.task, r.seq, r.host) for r in runs)
    reported: set[tuple[int, int, str]] = set()
    for snap in snapshots:
        for task, seq, host in sorted(snap.finished - reported):
            before, after = snap.executions[(task, seq, host)], final[(task, seq, host)]
            if after != before:
                reported.add((task, seq, host))
                found.append(
                    Violation("a", f"{label} task {task} step {seq} on {host}",
                              f"finished before a fault ({before} executions), {after} at the end: ran again")
                )  # fmt: skip
    conn = read_only(journal)
    if conn is None:
        if runs:
            found.append(Violation("a", label, f"{len(runs)} executions in the ledgers and no journal"))
        return found
    try:
        attempts = {(t, s, a) for t, s, a in conn.execute("SELECT task_id, seq, attempt FROM attempts")}
        tries: dict[tuple[int, int, int, str], int] = {}
        for t, s, a, h, n in conn.execute(
            'SELECT task_id, seq, attempt, host, max("try") FROM host_tries GROUP BY 1, 2, 3, 4'
        ):
            tries[(t, s, a, h)] = n
        succeeded = list(conn.execute("SELECT task_id, seq, attempt, host FROM step_hosts WHERE failure IS NULL"))
    finally:
        conn.close()
    per_try: Counter[tuple[int, int, int, str]] = Counter((r.task, r.seq, r.attempt, r.host) for r in runs)
    for (task, seq, attempt, host), count in sorted(per_try.items()):
        where = f"{label} task {task} step {seq} attempt {attempt} on {host}"
        if (task, seq, attempt) not in attempts:
            found.append(Violation("a", where, f"{count} executions of an attempt the journal does not have"))
        elif count > tries.get((task, seq, attempt, host), 1):
            journaled = tries.get((task, seq, attempt, host), 1)
            found.append(Violation("a", where, f"ran {count} times, the journal has {journaled} tries"))
    for task, seq, attempt, host in succeeded:
        if per_try[(task, seq, attempt, host)] == 0:
            found.append(
                Violation("a", f"{label} task {task} step {seq} attempt {attempt} on {host}",
                          "journaled as succeeded, never ran there")
            )  # fmt: skip
    by_step: dict[tuple[int, int, str], list[Execution]] = defaultdict(list)
    for run in runs:
        by_step[(run.task, run.seq, run.host)].append(run)
    for (task, seq, host), group in sorted(by_step.items()):
        group.sort(key=lambda r: r.begin)
        for earlier, later in zip(group, group[1:], strict=False):
            if earlier.last > later.begin:
                overlap = earlier.last - later.begin
                what = (
                    f"ran twice at the same time: attempt {earlier.attempt} (pid {earlier.pid}) was still running "
                    f"{overlap:.2f}s into attempt {later.attempt} (pid {later.pid})"
                )
                found.append(Violation("a", f"{label} task {task} step {seq} on {host}", what))
    return found


def check_chunks(journal: Path, snapshots: list[Snapshot], label: str) -> list[Violation]:
    """(b)"""
    conn = read_only(journal)
    if conn is None:
        return []
    try:
        final = {
            (t, s, h, a, c): bytes(d)
            for t, s, h, a, c, d in conn.execute("SELECT task_id, seq, host, attempt, chunk, data FROM output")
        }
    finally:
        conn.close()
    found = []
    for snap in snapshots:
        for key, data in snap.chunks.items():
            if final.get(key) != data:
                task, seq, host, attempt, chunk = key
                what = "missing" if key not in final else f"changed ({len(data)} bytes -> {len(final[key])})"
                found.append(
                    Violation("b", f"{label} task {task} step {seq} attempt {attempt} on {host} chunk {chunk}", what)
                )
    return found


def check_journal(journal: Path, label: str) -> list[Violation]:
    """(c), (d), (f)"""
    conn = read_only(journal)
    if conn is None:
        return [Violation("c", label, f"no journal at {journal}")]
    found = []
    try:
        for (result,) in conn.execute("PRAGMA integrity_check"):
            if result != "ok":
                found.append(Violation("d", label, f"integrity_check: {result}"))
        now = time.time()
        for task, status, lease, owner in conn.execute("SELECT id, status, lease_expires, owner_pid FROM tasks"):
            if status not in DEFINITE:
                found.append(Violation("c", f"{label} task {task}", f"ended {status}, not done/failed/cancelled"))
            if lease is not None and (status in DEFINITE or lease > now):
                found.append(Violation("f", f"{label} task {task}", f"lease still held by pid {owner} ({status})"))
        if "locks" in _tables(conn):
            for name, holder, released in conn.execute(
                "SELECT name, holder, released_at FROM locks WHERE holder IS NOT NULL"
            ):
                found.append(Violation("f", f"{label} lock {name}", f"still held by {holder} (released {released})"))
    finally:
        conn.close()
    return found


def leftover_processes(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines()[1:] if marker in line and "ps -eo" not in line]


def check_processes(marker: str, label: str, grace: float = 3.0) -> list[Violation]:
    """(e): a command whose channel was just closed may take a moment to see it."""
    deadline = time.monotonic() + grace
    while True:
        left = leftover_processes(marker)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return [Violation("e", label, f"left running: {line}") for line in left]


def check_streams(journal: Path, ledger: Path, streams: list[Stream], label: str) -> list[Violation]:
    """A stream step that the journal says succeeded delivered its payload exactly."""
    conn = read_only(journal)
    if conn is None:
        return []
    try:
        ok = {
            (t, s)
            for t, s in conn.execute("SELECT task_id, seq FROM steps WHERE status = 'finished' AND exit_status = 0")
        }
    finally:
        conn.close()
    seqs = {r.name: (r.task, r.seq) for r in executions(ledger)}
    found = []
    for stream in streams:
        step = seqs.get(stream.name)
        if step is None or step not in ok:
            continue
        path = ledger / f"{stream.sink}.{stream.name}"
        got = path.read_bytes() if path.exists() else b""
        if got != payload(stream.name, stream.lines):
            found.append(
                Violation("stream", f"{label} task {step[0]} step {step[1]} {stream.name} on {stream.sink}",
                          f"succeeded but delivered {len(got)} bytes, not the {stream.lines} lines sent")
            )  # fmt: skip
    return found
