"""Callbacks and `fmsh --serve`: how many events a second one journal takes in over HTTP,
and how soon a waiting task wakes after the POST.

What it measures, in one run, side by side:

1. Events per second into one journal (N = 300 by default, 50 with --quick). A task makes
   N callbacks (`for i in $(seq N); do callback u; echo "$u" >> urls; done`) and then
   waits (`await signal stop timeout 10m`), so that every delivery is on time; then K
   client threads (K = 1 and 8; keep-alive connections, http.client) POST all N URLs,
   each with a small body, to one `fmsh --serve`, and to two serve processes sharing the
   journal (each thread alternates between them). Only the POSTs are timed. Beside it,
   the same N events as named signals POSTed to /signal/ID/NAME of one serve. Baselines,
   in the same run:
     - `fmsh -c 'signal ID ev v'`, one process per event, 1 and 8 at a time (what a user
       without serve does, as over ssh); --cli-n events (60; 20 with --quick) since each
       costs a process, with FMSH_JOURNAL_SYNC=full, serve's promise that an event is on
       disk;
     - the floor: a minimal stdlib ThreadingHTTPServer (HTTP/1.1 keep-alive) that INSERTs
       each body into a SQLite table (WAL, synchronous=FULL, one connection behind a lock,
       as serve's journal), the same clients;
     - the peer DBOS (bench/.venv, when bench/setup installed it; left out when missing):
       the same minimal HTTP server calling DBOS.send(workflow, body, topic) into DBOS's
       SQLite system database, with a workflow waiting in DBOS.recv.
   Every answer must be 202 and afterwards the journal (or table) must hold exactly the
   events sent; anything else fails the run (a refused POST never counts as a delivery).
   The table shows events per second; the JSON record keeps seconds per event (so that
   the report's ratios are ratios of cost per event, lower is better).

2. Latency from POST to the waiting task waking, M = 20 times (8 with --quick): a task
   loops `callback u; printf '%s\n' "$u" > url.$i; await callback "$u" into b timeout 1m;
   echo "$i $EPOCHREALTIME $b" >> woke`; the client waits for url.$i, 50-70 ms more (so
   that the await is polling and the POST lands anywhere in its 20 ms poll), takes
   time.time() just before the POST and the latency is the wake time minus that. The same
   for a named signal POSTed to /signal/ID/NAME, for `fmsh -c 'signal ID go v'` (process
   start included: it is what that path costs) and for DBOS (DBOS.recv in a workflow,
   DBOS.send behind the same HTTP server; its SQLite notification poll set to 20 ms like
   fmsh's, and, outside --quick, its default of 1 s too). Median and p90 are printed.

Every run gets fresh journals in a temporary directory (--dir, default the system's),
deleted after it; every process it starts is stopped (SIGTERM, then SIGKILL) before it
ends. A 202 from serve means the event is synced to disk, so the numbers depend on the
file system of --dir (printed; on tmpfs fsync is nil).

Targets: median POST /cb -> wake under 100 ms; one `fmsh --serve` takes at least 200
callbacks a second from 8 clients. A missed target is reported, not an error; the exit
status is 1 only if a run failed (refused POST, wrong journal, timeout, a crashed process).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import _timing as t
from journal import fs_type

TARGET_LATENCY_MS = 100.0
TARGET_RATE = 200.0  # callbacks per second into one serve, 8 clients
KS = (1, 8)
ENV_PREFIXES = ("FMSH_JOURNAL", "FMSH_CALLBACK", "FMSH_SERVE", "FMSH_REPLICA", "FMSH_TASK", "FMSH_STEP")
BENCH_PYTHON = t.BENCH_DIR / ".venv" / "bin" / "python"
DBOS_POLL = 0.02  # seconds: DBOS's SQLite notification poll, as fmsh's await polls
START_TIMEOUT = 30.0


class Failed(Exception):
    """A run that cannot count: the reason."""


# --- the processes this bench starts ---------------------------------------------------


class Proc:
    """A process in a session of its own, so that stop() ends it and whatever it started."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.argv = argv
        self.log_path = log
        self.log = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.p = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log,
            text=True, start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))
            self.ready.set()
        self.ready.set()

    def output(self) -> str:
        return "\n".join(self.lines) + "\n" + self.log_path.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failed(f"{' '.join(self.argv[:3])}... did not end within {timeout:g} s") from None

    def stop(self, grace: float = 10.0) -> int:
        if self.p.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)  # it and what it started (its group)
        rc = self.p.wait()
        self._reader.join(5)
        self.log.close()
        return rc

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class Serve(Proc):
    """`fmsh --serve` on a free loopback port; its URL from what it prints on stderr."""

    def __init__(self, fmsh: str, env: dict[str, str], cwd: Path, token_file: Path, name: str) -> None:
        argv = [fmsh, "--serve", "--listen", "127.0.0.1:0", "--quiet", "--token-file", str(token_file)]
        super().__init__(argv, env, cwd, cwd / f"{name}.log")
        deadline = time.monotonic() + START_TIMEOUT
        self.url = ""
        while time.monotonic() < deadline and self.p.poll() is None:
            m = re.search(r" at (http://\S+)$", self.log_path.read_text(errors="replace"), re.MULTILINE)
            if m:
                self.url = m.group(1)
                break
            time.sleep(0.01)
        if not self.url:
            self.stop()
            raise Failed(f"fmsh --serve did not start: {_clip(self.output())}")
        parts = urlsplit(self.url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)

    def finish(self) -> None:
        """Stop it; a failure if it had died before, or stopped with a traceback or a bad status."""
        died = self.p.poll()
        rc = self.stop()
        out = self.output()
        if died is not None:
            raise Failed(f"fmsh --serve died during the run (status {died}): {_clip(out)}")
        if "Traceback" in out or rc != 0:
            raise Failed(f"fmsh --serve stopped with status {rc}: {_clip(out)}")


