"""The journal in an rqlite cluster (fmsh/journal/rqlite.py), against real `rqlited`
nodes: tasks run and resume as with a file, bytes come back exact, transactions that race
are decided once (claims, locks, callbacks through two `fmsh serve`), an older schema is
migrated, and a cluster that cannot answer says so in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK, run_fmsh
from rqlite import RqliteCluster, rqlited
from serve import Serve, post
from sshd import wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if rqlited() is None:
        pytest.fail("rqlited is not installed: run tests/setup (python3 tests/install_rqlite.py)")
    started = RqliteCluster(tmp_path_factory.mktemp("rqlite"), 3).start()
    yield started
    started.stop()


@pytest.fixture
def fresh(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A single-node cluster of the test's own (an empty journal)."""
    if rqlited() is None:
        pytest.fail("rqlited is not installed: run tests/setup (python3 tests/install_rqlite.py)")
    started = RqliteCluster(tmp_path / "rqlite", 1).start()
    yield started
    started.stop()


def _run(url: str, *args: str, timeout: float = 60, **env: str):  # type: ignore[no-untyped-def]
    return run_fmsh(*args, env={"FMSH_JOURNAL": url, **env}, timeout=timeout)


def test_a_task_runs_and_is_traced_as_with_a_file(fresh: RqliteCluster) -> None:
    url = fresh.url
    run = _run(url, "-c", "task t { echo one; x=$(printf 'a\\nb'); echo \"$x\" | wc -l; }")
    assert (run.status, run.out) == (0, "one\n2\n"), run.err
    trace = _run(url, "--trace", "1")
    assert trace.status == 0
    assert "task 1 t: done (exit 0)" in trace.out and "echo one  ok" in trace.out
    tasks = _run(url, "--tasks", "--json").out
    assert '"status": "done"' in tasks


def test_bytes_that_are_not_utf8_come_back_exact(fresh: RqliteCluster, tmp_path: Path) -> None:
    """A capture of binary output is kept as a BLOB in a TEXT column, which rqlite's JSON
    would show as lossy text: it is read back exactly, and replayed by a resume."""
    url = fresh.url
    script = tmp_path / "bin.fmsh"
    script.write_text(
        "task bin {\n"
        "    x=$(printf '\\200\\377abc\\001')\n"
        "    printf '%s' \"$x\" > out.$FMSH_TASK_ID\n"
        "    [ -e go ] || exit 9\n"
        "    printf '%s' \"$x\" > again\n"
        "}\n"
    )
    first = run_fmsh(str(script), env={"FMSH_JOURNAL": url}, cwd=tmp_path)
    assert first.status == 9
    (tmp_path / "go").touch()
    retried = run_fmsh("--retry", "1", "--from", "2", env={"FMSH_JOURNAL": url}, cwd=tmp_path)
    assert retried.status == 0, retried.err
    assert "1 finished steps carried over" in retried.err
    assert (tmp_path / "out.1").read_bytes() == b"\x80\xffabc\x01"
    assert (tmp_path / "out.2").read_bytes() == b"\x80\xffabc\x01"  # the capture, carried over from the journal
    assert (tmp_path / "again").read_bytes() == b"\x80\xffabc\x01"


