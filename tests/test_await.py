"""`await` (port, http, file, signal, task, until), `signal ID NAME [VALUE]`, durable
timers, and journal migration 2 (signals, waits, host tries, the task deadline).

Real processes: fmsh runs as a subprocess with a journal of the test's own; the port and
the HTTP server are real sockets on loopback; a task is killed with SIGKILL and resumed
with `fmsh --resume ID`.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import threading
import time
from pathlib import Path

import journalbox
import pytest
from conftest import run_fmsh
from httpserver import AnswerServer
from journalbox import finish as _finish
from journalbox import kill_group as _kill
from sshd import wait_until


class Box(journalbox.Box):
    """A journal box that can also wait for task 1's await to reach a state."""

    def wait_state(self, state: str, timeout: float = 15) -> None:
        """Until task 1's latest wait is in `state`."""
        assert wait_until(
            lambda: self.query("SELECT state FROM waits WHERE task_id = 1 ORDER BY seq DESC LIMIT 1") == [(state,)],
            timeout=timeout,
        ), f"no wait {state}: {self.query('SELECT * FROM waits')}"


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- await port -------------------------------------------------------------------------


def test_await_port_returns_once_the_port_listens(box: Box) -> None:
    port = _free_port()
    listening = threading.Event()
    stop = threading.Event()

    def listen_later() -> None:
        time.sleep(2)
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen()
            listening.set()
            server.settimeout(0.1)
            while not stop.is_set():
                try:
                    server.accept()[0].close()
                except OSError:
                    pass

    thread = threading.Thread(target=listen_later, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        result = box.run("-c", f"await port 127.0.0.1:{port} every 250ms timeout 20s; echo status=$?")
    finally:
        stop.set()
    took = time.monotonic() - started
    assert (result.status, result.out, result.err) == (0, "status=0\n", "")
    assert listening.is_set()
    assert 1.9 <= took <= 5, took


def test_await_port_times_out_with_124_and_says_why(box: Box) -> None:
    port = _free_port()
    started = time.monotonic()
    result = box.run("-c", f"await port 127.0.0.1:{port} every 200ms timeout 1s; echo status=$?")
    assert result.out == "status=124\n"
    assert f"await port 127.0.0.1:{port}: timed out after 1s" in result.err
    assert "refused" in result.err
    assert time.monotonic() - started < 5


def test_ctrl_c_ends_an_await_as_it_ends_a_durable_sleep(box: Box) -> None:
    port = _free_port()
    for command in ("task t { sleep 60; echo not here; }", f"await port 127.0.0.1:{port} timeout 1m; echo not here"):
        proc = box.start("-c", command)
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGINT)
        status, out, _ = _finish(proc, timeout=5)
        assert (status, out) == (-signal.SIGINT, ""), command  # the shell dies of it, as bash does


def test_a_trapped_ctrl_c_ends_the_await_with_130(box: Box) -> None:
    proc = box.start("-c", f"trap 'echo trapped' INT; await port 127.0.0.1:{_free_port()} timeout 1m; echo status=$?")
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGINT)
    assert _finish(proc, timeout=5)[:2] == (0, "trapped\nstatus=130\n")


def test_a_bad_host_port_from_an_expansion_is_status_2(box: Box) -> None:
    result = box.run("-c", "hp=web1; await port $hp; echo status=$?")
    assert result.out == "status=2\n"
    assert "await port `web1': not HOST:PORT" in result.err


# --- await http -------------------------------------------------------------------------