class PeerServer(Proc):
    """The floor (stdlib + sqlite3) or DBOS behind a minimal stdlib HTTP server (PEER_SERVER)."""

    def __init__(self, python: str, mode: str, db: Path, cwd: Path, options: dict[str, object], env: dict[str, str]):
        argv = [python, "-c", PEER_SERVER, mode, str(db), json.dumps(options)]
        super().__init__(argv, env, cwd, cwd / f"{mode}.log")
        if not self.ready.wait(START_TIMEOUT * 2) or not self.lines or not self.lines[0].startswith("ready "):
            self.stop()
            raise Failed(f"the {mode} server did not start: {_clip(self.output())}")
        self.address = ("127.0.0.1", int(self.lines[0].split()[1]))

    def finish(self) -> None:
        died = self.p.poll()
        self.stop()
        if died is not None:
            raise Failed(f"the peer server died during the run (status {died}): {_clip(self.output())}")


# The floor and the DBOS peer: `python -c PEER_SERVER MODE DB OPTIONS_JSON`. POST /send/TOPIC
# stores the body (floor: a row; dbos: DBOS.send to the workflow it started) and answers 202.
# It prints "ready PORT" once it listens; SIGTERM stops it.
PEER_SERVER = r"""
import http.server, json, os, signal, sqlite3, sys, threading, time
mode, db, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

if mode == "floor":
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, topic TEXT, body TEXT, at REAL)")
    lock = threading.Lock()

    def store(topic, body):
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO events (topic, body, at) VALUES (?, ?, ?)", (topic, body, time.time()))
            conn.execute("COMMIT")
else:
    import logging
    from dbos import DBOS
    DBOS(config={"name": "fmshbench", "system_database_url": "sqlite:///" + db, "log_level": "WARNING",
                 "notification_listener_polling_interval_sec": options["poll"]})
    logging.getLogger("dbos").setLevel(logging.WARNING)
    folder = options.get("folder", ".")

    @DBOS.step()
    def mark(name, text):
        with open(os.path.join(folder, name), "a") as f:
            f.write(text)

    @DBOS.workflow()
    def sink():
        DBOS.recv("stop", timeout_seconds=600)

    @DBOS.workflow()
    def waiter(m):
        for i in range(1, m + 1):
            mark(f"ready.{i}", f"{i}\n")
            body = DBOS.recv("go", timeout_seconds=60)
            woke = time.time()
            mark("woke", f"{i} {woke:.6f} {body}\n")

    DBOS.launch()
    handle = DBOS.start_workflow(waiter, options["m"]) if options.get("m") else DBOS.start_workflow(sink)
    wid = handle.get_workflow_id()

    def store(topic, body):
        DBOS.send(wid, body, topic)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else a keep-alive client waits ~40 ms for each answer

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        parts = self.path.split("/")
        if len(parts) == 3 and parts[1] == "send":
            store(parts[2], body)
            status, data = 202, b'{"stored": true}\n'
        else:
            status, data = 404, b'{"error": "POST /send/TOPIC"}\n'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
print("ready", server.server_address[1], flush=True)
server.serve_forever(poll_interval=0.1)
server.server_close()
if mode != "floor":
    DBOS.destroy(workflow_completion_timeout_sec=0)
os._exit(0)
"""