def test_a_task_killed_midway_resumes_without_running_finished_steps_again(
    cluster: RqliteCluster, tmp_path: Path
) -> None:
    url = cluster.url
    marks = tmp_path / "marks"
    script = tmp_path / "steps.fmsh"
    script.write_text(
        "task steps {\n"
        f"    for i in 1 2 3; do echo $i >> {marks}; done\n"
        f"    await file {tmp_path}/go every 50ms timeout 60s\n"
        f"    echo 4 >> {marks}\n"
        "}\n"
    )
    env = {**os.environ, "FMSH_JOURNAL": url}
    proc = subprocess.Popen([*FMSH_ARGV, str(script)], env=env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert wait_until(lambda: marks.exists() and marks.read_text().count("\n") == 3, timeout=30)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    (tmp_path / "go").touch()
    task = _run(url, "--tasks", "--json").out.strip().splitlines()[0]
    task_id = task.split('"id": ')[1].split(",")[0]
    resumed = run_fmsh("--resume", task_id, env={"FMSH_JOURNAL": url}, cwd=tmp_path, timeout=60)
    assert resumed.status == 0, resumed.err
    assert marks.read_text() == "1\n2\n3\n4\n"


def test_racing_resumes_of_one_task_let_exactly_one_run_it(cluster: RqliteCluster, tmp_path: Path) -> None:
    url = cluster.url
    env = {**os.environ, "FMSH_JOURNAL": url, "FMSH_LEASE": "2"}
    script = tmp_path / "race.fmsh"
    script.write_text(f"task race {{\n    echo started >> {tmp_path}/runs\n    sleep 2\n}}\n")
    first = subprocess.Popen([*FMSH_ARGV, str(script)], env=env, cwd=tmp_path, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    assert wait_until(lambda: (tmp_path / "runs").exists(), timeout=30)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    task_id = _run(url, "--tasks", "--json").out.splitlines()[0].split('"id": ')[1].split(",")[0]
    time.sleep(2.5)  # its lease expires
    racers = [
        subprocess.Popen(
            [*FMSH_ARGV, "--resume", task_id],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(6)
    ]
    results = [(p.wait(60), p.stderr.read() if p.stderr else "") for p in racers]
    assert all(TRACEBACK not in err for _, err in results)
    winners = [err for status, err in results if status == 0]
    assert len(winners) == 1, results
    losers = [err for status, err in results if status != 0]
    assert all("is running, owned by" in err or "already finished" in err for err in losers), losers


def test_locks_taken_at_once_by_many_have_one_holder(cluster: RqliteCluster, tmp_path: Path) -> None:
    url = cluster.url
    procs = [
        subprocess.Popen(
            [*FMSH_ARGV, "-c", f"lock race 0 && echo $$ >> {tmp_path}/holders && sleep 1.5"],
            env={**os.environ, "FMSH_JOURNAL": url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(5)
    ]
    statuses = [p.wait(60) for p in procs]
    assert sorted(statuses) == [0, 124, 124, 124, 124], [p.stderr.read() for p in procs if p.stderr]
    assert len((tmp_path / "holders").read_text().splitlines()) == 1


def test_a_callback_through_two_serve_processes_is_delivered_once(cluster: RqliteCluster, tmp_path: Path) -> None:
    url = cluster.url
    with Serve(url) as one, Serve(url) as two:
        env = {**os.environ, "FMSH_JOURNAL": url, "FMSH_CALLBACK_URL": one.url}
        task = subprocess.Popen(
            [*FMSH_ARGV, "-c", 'task cb { callback u; printf %s "$u" > url; await callback "$u" into b timeout 60s; '
             'printf %s "$b" > got; }'],  # fmt: skip
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert wait_until(lambda: (tmp_path / "url").exists(), timeout=30)
        path = (tmp_path / "url").read_text().split("/cb/", 1)[1]
        answers: list[int] = []

        def deliver(k: int) -> None:
            answers.append(post(f"{(one, two)[k % 2].url}/cb/{path}", f"body {k}".encode(), timeout=30)[0])

        threads = [threading.Thread(target=deliver, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers) == [202] + [409] * 7
        out, err = task.communicate(timeout=60)
        assert task.returncode == 0, err
        assert (tmp_path / "got").read_text().startswith("body ")


def test_an_older_schema_is_migrated(fresh: RqliteCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    from fmsh.journal import schema
    from fmsh.journal.rqlite import RQLiteJournal

    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:4])
        patch.setattr(schema, "LATEST", 4)
        RQLiteJournal(fresh.url).close()
    journal = RQLiteJournal(fresh.url)
    try:
        versions = [row[0] for row in journal._read("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == list(range(1, schema.LATEST + 1))
        columns = [row[1] for row in journal._read("PRAGMA table_info(tasks)")]
        assert "queue" in columns
    finally:
        journal.close()
    run = _run(fresh.url, "-c", "task t { callback u; }")
    assert run.status == 0, run.err


def test_a_cluster_that_does_not_answer_is_said_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    started = time.monotonic()
    run = _run(f"rqlite://127.0.0.1:{port}", "-c", "task t { echo hi; }", FMSH_JOURNAL_TIMEOUT="2")
    assert run.status != 0
    assert time.monotonic() - started < 15
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert f"the rqlite journal rqlite://127.0.0.1:{port} did not answer within 2 s" in lines[0]
    bad = _run("rqlite://db1", "--tasks")
    assert bad.status != 0 and "`db1' is not HOST:PORT" in bad.err
    replica = _run(f"rqlite://127.0.0.1:{port}", "-c", "task t { echo hi; }", FMSH_REPLICA="file:///tmp/x",
                   FMSH_JOURNAL_TIMEOUT="1")  # fmt: skip
    assert replica.status != 0


def test_the_leader_killed_between_two_tasks(cluster: RqliteCluster) -> None:
    url = cluster.url
    assert _run(url, "-c", "task before { echo a; }").status == 0
    leader = cluster.wait_for_leader()
    leader.kill()
    try:
        started = time.monotonic()
        run = _run(url, "-c", "task after { echo b; }", FMSH_JOURNAL_TIMEOUT="20")
        assert run.status == 0, run.err
        assert time.monotonic() - started < 20
    finally:
        leader.start(join=next(n for n in cluster.nodes if n is not leader).raft)
        assert wait_until(lambda: leader.status() is not None, timeout=30)


def test_a_write_that_lands_between_a_read_and_the_commit_wins(fresh: RqliteCluster) -> None:
    """Two claims of one queued task, the second landing while the first is between its
    read (in a fresh process: the first time it runs that SQL) and its commit: the first
    must see it and be refused, never both succeed (bench/fleet caught two workers both
    claiming one task)."""
    from fmsh.journal import rqlite as module
    from fmsh.journal.errors import TaskRefused
    from fmsh.tasks.owner import this_process

    url = fresh.url
    task_id = int(_run(url, "--submit", "--queue", "race", "-c", "true").out)
    me = this_process()
    other = type(me)(me.host, me.pid + 100000, "other")
    first, second = module.RQLiteJournal(url), module.RQLiteJournal(url)
    module._WIDTHS.clear()  # as in a fresh process
    sent = first.cluster.request
    landed: list[int] = []

    def request(statements, **options):  # type: ignore[no-untyped-def]
        out = sent(statements, **options)
        if not landed and statements and statements[0][0] == "SELECT * FROM tasks WHERE id = ?":
            landed.append(second.claim_task(task_id, other, 30, lambda t: None if t.status == "queued" else "no").epoch)
        return out

    first.cluster.request = request  # type: ignore[method-assign]
    try:
        with pytest.raises(TaskRefused, match="taken"):
            first.claim_task(task_id, me, 30, lambda t: None if t.status == "queued" else f"taken ({t.status})")
        assert landed == [1]
        record = first.task(task_id)
        assert record is not None and (record.epoch, record.owner_pid) == (1, other.pid)
    finally:
        first.close()
        second.close()


def test_a_read_reused_from_before_never_decides_alone(fresh: RqliteCluster) -> None:
    """A process reuses what it read before (the task's epoch, before each step) and lets
    the commit's guard check it: a takeover it has not seen still fences its next write,
    and an epoch it moved itself is read again rather than taken for a takeover."""
    from fmsh.journal.errors import TaskStopped
    from fmsh.journal.rqlite import RQLiteJournal
    from fmsh.tasks.owner import this_process

    me = this_process()
    other = type(me)(me.host, me.pid + 100000, "other")
    first, second = RQLiteJournal(fresh.url), RQLiteJournal(fresh.url)
    try:
        values = {"name": "t", "origin": "command", "source_name": "-c", "source": "true", "source_hash": "x"}
        task = first.create_task(values, me, 30)
        first.add_bindings(task.id, 1, [("a", 0, "1")])  # its epoch read (1), and kept
        assert first._seen, "the read was not kept for reuse"
        first.claim_task(task.id, me, 30, lambda t: None)  # epoch 2, moved by the first itself
        first.add_bindings(task.id, 2, [("b", 0, "2")])  # the kept epoch 1 is read again, not obeyed
        first.add_bindings(task.id, 2, [("c", 0, "3")])  # (epoch 2 kept now)
        second.claim_task(task.id, other, 30, lambda t: None)  # epoch 3, not seen by the first
        with pytest.raises(TaskStopped, match="taken over"):
            first.add_bindings(task.id, 2, [("d", 0, "4")])  # the guard sees it
        assert [name for name, _, _ in first.bindings(task.id)] == ["a", "b", "c"]
    finally:
        first.close()
        second.close()