@pytest.fixture
def server_factory():  # type: ignore[no-untyped-def]
    made: list[AnswerServer] = []

    def make(answers: list[tuple[int, str]]) -> AnswerServer:
        server = AnswerServer(answers)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def test_await_http_status_waits_through_503s(box: Box, server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory([(503, "starting")] * 3 + [(200, "ok")])
    result = box.run("-c", f"await http {server.url} status 200 every 200ms timeout 20s; echo status=$?")
    assert (result.status, result.out, result.err) == (0, "status=0\n", "")
    assert server.requests == 4


def test_await_http_any_2xx_by_default(box: Box, server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory([(503, "")] + [(204, "")])
    result = box.run("-c", f"await http {server.url} every 100ms timeout 20s; echo status=$?")
    assert result.out == "status=0\n"
    assert server.requests == 2


def test_await_http_match_waits_for_the_text(box: Box, server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory([(503, "down"), (200, "state: starting"), (200, "state: ready")])
    result = box.run("-c", f"await http {server.url} status 200 match 'state: ready' every 100ms timeout 20s")
    assert (result.status, result.err) == (0, "")
    assert server.requests == 3


def test_await_http_times_out_with_124_and_the_last_status(box: Box, server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory([(503, "down")])
    result = box.run("-c", f"await http {server.url} status 200 every 200ms timeout 1s; echo status=$?")
    assert result.out == "status=124\n"
    assert f"await http {server.url}: timed out after 1s (last try: status 503)" in result.err


def test_await_http_refuses_what_is_not_a_url(box: Box) -> None:
    result = box.run("-c", "u=ftp://x; await http $u; echo status=$?")
    assert result.out == "status=2\n"
    assert "not an http:// or https:// URL" in result.err


# --- await file, until, task -----------------------------------------------------------


def test_await_file_waits_for_the_file(box: Box) -> None:
    threading.Timer(1.0, lambda: (box.root / "ready").touch()).start()
    started = time.monotonic()
    result = box.run("-c", "await file ready every 100ms timeout 20s; echo status=$?")
    assert (result.out, result.err) == ("status=0\n", "")
    assert 0.9 <= time.monotonic() - started < 5


def test_await_file_times_out(box: Box) -> None:
    result = box.run("-c", "await file never every 100ms timeout 500ms; echo status=$?")
    assert result.out == "status=124\n"
    assert "await file never: timed out after 500ms (last try: no such file)" in result.err


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Two hosts on one real sshd (their files are this machine's)."""
    from conftest import _lab

    lab = _lab(tmp_path_factory.mktemp("awaitlab"), 2, hosts_per_server=2)
    yield lab
    lab.stop()


def test_await_file_on_hosts_waits_until_every_host_has_it(box: Box, lab) -> None:  # type: ignore[no-untyped-def]
    ready = box.root / "ready file"
    threading.Timer(1.5, ready.touch).start()
    script = f"await file '{ready}' on @host[01-02] every 200ms timeout 30s; echo status=$?"
    result = box.run("-c", script, env=lab.env(), timeout=60)
    assert (result.status, result.out, result.err) == (0, "status=0\n", "")
    # A remote test makes the command line a task: one step, its wait satisfied.
    assert box.query("SELECT kind, exit_status FROM steps") == [("await", 0), ("builtin", 0)]
    assert box.query("SELECT kind, state FROM waits") == [("file", "satisfied")]


def test_await_file_on_a_host_times_out_saying_which_host(box: Box, lab) -> None:  # type: ignore[no-untyped-def]
    script = f"await file {box.root}/never on @host01 every 200ms timeout 2s; echo status=$?"
    result = box.run("-c", script, env=lab.env(), timeout=60)
    assert result.out == "status=124\n"
    assert f"await file {box.root}/never on @host01: timed out after 2s (last try: host01: no such file)" in result.err


def test_an_enclosing_timeout_ends_the_await(box: Box) -> None:
    started = time.monotonic()
    result = box.run("-c", f"timeout 1s await port 127.0.0.1:{_free_port()} timeout 1m; echo status=$?")
    assert (result.out, result.err) == ("status=124\n", "")  # the `timeout` says nothing, as coreutils'
    assert time.monotonic() - started < 5


def test_await_until_runs_the_command_until_it_succeeds(box: Box) -> None:
    script = (
        "await until { n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) > count; [ $((n + 1)) -ge 3 ]; } "
        "every 100ms timeout 20s; echo status=$? count=$(cat count)"
    )
    result = box.run("-c", script)
    assert (result.out, result.err) == ("status=0 count=3\n", "")


def test_await_until_a_simple_command(box: Box) -> None:
    threading.Timer(0.5, lambda: (box.root / "flag").touch()).start()
    result = box.run("-c", "await until test -e flag every 100ms timeout 20s; echo status=$?")
    assert result.out == "status=0\n"


def test_await_until_stops_a_command_that_outlasts_the_timeout(box: Box) -> None:
    started = time.monotonic()
    result = box.run("-c", "await until sleep 30 timeout 1s; echo status=$?")
    assert result.out == "status=124\n"
    assert "await until sleep 30: timed out after 1s" in result.err
    assert time.monotonic() - started < 6


def test_await_task_gives_that_tasks_status(box: Box) -> None:
    proc = box.start("-c", "task slow { sleep 1.5; (exit 3); }")
    assert wait_until(lambda: box.query("SELECT id FROM tasks") == [(1,)])
    result = box.run("-c", "await task 1 every 200ms timeout 20s; echo status=$?")
    assert result.out == "status=3\n"
    assert _finish(proc)[0] == 3
    assert box.run("-c", "await task 1; echo status=$?").out == "status=3\n"  # already ended: at once


def test_await_task_unknown(box: Box) -> None:
    box.run("-c", "task one { true; }")
    result = box.run("-c", "await task 42 timeout 5s; echo status=$?")
    assert result.out == "status=1\n"
    assert "await task 42: no task 42 in the journal" in result.err


# --- await signal and `signal` ----------------------------------------------------------

WAITER = 'task approval { await signal approve into ANSWER timeout 30s; echo "status=$? answer=$ANSWER"; }'


def test_a_signal_from_another_process_satisfies_the_await(box: Box) -> None:
    proc = box.start("-c", WAITER)
    box.wait_state("waiting")
    sent = box.run("-c", "signal 1 approve yes")
    assert (sent.status, sent.out, sent.err) == (0, "", "")
    status, out, err = _finish(proc)
    assert (status, out, err) == (0, "status=0 answer=yes\n", "")
    [(state, value, seq, note)] = box.query("SELECT state, value, seq, note FROM signals")
    assert (state, value, note) == ("delivered", "yes", None)
    assert box.query("SELECT kind, exit_status, output FROM steps WHERE seq = ?", seq) == [("await", 0, "yes")]
    assert box.query("SELECT name, kind, state FROM waits") == [("approve", "signal", "satisfied")]


def test_the_default_variable_and_a_signal_without_value(box: Box) -> None:
    proc = box.start("-c", 'task t { SIGNAL_VALUE=old; await signal go timeout 30s; echo "[$SIGNAL_VALUE]"; }')
    box.wait_state("waiting")
    assert box.run("-c", "signal 1 go").status == 0
    assert _finish(proc)[:2] == (0, "[]\n")


def test_a_timed_out_await_makes_a_later_signal_late(box: Box) -> None:
    result = box.run("-c", "task approval { await signal approve timeout 1s; }")
    assert result.status == 124
    assert "await signal approve: timed out after 1s" in result.err
    assert box.query("SELECT kind, exit_status FROM steps") == [("await", 124)]
    assert box.query("SELECT status, exit_status FROM tasks") == [("failed", 124)]
    late = box.run("-c", "signal 1 approve yes")
    assert late.status == 1
    assert "signal: task 1: approve came after its await timed out (step 1); ignored (journaled as late)" in late.err
    assert box.query("SELECT name, value, state, seq FROM signals") == [("approve", "yes", "late", None)]
    assert box.query("SELECT state FROM waits") == [("timed-out",)]


def test_a_signal_to_an_ended_task_is_late(box: Box) -> None:
    box.run("-c", "task done { true; }")
    late = box.run("-c", "signal 1 approve")
    assert late.status == 1
    assert "task 1: approve came after the task ended (done); ignored (journaled as late)" in late.err
    assert box.query("SELECT state FROM signals") == [("late",)]


def test_a_signal_sent_before_the_await_starts_is_taken(box: Box) -> None:
    script = (
        "task t { sh -c 'touch at-gate; while [ ! -e go ]; do sleep 0.05; done'; "
        'await signal approve into V timeout 30s; echo "V=$V"; }'
    )
    proc = box.start("-c", script)
    assert wait_until(lambda: (box.root / "at-gate").exists())
    assert box.run("-c", "signal 1 approve early").status == 0
    assert box.query("SELECT state FROM signals") == [("pending",)]
    started = time.monotonic()
    (box.root / "go").touch()
    status, out, _ = _finish(proc)
    assert (status, out) == (0, "V=early\n")
    assert time.monotonic() - started < 3
    assert box.query("SELECT state FROM signals") == [("delivered",)]


def test_a_signal_sent_while_the_task_is_dead_is_taken_on_resume(box: Box) -> None:
    proc = box.start("-c", 'task t { echo before; await signal approve into V timeout 60s; echo "after V=$V"; }')
    box.wait_state("waiting")
    [(wake_at,)] = box.query("SELECT wake_at FROM steps WHERE kind = 'await'")
    _kill(proc)
    sent = box.run("-c", "signal 1 approve yes")
    assert (sent.status, sent.err) == (0, "")
    assert box.query("SELECT state FROM signals") == [("pending",)]
    resumed = box.run("--resume", "1")
    assert resumed.status == 0, resumed.err
    assert resumed.out == "after V=yes\n"  # `echo before` was a finished step: not again
    assert box.query("SELECT wake_at, exit_status, output FROM steps WHERE kind = 'await'") == [(wake_at, 0, "yes")]
    assert box.query("SELECT status FROM tasks") == [("done",)]


def test_a_signal_sent_in_time_is_taken_though_the_task_resumes_after_the_deadline(box: Box) -> None:
    proc = box.start("-c", 'task t { await signal approve into V timeout 2s; echo "status=$? V=$V"; }')
    box.wait_state("waiting")
    _kill(proc)
    assert box.run("-c", "signal 1 approve in-time").status == 0
    [(deadline,)] = box.query("SELECT deadline FROM waits")
    time.sleep(max(0.0, deadline + 0.5 - time.time()))
    resumed = box.run("--resume", "1")
    assert (resumed.status, resumed.out) == (0, "status=0 V=in-time\n")


def test_a_finished_await_is_replayed_with_its_value(box: Box) -> None:
    # The task dies after the await finished; on resume the await is not waited for again
    # and the variable is set from the journal.
    script = (
        "task t { await signal approve into V timeout 30s; sh -c 'touch at-gate; while [ ! -e go ]; do sleep 0.05; "
        'done\'; echo "V=$V"; }'
    )
    proc = box.start("-c", script)
    box.wait_state("waiting")
    assert box.run("-c", "signal 1 approve first").status == 0
    assert wait_until(lambda: (box.root / "at-gate").exists())
    _kill(proc)
    (box.root / "go").touch()
    started = time.monotonic()
    resumed = box.run("--resume", "1")
    assert (resumed.status, resumed.out) == (0, "V=first\n")
    assert time.monotonic() - started < 5


def test_a_signal_after_the_deadline_while_the_task_is_dead_is_late(box: Box) -> None:
    proc = box.start("-c", "task t { await signal approve timeout 1s; echo status=$?; }")
    box.wait_state("waiting")
    _kill(proc)
    time.sleep(1.5)
    late = box.run("-c", "signal 1 approve yes")
    assert late.status == 1
    assert "came after its await timed out" in late.err
    started = time.monotonic()
    resumed = box.run("--resume", "1")
    assert resumed.out == "status=124\n"
    assert "await signal approve: timed out after 1s" in resumed.err
    assert time.monotonic() - started < 5
    assert box.query("SELECT state FROM signals") == [("late",)]


def test_a_resumed_await_waits_only_for_what_is_left(box: Box) -> None:
    proc = box.start("-c", "task t { await signal approve timeout 4s; echo status=$?; }")
    box.wait_state("waiting")
    time.sleep(2)
    _kill(proc)
    started = time.monotonic()
    resumed = box.run("--resume", "1")
    took = time.monotonic() - started
    assert resumed.out == "status=124\n"
    assert took < 3.5, took


def test_signal_usage_and_unknown_tasks(box: Box) -> None:
    box.run("-c", "task one { true; }")
    for command in ("signal", "signal 1", "signal x approve", "signal 1 'a b'", "signal 1 a b c", "signal -x 1 a"):
        result = box.run("-c", command)
        assert result.status == 2, (command, result)
        assert "signal:" in result.err
    unknown = box.run("-c", "signal 42 approve")
    assert unknown.status == 1
    assert "no task 42 in the journal" in unknown.err


def test_signal_without_a_journal(tmp_path: Path) -> None:
    result = run_fmsh("-c", "signal 1 approve", env={"FMSH_JOURNAL": str(tmp_path / "none.db")})
    assert result.status == 1
    assert "there is no journal" in result.err


@pytest.mark.parametrize(
    ("command", "env"),
    [("eval 'await signal approve timeout 1s'", {}), ("await signal approve timeout 1s", {"FMSH_JOURNAL": "none"})],
    ids=["eval", "no-journal"],
)
def test_await_signal_outside_a_task(box: Box, command: str, env: dict[str, str]) -> None:
    result = box.run("-c", command + "; echo status=$?", env=env)
    assert result.out == "status=2\n"
    assert "only a task can wait for a signal" in result.err
    if not env:
        assert "task NAME { ... }" in result.err


def test_await_signal_in_a_subshell_of_a_task(box: Box) -> None:
    result = box.run("-c", "task t { (await signal approve timeout 1s); echo status=$?; }")
    assert result.out == "status=2\n"
    assert "only the task's own shell can wait for a signal" in result.err


def test_an_await_makes_a_script_a_task(box: Box) -> None:
    (box.root / "approve.fmsh").write_text("await signal approve timeout 500ms\n")
    result = box.run("approve.fmsh")
    assert result.status == 124
    assert box.query("SELECT name FROM tasks") == [("approve.fmsh",)]
    assert box.run("-c", "await port 127.0.0.1:1 timeout 100ms").status == 124
    assert box.query("SELECT name, exit_status FROM tasks WHERE id = 2") == [
        ("await port 127.0.0.1:1 timeout 100ms", 124)
    ]
    assert box.query("SELECT kind, exit_status FROM steps WHERE task_id = 2") == [("await", 124)]


# --- durable sleep ----------------------------------------------------------------------


def test_a_durable_sleep_resumed_sleeps_only_what_is_left(box: Box) -> None:
    proc = box.start("-c", "task nap { sleep 10; echo woke; }")
    assert wait_until(lambda: box.query("SELECT kind FROM steps") == [("sleep",)])
    [(started_at,)] = box.query("SELECT started_at FROM steps")
    time.sleep(max(0.0, started_at + 4 - time.time()))
    _kill(proc)
    started = time.monotonic()
    resumed = box.run("--resume", "1")
    took = time.monotonic() - started
    assert (resumed.status, resumed.out) == (0, "woke\n")
    assert 4.5 <= took <= 8, took


# --- parse errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message", "col"),
    [
        ("await bogus x", "await `bogus': not a kind of wait", 7),
        ("await port web1:80 timeout abc", "`abc': not a duration", 28),
        ("await port web1:80 every 1s every 2s", "`every' given twice", 29),
        ("await http http://x status 99", "not an HTTP status", 28),
        ("await signal go into 1x", "not a variable name", 22),
        ("await file /x on", "`on' needs a value", 15),
        ("await port", "HOST:PORT must follow", 7),
    ],
)
def test_await_parse_errors_are_positioned(box: Box, line: str, message: str, col: int) -> None:
    (box.root / "bad.fmsh").write_text(f"echo first\n{line}\n")
    result = box.run("bad.fmsh")
    assert result.status == 2
    assert result.out == ""  # a syntax error: nothing runs
    assert f"bad.fmsh:2:{col}:" in result.err and message in result.err, result.err


def test_bad_values_from_expansions_are_status_2(box: Box) -> None:
    for command, message in [
        ("t=abc; await port 127.0.0.1:1 timeout $t", "timeout `abc': not a duration"),
        ("e=0; await file x every $e", "must be more than 0"),
        ("FMSH_AWAIT_TIMEOUT=zz; await file x", "FMSH_AWAIT_TIMEOUT: `zz': not a duration"),
        ("s=700; await http http://127.0.0.1:1/ status $s", "not an HTTP status"),
        ("task t { v=1x; await signal go into $v; }", "into `1x': not a variable name"),
    ]:
        # (`fmsh check` would refuse the task: its timeout is not known before the run)
        result = box.run("-c", command + "; echo status=$?", env={"FMSH_ALLOW_UNBOUNDED": "1"})
        assert result.out == "status=2\n", (command, result)
        assert message in result.err, (command, result)


# --- the journal: migration 2 -----------------------------------------------------------


def _v1_journal(path: Path) -> None:
    """A journal as fmsh wrote it before migration 2: migration 1 only, with a task."""
    from unittest import mock

    from fmsh.journal import schema

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    with mock.patch.object(schema, "MIGRATIONS", schema.MIGRATIONS[:1]), mock.patch.object(schema, "LATEST", 1):
        schema.migrate(conn, 0, time.time())
    conn.execute(
        "INSERT INTO tasks (name, origin, source_name, source, source_hash, status, exit_status, epoch, created_at) "
        "VALUES ('old', 'command', '-c', 'true', 'x', 'done', 0, 1, 1.0)"
    )
    conn.execute("COMMIT")
    conn.close()
    path.chmod(0o600)


def test_a_version_1_journal_is_migrated(box: Box) -> None:
    from fmsh.journal import schema

    _v1_journal(box.journal)
    assert box.query("PRAGMA user_version") == [(1,)]
    listed = box.run("--tasks", "--json")
    assert listed.status == 0, listed.err
    assert '"old"' in listed.out
    assert box.query("PRAGMA user_version") == [(schema.LATEST,)]  # and every migration after 1 ran
    versions = [v for (v,) in box.query("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, schema.LATEST + 1))
    tables = {name for (name,) in box.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"signals", "waits", "host_tries"} <= tables
    assert box.query("SELECT name, deadline FROM tasks") == [("old", None)]
    # and it works as a new one does
    late = box.run("-c", "signal 1 approve")
    assert late.status == 1 and "came after the task ended (done)" in late.err
    proc = box.start("-c", WAITER)
    assert wait_until(lambda: box.query("SELECT state FROM waits WHERE task_id = 2") == [("waiting",)])
    assert box.run("-c", "signal 2 approve ok").status == 0
    assert _finish(proc)[:2] == (0, "status=0 answer=ok\n")


def test_journal_api_for_host_tries_and_deadlines(tmp_path: Path) -> None:
    from fmsh.journal.base import Owner
    from fmsh.journal.errors import TaskNotFound, TaskStopped
    from fmsh.journal.sqlite import SQLiteJournal

    journal = SQLiteJournal(str(tmp_path / "j.db"))
    try:
        values = {"name": "n", "origin": "command", "source_name": "-c", "source": "x", "source_hash": "h"}
        task = journal.create_task(values, Owner("here", 1, "s"), 60)
        journal.set_task_deadline(task.id, task.epoch, 1234.5)
        record = journal.task(task.id)
        assert record is not None and record.deadline == 1234.5
        for n, status in ((1, 255), (2, 0)):
            journal.record_host_try(task.id, task.epoch, 3, 1, {"host": "web1", "try": n, "status": status})
        tries = journal.host_tries(task.id, 3)
        assert [(t.host, t.number, t.status) for t in tries] == [("web1", 1, 255), ("web1", 2, 0)]
        with pytest.raises(TaskStopped):
            journal.record_host_try(task.id, task.epoch + 1, 3, 1, {"host": "web1", "try": 3, "status": 0})
        with pytest.raises(TaskNotFound):
            journal.send_signal(99, "go", None, "me")
        # take_signal: a step that runs again gets its own signal back
        assert journal.begin_wait(task.id, task.epoch, 4, "go", "signal", time.time() + 60) == "waiting"
        assert journal.send_signal(task.id, "go", None, "me") == ("pending", "")
        assert journal.take_signal(task.id, task.epoch, "go", 4, time.time() + 60) == ""
        assert journal.send_signal(task.id, "go", "second", "me") == ("pending", "")
        assert journal.take_signal(task.id, task.epoch, "go", 4, time.time() + 60) == ""
        assert journal.begin_wait(task.id, task.epoch, 4, "go", "signal", time.time() + 60) == "satisfied"
        assert [(s.state, s.seq) for s in journal.signals(task.id)] == [("delivered", 4), ("pending", None)]
        # only a signal sent by the deadline is taken; then the wait is timed out, for good
        past = time.time() - 1
        assert journal.begin_wait(task.id, task.epoch, 5, "stop", "signal", past) == "waiting"
        late = ("late", "came after its await timed out (step 5)")
        assert journal.send_signal(task.id, "stop", "too late", "me") == late
        assert journal.take_signal(task.id, task.epoch, "stop", 5, past) is None
        assert journal.begin_wait(task.id, task.epoch, 5, "stop", "signal", time.time() - 1) == "timed-out"
        assert journal.send_signal(task.id, "stop", "x", "me")[0] == "late"
        assert [(w.seq, w.state) for w in journal.waits(task.id)] == [(4, "satisfied"), (5, "timed-out")]
        # a signal sent in time is still taken after the deadline (the shell was dead meanwhile)
        soon = time.time() + 0.3
        assert journal.begin_wait(task.id, task.epoch, 6, "late-look", "signal", soon) == "waiting"
        assert journal.send_signal(task.id, "late-look", "v", "me") == ("pending", "")
        time.sleep(0.4)
        assert journal.send_signal(task.id, "late-look", "w", "me") == ("pending", "")  # an earlier one is there
        assert journal.take_signal(task.id, task.epoch, "late-look", 6, soon) == "v"
        assert journal.take_signal(task.id, task.epoch, "late-look", 7, soon) is None  # "w" came after `soon`
    finally:
        journal.close()