# --- clients ---------------------------------------------------------------------------


def post_all(
    addresses: list[tuple[str, int]], requests: list[tuple[str, bytes]], k: int, headers: dict[str, str]
) -> tuple[float, Counter[str]]:
    """POST every (path, body) from k threads, each with a keep-alive connection to every
    address, taking turns between them; (wall seconds, the answers by status)."""
    counter = itertools.count()
    results: list[str] = ["not sent"] * len(requests)

    def worker() -> None:
        conns = [http.client.HTTPConnection(host, port, timeout=60) for host, port in addresses]
        try:
            for turn in itertools.count():
                idx = next(counter)
                if idx >= len(requests):
                    return
                path, body = requests[idx]
                conn = conns[turn % len(conns)]
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    results[idx] = str(response.status)
                    if (response.getheader("Connection") or "").lower() == "close":
                        conn.close()
                except (OSError, http.client.HTTPException) as e:
                    results[idx] = type(e).__name__
                    conn.close()
        finally:
            for conn in conns:
                conn.close()

    return _in_threads(k, worker), Counter(results)


def _in_threads(k: int, worker: Callable[[], None]) -> float:
    """Run `worker` in k threads at once; the wall seconds until all have ended."""
    threads = [threading.Thread(target=worker) for _ in range(k)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t0


def run_all(argvs: list[list[str]], k: int, env: dict[str, str], timeout: float) -> tuple[float, Counter[str]]:
    """Run every argv, k at a time; (wall seconds, the outcomes: exit status or why not)."""
    counter = itertools.count()
    results: list[str] = ["not run"] * len(argvs)

    def worker() -> None:
        while (idx := next(counter)) < len(argvs):
            try:
                proc = subprocess.run(
                    argvs[idx], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout
                )
                results[idx] = f"exit {proc.returncode}" + (
                    "" if proc.returncode == 0 else f": {_clip(proc.stderr.decode())}"
                )
            except (OSError, subprocess.TimeoutExpired) as e:
                results[idx] = type(e).__name__

    return _in_threads(k, worker), Counter(results)


def post_one(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read().decode(errors="replace")


def wait_for(path: Path, deadline: float, lines: int = 1, task: Proc | None = None) -> list[str]:
    """The first `lines` complete lines of `path`, once it has them (polled every 2 ms);
    a failure when the deadline passes first, or `task` (which writes it) has ended."""
    while True:
        ended = task is not None and task.p.poll() is not None
        try:
            text = path.read_text()
        except FileNotFoundError:
            text = ""
        got = text.split("\n")[:-1]
        if len(got) >= lines:
            return got
        if ended:
            assert task is not None
            raise Failed(f"the task ended (status {task.p.returncode}) before {path.name} got {lines} line(s): "
                         f"{_clip(task.output())}")  # fmt: skip
        if time.monotonic() > deadline:
            raise Failed(f"{path.name} did not get {lines} line(s) in time (has {len(got)})")
        time.sleep(0.002)


def _clip(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + " ..."


# --- scripts -----------------------------------------------------------------------------


def maker_script(n: int) -> str:
    return (
        f'task makecb {{ for i in $(seq {n}); do callback u; echo "$u" >> urls; done; '
        "echo $FMSH_TASK_ID > id; await signal stop timeout 10m; }"
    )


SINK_SCRIPT = "task sink { echo $FMSH_TASK_ID > id; await signal stop timeout 10m; }"


def latency_cb_script(m: int) -> str:
    return (
        f"task latcb {{ for i in $(seq {m}); do callback u; printf '%s\\n' \"$u\" > url.$i; "
        'await callback "$u" into b timeout 1m; echo "$i $EPOCHREALTIME $b" >> woke; done; }'
    )


def latency_signal_script(m: int) -> str:
    return (
        f"task latsig {{ echo $FMSH_TASK_ID > id; for i in $(seq {m}); do echo $i > ready.$i; "
        'await signal go into b timeout 1m; echo "$i $EPOCHREALTIME $b" >> woke; done; }'
    )


# --- one bench run -------------------------------------------------------------------------


class Bench:
    def __init__(self, fmsh: str, root: Path, n: int, cli_n: int, m: int, timeout: float, dbos: bool) -> None:
        self.fmsh = fmsh
        self.root = root
        self.n = n
        self.cli_n = cli_n
        self.m = m
        self.timeout = timeout
        self.dbos = dbos
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
        self.token = secrets.token_hex(24)
        self.token_file = root / "token"
        self.token_file.write_text(self.token + "\n")
        self.token_file.chmod(0o600)
        self.runs = itertools.count(1)
        self.auth = {"Authorization": f"Bearer {self.token}"}

    # shared steps

    def fresh(self, name: str) -> Path:
        work = self.root / f"{name}-{next(self.runs)}"
        work.mkdir()
        return work

    def env(self, work: Path, **extra: str) -> dict[str, str]:
        return self.base_env | {"FMSH_JOURNAL": str(work / "j.db"), **extra}

    def task(self, work: Path, script: str, env: dict[str, str]) -> Proc:
        return Proc([self.fmsh, "-c", script], env, work, work / "task.log")

    def end_task(self, task: Proc, work: Path, task_id: str, env: dict[str, str]) -> None:
        """Send it `stop` (its final await) and wait for it to end well."""
        if task.p.poll() is None:
            proc = subprocess.run([self.fmsh, "-c", f"signal {task_id} stop v"], env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=60)  # fmt: skip
            if proc.returncode != 0:
                raise Failed(f"signal {task_id} stop: exit {proc.returncode}: {_clip(proc.stderr.decode())}")
        rc = task.wait(60)
        if rc != 0:
            raise Failed(f"the task ended with status {rc}: {_clip(task.output())}")

    @staticmethod
    def all_202(answers: Counter[str], n: int, what: str) -> None:
        if answers != Counter({"202": n}):
            shown = ", ".join(f"{k}: {v}" for k, v in answers.most_common())
            raise Failed(f"expected {n} answers 202 to {what}, got {shown}")

    @staticmethod
    def count(db: Path, sql: str) -> int:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()

    def measure(self, case: t.Case, kept: bool, body: Callable[[list[Proc]], float]) -> None:
        """Run `body` (which returns seconds per event, or raises Failed), stopping every
        process it registered in the list it gets, whatever happens."""
        procs: list[Proc] = []
        try:
            value = body(procs)
        except Failed as e:
            case.error = str(e)
            return
        except (OSError, sqlite3.Error, http.client.HTTPException, subprocess.SubprocessError) as e:
            case.error = f"{type(e).__name__}: {e}"
            return
        finally:
            for proc in procs:
                proc.stop()
        if kept:
            case.wall.append(value)

    # throughput, one run of each kind

    def serve_cb(self, serves: int, k: int) -> Callable[[t.Case, float, bool], None]:
        def body(procs: list[Proc]) -> float:
            work = self.fresh(f"cb{serves}k{k}")
            env = self.env(work)
            started: list[Serve] = []
            for i in range(serves):
                started.append(Serve(self.fmsh, env, work, self.token_file, f"serve{i}"))
                procs.append(started[-1])
            task = self.task(work, maker_script(self.n), env | {"FMSH_CALLBACK_URL": started[0].url})
            procs.append(task)
            deadline = time.monotonic() + self.timeout
            task_id = wait_for(work / "id", deadline, 1, task)[0]
            urls = wait_for(work / "urls", deadline, self.n, task)
            requests = [(urlsplit(u).path, f"v{i}".encode()) for i, u in enumerate(urls)]
            wall, answers = post_all([s.address for s in started], requests, k, {})
            self.end_task(task, work, task_id, env)
            for s in started:
                s.finish()
            self.all_202(answers, self.n, "the callback URLs")
            db = work / "j.db"
            delivered = self.count(db, "SELECT count(*) FROM callbacks WHERE state = 'delivered'")
            pending = self.count(db, "SELECT count(*) FROM signals WHERE name LIKE 'callback:%' AND state = 'pending'")
            if delivered != self.n or pending != self.n:
                raise Failed(f"the journal holds {delivered} delivered callbacks, {pending} pending, not {self.n}")
            shutil.rmtree(work, ignore_errors=True)
            return wall / self.n

        return lambda case, timeout, kept: self.measure(case, kept, body)

    def serve_signal(self, k: int) -> Callable[[t.Case, float, bool], None]:
        def body(procs: list[Proc]) -> float:
            work = self.fresh(f"sig1k{k}")
            env = self.env(work)
            serve = Serve(self.fmsh, env, work, self.token_file, "serve")
            procs.append(serve)
            task = self.task(work, SINK_SCRIPT, env)
            procs.append(task)
            task_id = wait_for(work / "id", time.monotonic() + self.timeout, 1, task)[0]
            requests = [(f"/signal/{task_id}/ev", f"v{i}".encode()) for i in range(self.n)]
            wall, answers = post_all([serve.address], requests, k, self.auth)
            self.end_task(task, work, task_id, env)
            serve.finish()
            self.all_202(answers, self.n, "/signal")
            self.check_signals(work / "j.db", self.n)
            shutil.rmtree(work, ignore_errors=True)
            return wall / self.n

        return lambda case, timeout, kept: self.measure(case, kept, body)

    def check_signals(self, db: Path, n: int) -> None:
        got = self.count(db, "SELECT count(*) FROM signals WHERE name = 'ev' AND state = 'pending'")
        if got != n:
            raise Failed(f"the journal holds {got} pending `ev' signals, not {n}")

    def cli_signal(self, k: int) -> Callable[[t.Case, float, bool], None]:
        def body(procs: list[Proc]) -> float:
            work = self.fresh(f"cli{k}")
            env = self.env(work)
            task = self.task(work, SINK_SCRIPT, env)
            procs.append(task)
            task_id = wait_for(work / "id", time.monotonic() + self.timeout, 1, task)[0]
            argvs = [[self.fmsh, "-c", f"signal {task_id} ev v{i}"] for i in range(self.cli_n)]
            wall, outcomes = run_all(argvs, k, env | {"FMSH_JOURNAL_SYNC": "full"}, self.timeout)
            self.end_task(task, work, task_id, env)
            if outcomes != Counter({"exit 0": self.cli_n}):
                shown = ", ".join(f"{o}: {c}" for o, c in outcomes.most_common(3))
                raise Failed(f"expected {self.cli_n} runs of signal with exit 0, got {shown}")
            self.check_signals(work / "j.db", self.cli_n)
            shutil.rmtree(work, ignore_errors=True)
            return wall / self.cli_n

        return lambda case, timeout, kept: self.measure(case, kept, body)

    def peer(self, mode: str, k: int) -> Callable[[t.Case, float, bool], None]:
        def body(procs: list[Proc]) -> float:
            work = self.fresh(f"{mode}{k}")
            db = work / "peer.db"
            python = str(BENCH_PYTHON) if mode == "dbos" else sys.executable
            server = PeerServer(python, mode, db, work, {"poll": DBOS_POLL}, self.base_env)
            procs.append(server)
            requests = [("/send/ev", f"v{i}".encode()) for i in range(self.n)]
            wall, answers = post_all([server.address], requests, k, {})
            server.finish()
            self.all_202(answers, self.n, f"the {mode} server")
            table = "events" if mode == "floor" else "notifications"
            got = self.count(db, f"SELECT count(*) FROM {table} WHERE topic = 'ev'")
            if got != self.n:
                raise Failed(f"the {mode} database holds {got} events, not {self.n}")
            shutil.rmtree(work, ignore_errors=True)
            return wall / self.n

        return lambda case, timeout, kept: self.measure(case, kept, body)

    # latency: M samples in one run

    def latency(self, kind: str, poll: float = DBOS_POLL) -> list[float]:
        procs: list[Proc] = []
        try:
            return self._latency(kind, poll, procs)
        finally:
            for proc in procs:
                proc.stop()

    def _latency(self, kind: str, poll: float, procs: list[Proc]) -> list[float]:
        work = self.fresh(f"lat-{kind}")
        env = self.env(work)
        deadline = time.monotonic() + self.timeout
        conn: http.client.HTTPConnection | None = None
        serve: Serve | None = None
        server: PeerServer | None = None
        task: Proc | None = None
        task_id = ""
        if kind in ("cb", "signal"):
            serve = Serve(self.fmsh, env, work, self.token_file, "serve")
            procs.append(serve)
            conn = http.client.HTTPConnection(*serve.address, timeout=60)
        if kind == "cb":
            assert serve is not None
            task = self.task(work, latency_cb_script(self.m), env | {"FMSH_CALLBACK_URL": serve.url})
        elif kind in ("signal", "cli"):
            task = self.task(work, latency_signal_script(self.m), env)
        else:
            options = {"poll": poll, "m": self.m, "folder": str(work)}
            server = PeerServer(str(BENCH_PYTHON), "dbos", work / "peer.db", work, options, self.base_env)
            procs.append(server)
            conn = http.client.HTTPConnection(*server.address, timeout=60)
        if task is not None:
            procs.append(task)
        if kind in ("signal", "cli"):
            task_id = wait_for(work / "id", deadline, 1, task)[0]
        samples = []
        path = ""
        for i in range(1, self.m + 1):
            if kind == "cb":
                path = urlsplit(wait_for(work / f"url.{i}", deadline, 1, task)[0]).path
            else:
                wait_for(work / f"ready.{i}", deadline, 1, task or server)
            time.sleep(0.05 + random.uniform(0.0, 0.02))
            value = f"v{i}"
            t0 = time.time()
            if kind == "cli":
                argv = [self.fmsh, "-c", f"signal {task_id} go {value}"]
                full = env | {"FMSH_JOURNAL_SYNC": "full"}
                proc = subprocess.run(argv, env=full, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
                if proc.returncode != 0:
                    raise Failed(f"signal {task_id} go: exit {proc.returncode}: {_clip(proc.stderr.decode())}")
            else:
                assert conn is not None
                where = {"cb": path, "signal": f"/signal/{task_id}/go", "dbos": "/send/go"}[kind]
                status, answer = post_one(conn, where, value.encode(), self.auth if kind == "signal" else {})
                if status != 202:
                    raise Failed(f"POST {where.split('/cb/')[0]}: {status} {_clip(answer)}")
            line = wait_for(work / "woke", time.monotonic() + 60, i, task or server)[i - 1].split(" ", 2)
            if len(line) != 3 or line[0] != str(i) or line[2] != value:
                raise Failed(f"woke line {i}: expected `{i} TIME {value}', got {' '.join(line)!r}")
            samples.append(float(line[1]) - t0)
        if conn is not None:
            conn.close()
        if task is not None:
            rc = task.wait(60)
            if rc != 0:
                raise Failed(f"the task ended with status {rc}: {_clip(task.output())}")
        if serve is not None:
            serve.finish()
        if server is not None:
            server.finish()
        shutil.rmtree(work, ignore_errors=True)
        return samples


# --- reporting -------------------------------------------------------------------------------


def rate_table(cases: list[t.Case], events: dict[str, int]) -> str:
    rows = [["case", "events/run", "runs", "events/s (median)", "worst", "best", "per event (median)"]]
    for c in cases:
        if c.ok:
            rows.append([f"`{c.label}`", str(events[c.label]), str(len(c.wall)), f"{1 / c.median():.0f}",
                         f"{1 / max(c.wall):.0f}", f"{1 / min(c.wall):.0f}", t.fmt_time(c.median())])  # fmt: skip
        else:
            rows.append([f"`{c.label}`", str(events[c.label]), str(len(c.wall)), "FAILED", "-", "-", "-"])
    return t.markdown_table(rows)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.9 * len(ordered)) - 1))]


def latency_table(cases: list[t.Case]) -> str:
    rows = [["case", "samples", "min", "median", "p90", "max"]]
    for c in cases:
        if c.ok:
            rows.append([f"`{c.label}`", str(len(c.wall)), t.fmt_time(min(c.wall)), t.fmt_time(c.median()),
                         t.fmt_time(p90(c.wall)), t.fmt_time(max(c.wall))])  # fmt: skip
        else:
            rows.append([f"`{c.label}`", str(len(c.wall)), "FAILED", "-", "-", "-"])
    return t.markdown_table(rows)


def rate_ratio(ours: t.Case, other: t.Case) -> str:
    if not (ours.ok and other.ok):
        return f"`{ours.label}` against `{other.label}`: n/a (a run failed)"
    r = ours.median() / other.median()
    return f"`{ours.label}` / `{other.label}`, cost per event (medians): {r:.2f}x  (rate: {1 / r:.2f}x its)"


def dbos_version() -> str | None:
    """DBOS's version in bench/.venv, or None when it is not installed there."""
    if not BENCH_PYTHON.exists():
        return None
    code = "import importlib.metadata as m, dbos; print(m.version('dbos'))"
    try:
        proc = subprocess.run([str(BENCH_PYTHON), "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=3, warmup=0)
    parser.add_argument("--n", type=int, default=None, help="events per throughput run (default 300; 50 with --quick)")
    parser.add_argument(
        "--cli-n", type=int, default=None, help="events per `fmsh -c signal` run (default 60; 20 with --quick)"
    )
    parser.add_argument("--m", type=int, default=None, help="latency samples per path (default 20; 8 with --quick)")
    parser.add_argument("--dir", help="directory for the temporary journals (default: the system's temp directory)")
    args = parser.parse_args(argv)
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    warmup = args.warmup if args.warmup is not None else 0
    n = args.n if args.n is not None else (50 if args.quick else 300)
    cli_n = args.cli_n if args.cli_n is not None else (20 if args.quick else 60)
    m = args.m if args.m is not None else (8 if args.quick else 20)
    if min(n, cli_n, m) < 1:
        parser.error("--n, --cli-n and --m must be at least 1")
    if args.dir and not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir!r} is not a directory")
    dbos = dbos_version()

    with tempfile.TemporaryDirectory(prefix="fmsh-cb-", dir=args.dir) as tmp:
        root = Path(tmp)
        bench = Bench(fmsh, root, n, cli_n, m, args.timeout, dbos is not None)

        print(f"## callback: events per second into one journal, N={n}, and POST -> wake latency, M={m}\n")
        print(f"fmsh:      {fmsh}")
        print(f"journals:  {root}  ({fs_type(root)}; fresh ones per run, deleted after)")
        print("serve:     fmsh --serve --listen 127.0.0.1:0 --quiet --token-file FILE (journal synchronous=FULL)")
        print(f"clients:   K = {', '.join(map(str, KS))} threads, keep-alive http.client connections, small bodies")
        print(f"task:      {maker_script(n)}")
        print(f"cli:       fmsh -c 'signal ID ev vI', one process per event, {cli_n} events, FMSH_JOURNAL_SYNC=full")
        print("floor:     stdlib ThreadingHTTPServer + sqlite3 INSERT per POST (WAL, synchronous=FULL)")
        if dbos:
            print(f"dbos:      DBOS {dbos} (bench/.venv), DBOS.send behind the same stdlib HTTP server, SQLite system "
                  f"database; DBOS.recv polls it every {DBOS_POLL * 1000:g} ms")  # fmt: skip
        else:
            print("dbos:      not installed in bench/.venv (bench/setup installs it): left out")
        print(f"runs:      {runs} per case, round-robin, after {warmup} warm-up round(s)\n")

        events: dict[str, int] = {}
        runners: dict[str, Callable[[t.Case, float, bool], None]] = {}

        def case(label: str, runner: Callable[[t.Case, float, bool], None], count: int) -> t.Case:
            events[label] = count
            runners[label] = runner
            return t.Case(label, [])

        serve1 = {k: case(f"fmsh serve /cb, 1 serve, K={k}", bench.serve_cb(1, k), n) for k in KS}
        serve2 = {k: case(f"fmsh serve /cb, 2 serves, K={k}", bench.serve_cb(2, k), n) for k in KS}
        sig = {8: case("fmsh serve /signal, 1 serve, K=8", bench.serve_signal(8), n)}
        floor = {k: case(f"floor: http.server + sqlite3 FULL, K={k}", bench.peer("floor", k), n) for k in KS}
        cli = {k: case(f"fmsh -c 'signal', {k} at a time", bench.cli_signal(k), cli_n) for k in KS}
        peer = {k: case(f"dbos: http.server + DBOS.send, K={k}", bench.peer("dbos", k), n) for k in KS} if dbos else {}
        cases = [*serve1.values(), *serve2.values(), *sig.values(), *floor.values(), *cli.values(), *peer.values()]

        def run_case(c: t.Case, timeout: float, kept: bool) -> None:
            runners[c.label](c, timeout, kept)

        t.run_interleaved(cases, runs=runs, warmup=warmup, timeout=args.timeout, run=run_case)
        print("### events per second into one journal\n")
        print(rate_table(cases, events))
        print()
        for k in KS:
            for ours in (serve1[k], serve2[k]):
                for other in (floor[k], cli[k], *([peer[k]] if peer else [])):
                    print(rate_ratio(ours, other))
        print(rate_ratio(sig[8], serve1[8]))
        best = serve1[8]
        if best.ok:
            rate = 1 / best.median()
            verdict = "MET" if rate >= TARGET_RATE else "NOT MET"
            print(
                f"target: one fmsh serve takes >= {TARGET_RATE:g} callbacks/s from 8 clients: {verdict} ({rate:.0f}/s)"
            )
        else:
            print(f"target: one fmsh serve takes >= {TARGET_RATE:g} callbacks/s from 8 clients: n/a (a run failed)")
        print()

        lat_cases = [
            t.Case("fmsh serve: POST /cb -> wake", []),
            t.Case("fmsh serve: POST /signal -> wake", []),
            t.Case("fmsh -c 'signal' -> wake", []),
        ]
        kinds = ["cb", "signal", "cli"]
        polls = [DBOS_POLL, DBOS_POLL, DBOS_POLL]
        if dbos:
            lat_cases.append(t.Case(f"dbos: POST -> DBOS.recv wake, poll {DBOS_POLL * 1000:g} ms", []))
            kinds.append("dbos")
            polls.append(DBOS_POLL)
            if not args.quick:
                lat_cases.append(t.Case("dbos: POST -> DBOS.recv wake, poll 1 s (default)", []))
                kinds.append("dbos")
                polls.append(1.0)
        for c, kind, poll in zip(lat_cases, kinds, polls, strict=True):
            try:
                c.wall = bench.latency(kind, poll)
            except Failed as e:
                c.error = str(e)
            except (OSError, sqlite3.Error, http.client.HTTPException, subprocess.SubprocessError) as e:
                c.error = f"{type(e).__name__}: {e}"

    print(f"### latency from POST to the waiting task waking, {m} samples each\n")
    print(latency_table(lat_cases))
    print()
    cb_lat, sig_lat, cli_lat = lat_cases[:3]
    for ours in (cb_lat, sig_lat):
        print(t.ratio_line(ours, cli_lat, what=f"`{ours.label}` / `{cli_lat.label}`"))
        for other in lat_cases[3:]:
            print(t.ratio_line(ours, other, what=f"`{ours.label}` / `{other.label}`"))
    for c in (cb_lat, sig_lat):
        what = c.label.split(": ", 1)[1]
        if c.ok:
            verdict = "MET" if c.median() * 1000 < TARGET_LATENCY_MS else "NOT MET"
            print(f"target: median {what} under {TARGET_LATENCY_MS:g} ms: {verdict} "
                  f"({c.median() * 1000:.1f} ms, p90 {p90(c.wall) * 1000:.1f} ms)")  # fmt: skip
        else:
            print(f"target: median {what} under {TARGET_LATENCY_MS:g} ms: n/a (a run failed)")
    for line in t.failures(cases + lat_cases):
        print(line)

    t.record(
        "callback", cases, title=f"callback: seconds per event into one journal, N={n}", n=n,
        compare=[[serve1[k].label, [floor[k].label, cli[k].label, *([peer[k].label] if peer else [])]] for k in KS]
        + [[serve2[8].label, [floor[8].label, cli[8].label, *([peer[8].label] if peer else [])]]],
        events_per_run=events,
        rates_per_s={c.label: round(1 / c.median()) for c in cases if c.ok},
    )  # fmt: skip
    t.record(
        "callback", lat_cases, title=f"callback: POST -> wake latency, M={m}", m=m,
        compare=[[cb_lat.label, [c.label for c in lat_cases[2:]]], [sig_lat.label, [c.label for c in lat_cases[2:]]]],
        p90_ms={c.label: round(p90(c.wall) * 1000, 1) for c in lat_cases if c.ok},
    )  # fmt: skip
    return 0 if all(c.ok for c in cases + lat_cases) else 1


if __name__ == "__main__":
    sys.exit(main())
