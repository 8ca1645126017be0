"""Durable tasks on one machine: what becomes a task, what a step is, what a resumed task
replays, and the task commands (tasks, trace, log, resume, cancel, retry, forget).

Remote tasks and crashes against real sshd are in test_task_crash.py and
test_task_remote.py; the journal file itself in test_journal.py.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import TRACEBACK
from journalbox import Box
from journalbox import kill_group as _kill


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


# A step that waits for a file: `gate NAME` (external, so it is one step) holds a task at a
# known point until the test creates NAME.
GATE = 'gate() { sh -c \'touch "waiting-$1"; while [ ! -e "$1" ]; do sleep 0.02; done\' gate "$1"; }\n'


def _table(out: str) -> list[str]:
    """The lines of the table of `tasks`, below its summary (test_tasks_reports.py)."""
    return out.partition("\n\n")[2].splitlines()


# --- what is a task --------------------------------------------------------------------


def test_a_local_command_line_is_not_a_task(box: Box) -> None:
    result = box.run("-c", "echo hi; x=$(echo y); /bin/true | cat")
    assert (result.status, result.out) == (0, "hi\n")
    assert not box.journal.exists()


def test_a_task_block_makes_a_task(box: Box) -> None:
    result = box.run("-c", "task nightly-backup { /bin/true; echo done; }")
    assert (result.status, result.out) == (0, "done\n")
    [task] = box.tasks()
    assert (task["id"], task["name"], task["status"], task["exit_status"]) == (1, "nightly-backup", "done", 0)
    assert task["origin"] == "command"


def test_a_script_with_a_remote_stage_is_a_task_named_after_it(box: Box) -> None:
    # The remote stage is in a function that is never called: nothing connects.
    box.script("deploy.fmsh", "restart() { @web1 systemctl restart app; }\necho planned\n")
    result = box.run("deploy.fmsh")
    assert (result.status, result.out) == (0, "planned\n")
    [task] = box.tasks()
    assert (task["name"], task["origin"], task["source_name"]) == ("deploy.fmsh", "script", "deploy.fmsh")


def test_a_remote_stage_inside_a_capture_makes_a_task(box: Box) -> None:
    box.run("-c", "f() { n=$(@web1 nproc); }; true")
    assert [t["name"] for t in box.tasks()] == ["f() { n=$(@web1 nproc); }; true"]


def test_task_is_still_a_command_name(box: Box) -> None:
    result = box.run("-c", 'task() { echo "task: $*"; }; task add milk')
    assert result.out == "task: add milk\n"
    assert not box.journal.exists()


def test_a_bad_task_name_is_a_syntax_error(box: Box) -> None:
    result = box.run("-c", "task 'a b' { true; }")
    assert result.status == 2
    assert "a task name is letters, digits" in result.err and "-c:1:6" in result.err


def test_a_syntax_error_creates_no_task(box: Box) -> None:
    result = box.run("-c", "task t { echo hi")
    assert result.status == 2
    assert not box.journal.exists()


def test_a_task_at_the_prompt(box: Box) -> None:
    lines = 'echo plain\ntask t { echo in $FMSH_TASK_ID; }\necho "after [$FMSH_TASK_ID]"\ntask u { /bin/true; }\n'
    result = box.run("-i", "--norc", stdin=lines)
    assert result.out == "plain\nin 1\nafter []\n"  # the next line is not in the task
    names = [(t["name"], t["origin"], t["status"]) for t in box.tasks()]
    assert names == [("u", "prompt", "done"), ("t", "prompt", "done")]


def test_fmsh_journal_none_runs_without_a_journal(box: Box) -> None:
    result = box.run("-c", "task t { echo hi; }", env={"FMSH_JOURNAL": "none"})
    assert (result.status, result.out) == (0, "hi\n")
    assert not box.journal.exists() and not (box.root / "none").exists()


# --- steps -----------------------------------------------------------------------------


def test_what_is_a_step(box: Box) -> None:
    text = (
        "task kinds {\n"
        "  /bin/true\n"  # command
        "  cd /\n"  # not a step: it changes the shell
        "  x=$(echo captured)\n"  # capture
        '  echo "$x" | cat\n'  # pipeline
        "  ( /bin/true )\n"  # subshell
        "  printf -v y %s z\n"  # not a step: sets a variable
        "  printf '%s\\n' \"$y\"\n"  # builtin (output)
        "  sleep 0.01\n"  # durable sleep
        "  /bin/true & wait $!\n"  # background
        "  f() { /bin/true; }; f\n"  # a command in a function
        "}\n"
    )
    result = box.run("-c", text)
    assert (result.status, result.out) == (0, "captured\nz\n")
    rows = box.query("SELECT kind, key, text, status, exit_status FROM steps ORDER BY seq")
    kinds = ["command", "capture", "pipeline", "subshell", "builtin", "sleep", "background", "command"]
    assert [r[0] for r in rows] == kinds
    assert rows[1][2] == "echo captured"
    assert rows[2][2] == 'echo "$x" | cat'
    assert rows[-1][1] == "f@11:23>11:9"  # in the call of f at 11:23, the command at 11:9
    assert all(r[3:] == ("finished", 0) for r in rows)
    assert box.query("SELECT output FROM steps WHERE kind = 'capture'") == [("captured",)]


def test_task_id_and_step_are_exported_to_commands(box: Box) -> None:
    box.run("-c", "task t {\n  sh -c 'echo $FMSH_TASK_ID $FMSH_STEP' > ids\n}")
    assert (box.root / "ids").read_text() == "1 2:3\n"


def test_loop_rounds_and_calls_are_in_the_keys(box: Box) -> None:
    box.run("-c", "task t {\n  deploy() { /bin/true; }\n  for h in a b; do\n    deploy $h\n  done\n}")
    keys = [k for (k,) in box.query("SELECT key FROM steps ORDER BY seq")]
    assert keys == ["3:3#1>deploy@4:5>2:14", "3:3#2>deploy@4:5>2:14"]
    contexts = [c for (c,) in box.query("SELECT context FROM steps ORDER BY seq")]
    assert contexts == ["for h in a b › deploy $h"] * 2


def test_failed_steps_are_listed_but_tested_ones_are_not(box: Box) -> None:
    result = box.run("-c", "task t {\n  if /bin/false; then :; fi\n  /bin/false || :\n  /bin/false\n  exit 3\n}")
    assert result.status == 3
    [task] = box.tasks()
    assert (task["status"], task["exit_status"], task["failed_steps"]) == ("failed", 3, [3])
    listing = _table(box.run("--tasks").out)
    assert "failed (3)" in listing[1] and listing[1].split()[-1] == "3"


# --- resume ----------------------------------------------------------------------------


def test_resume_replays_finished_steps_and_runs_the_rest(box: Box) -> None:
    box.script(
        "job.fmsh",
        GATE + "task job {\n"
        "  echo before\n"
        "  r=$RANDOM; t=$EPOCHREALTIME; c=$(date +%s%N)\n"
        '  sh -c \'echo "$1" >> effects\' x "first $r $t $c"\n'
        "  gate go\n"
        '  sh -c \'echo "$1" >> effects\' x "second $r $t $c"\n'
        "  echo after\n"
        "}\n",
    )
    proc = box.start("job.fmsh")
    box.wait_for("waiting-go")
    _kill(proc)
    [task] = box.tasks()
    assert task["shown_status"] == "interrupted"
    (box.root / "go").touch()
    resumed = box.run("--resume", "1")
    assert resumed.status == 0, resumed.err
    assert resumed.out == "after\n"  # the finished echo is not printed again
    assert "resuming task 1 (job): 3 of 4 steps finished" in resumed.err
    first, second = (box.root / "effects").read_text().splitlines()
    # $RANDOM, the clock and the capture give what they gave before the crash
    assert first.split()[1:] == second.split()[1:]
    assert box.tasks()[0]["status"] == "done"
    attempts = box.query("SELECT outcome FROM attempts WHERE seq = 4 ORDER BY attempt")
    assert attempts == [("interrupted",), ("finished",)]


def test_a_durable_sleep_sleeps_only_what_is_left(box: Box) -> None:
    box.script("nap.fmsh", "task nap {\n  touch asleep\n  sleep 3\n  echo awake\n}\n")
    proc = box.start("nap.fmsh")
    box.wait_for("asleep")
    time.sleep(0.5)
    _kill(proc)
    time.sleep(3)
    start = time.monotonic()
    resumed = box.run("--resume", "1")
    assert (resumed.status, resumed.out) == (0, "awake\n")
    assert time.monotonic() - start < 2.5  # the 3 s had passed while fmsh was dead
    (wake_at,) = box.query("SELECT wake_at FROM steps WHERE kind = 'sleep'")[0]
    (started,) = box.query("SELECT started_at FROM attempts WHERE seq = 2 AND attempt = 1")[0]
    assert abs(wake_at - started - 3) < 0.5


def test_ctrl_c_leaves_a_resumable_task(box: Box) -> None:
    box.script("int.fmsh", GATE + "task int {\n  gate go\n  echo resumed\n}\n")
    proc = box.start("int.fmsh")
    box.wait_for("waiting-go")
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGINT
    assert box.tasks()[0]["status"] == "interrupted"
    (box.root / "go").touch()
    resumed = box.run("--resume", "1")
    assert (resumed.status, resumed.out) == (0, "resumed\n")


def test_a_finished_task_is_not_resumed(box: Box) -> None:
    box.run("-c", "task t { /bin/true; }")
    result = box.run("--resume", "1")
    assert result.status == 1
    assert "task 1 (t) already finished (exit status 0); nothing to resume" in result.err


def test_a_failed_task_points_to_retry(box: Box) -> None:
    box.run("-c", "task t {\n  /bin/true\n  /bin/false\n}", env={})
    result = box.run("--resume", "1")
    assert result.status == 1
    assert "failed at step 2 (exit status 1)" in result.err and "`retry 1 --from 2`" in result.err


def test_retry_from_a_step_carries_the_steps_before_it(box: Box) -> None:
    box.script(
        "fix.fmsh",
        "set -e\ntask fix {\n  sh -c 'echo one >> effects'\n  sh -c 'echo two >> effects'\n  sh -c 'test -e fixed'\n"
        "  sh -c 'echo four >> effects'\n}\n",
    )
    first = box.run("fix.fmsh")
    assert first.status == 1
    assert box.tasks()[0]["failed_steps"] == [3]
    (box.root / "fixed").touch()
    retried = box.run("--retry", "1", "--from", "3")
    assert retried.status == 0, retried.err
    assert "task 2: a retry of task 1 from step 3 (2 finished steps carried over)" in retried.err
    assert (box.root / "effects").read_text() == "one\ntwo\nfour\n"
    tasks = {t["id"]: t for t in box.tasks()}
    assert (tasks[2]["status"], tasks[2]["retry_of"], tasks[2]["retry_from"]) == ("done", 1, 3)
    assert tasks[1]["status"] == "failed"
    assert "carried over from task 1 step 1" in box.run("--trace", "2").out


def test_retry_by_step_key(box: Box) -> None:
    box.run("-c", "task t {\n  /bin/true\n  /bin/false\n}")
    assert box.run("--retry", "1", "--from", "3:3").status == 1  # the key of step 2: fails again
    assert box.tasks()[0]["retry_from"] == 2


def test_a_deleted_script_resumes_from_its_journaled_text(box: Box) -> None:
    box.script("gone.fmsh", GATE + "task gone {\n  gate go\n  echo from-the-journal\n}\n")
    proc = box.start("gone.fmsh")
    box.wait_for("waiting-go")
    _kill(proc)
    (box.root / "gone.fmsh").unlink()
    (box.root / "go").touch()
    resumed = box.run("--resume", "1")
    assert (resumed.status, resumed.out) == (0, "from-the-journal\n")
    assert "cannot read" in resumed.err and "running the text journaled when it began" in resumed.err


def test_secrets_are_not_journaled_and_come_back_from_the_environment(box: Box) -> None:
    box.script("s.fmsh", GATE + "task s {\n  gate go\n  sh -c 'echo \"$DEPLOY_TOKEN $REGION\" > seen'\n}\n")
    secrets = {"DEPLOY_TOKEN": "tok-4f9a1c", "DB_PASSWORD": "pw-77", "REGION": "eu-west"}
    proc = box.start("s.fmsh", env=secrets)
    box.wait_for("waiting-go")
    _kill(proc)
    data = b"".join(p.read_bytes() for p in box.root.glob("journal.db*"))
    assert b"tok-4f9a1c" not in data and b"pw-77" not in data
    assert b"eu-west" in data  # an ordinary variable is journaled
    (box.root / "go").touch()
    resumed = box.run("--resume", "1", env={"DEPLOY_TOKEN": "tok-new", "REGION": "us-east"})
    assert resumed.status == 0, resumed.err
    # the secret comes from the resuming shell, the rest from the journal
    assert (box.root / "seen").read_text() == "tok-new eu-west\n"
    assert "DB_PASSWORD was set when the task began and is not set now" in resumed.err


# --- the task commands -----------------------------------------------------------------


def test_tasks_lists_and_filters(box: Box) -> None:
    box.run("-c", "task alpha { /bin/true; }")
    box.run("-c", "task beta { /bin/false; }")
    box.run("-c", "task alpha { /bin/true; /bin/true; }")
    listing = _table(box.run("--tasks").out)
    assert listing[0].split() == ["ID", "NAME", "STATUS", "OWNER", "STARTED", "DURATION", "STEPS", "FAILED"]
    rows = [line.split()[:3] for line in listing[1:]]
    assert rows == [["3", "alpha", "done"], ["2", "beta", "failed"], ["1", "alpha", "done"]]
    assert [t["id"] for t in box.tasks()] == [3, 2, 1]
    assert [line.split()[0] for line in _table(box.run("--tasks", "--status", "failed").out)[1:]] == ["2"]
    assert [line.split()[0] for line in _table(box.run("--tasks", "--name", "al*", "-n", "1").out)[1:]] == ["3"]
    assert box.run("-c", "tasks --status done,failed --json").out.count("\n") == 3
    bad = box.run("--tasks", "--status", "bogus")
    assert bad.status == 2 and "not one of queued, running, done, failed, interrupted, cancelled" in bad.err


def test_tasks_with_no_journal(box: Box) -> None:
    result = box.run("--tasks")
    assert (result.status, result.out) == (0, "no tasks yet\n")
    assert not box.journal.exists()


def test_trace_is_a_tree(box: Box) -> None:
    box.run("-c", "task t {\n  d() { /bin/true; }\n  for h in a b; do d $h; done\n  echo end\n}")
    out = box.run("--trace", "1").out
    lines = out.splitlines()
    assert lines[0].startswith("task 1 t: done (exit 0), ")
    assert lines[2] == "  3 steps"
    assert lines[3:9] == [
        "├─ for h in a b  L3, round 1",
        "│  └─ d $h  L3",
        "│     └─ 1  L2  /bin/true  ok  0.0s",
        "├─ for h in a b  L3, round 2",
        "│  └─ d $h  L3",
        "│     └─ 2  L2  /bin/true  ok  0.0s",
    ]
    assert lines[-1] == "└─ 3  L4  echo end  ok  0.0s"


def test_log_shows_captured_output(box: Box) -> None:
    box.run("-c", "task t {\n  a=$(printf 'one\\ntwo')\n  /bin/true\n}")
    assert box.run("--log", "1").out == "--- step 1 (2:7) printf 'one\\ntwo'\none\ntwo\n"
    assert box.run("--log", "1", "1").out == "one\ntwo\n"
    nothing = box.run("--log", "1", "2")
    assert nothing.status == 1 and "step 2 of task 1 has no journaled output" in nothing.err


def test_the_builtins_run_the_task_commands(box: Box) -> None:
    box.script("g.fmsh", GATE + "task g {\n  gate go\n  echo resumed\n}\n")
    proc = box.start("g.fmsh")
    box.wait_for("waiting-go")
    _kill(proc)
    (box.root / "go").touch()
    # the id in the last row of the table (the summary above it is in test_tasks_reports.py)
    script = 'tasks | tail -n 1 | cut -d" " -f1; resume 1; echo "status $?"; trace 1 | head -1 | cut -d, -f1'
    result = box.run("-c", script)
    assert result.out == "1\nresumed\nstatus 0\ntask 1 g: done (exit 0)\n", result.err


def test_cancel_stops_a_running_task(box: Box) -> None:
    box.script("c.fmsh", GATE + "task c {\n  gate go\n  echo never\n}\n")
    proc = box.start("c.fmsh", env={"FMSH_LEASE": "3"})
    box.wait_for("waiting-go")
    cancelled = box.run("--cancel", "1")
    assert cancelled.status == 0
    assert f"task 1 cancelled; its owner {os.uname().nodename}:{proc.pid} stops before its next step" in cancelled.out
    out, err = proc.communicate(timeout=15)
    assert "never" not in out
    assert "task 1: it was cancelled; stopping" in err
    assert proc.returncode == 75
    assert box.tasks()[0]["status"] == "cancelled"
    again = box.run("--resume", "1")
    assert again.status == 1 and "was cancelled; `retry 1 --from 1` starts it again" in again.err
    assert box.run("--cancel", "1").err.strip().endswith("is already cancelled; nothing to cancel")


def test_forget(box: Box) -> None:
    box.script("f.fmsh", GATE + "task f {\n  gate go\n}\n")
    proc = box.start("f.fmsh")
    box.wait_for("waiting-go")
    refused = box.run("--forget", "1")
    assert refused.status == 1 and "is running" in refused.err and "`cancel 1` it first" in refused.err
    (box.root / "go").touch()
    proc.communicate(timeout=15)
    forgotten = box.run("--forget", "1")
    assert (forgotten.status, forgotten.out) == (0, "task 1 (f) forgotten\n")
    assert box.tasks() == []
    for table in ("steps", "attempts", "events", "bindings", "output", "step_hosts"):
        assert box.query(f"SELECT count(*) FROM {table}") == [(0,)]


def test_every_task_command_has_help(box: Box) -> None:
    for name in ("tasks", "trace", "log", "resume", "cancel", "retry", "forget"):
        result = box.run(f"--{name}", "--help")
        assert result.status == 0 and f"Usage: fmsh --{name}" in result.out, name
    assert "fmsh --resume ID" in box.run("--help").out


def test_a_script_called_tasks_still_runs(box: Box) -> None:
    box.script("tasks", "echo the script\n")
    assert box.run("tasks").out == "the script\n"


# --- ownership -------------------------------------------------------------------------


def test_a_stopped_owner_is_taken_over_and_cannot_commit_again(box: Box) -> None:
    """An owner that stops sending heartbeats (SIGSTOP) loses the task when its lease runs
    out; when it wakes up, the journal refuses its writes and it stops before its next step."""
    box.script(
        "z.fmsh",
        GATE + "task z {\n  gate go\n  sh -c 'echo \"$FMSH_STEP\" >> after-gate'\n}\n",
    )
    zombie = box.start("z.fmsh", env={"FMSH_LEASE": "2"})
    box.wait_for("waiting-go")
    os.kill(zombie.pid, signal.SIGSTOP)
    try:
        refused = box.run("--resume", "1", env={"FMSH_LEASE": "2"})
        assert refused.status == 1 and f"owned by {os.uname().nodename}:{zombie.pid}" in refused.err
        time.sleep(2.5)  # the lease runs out
        (box.root / "go").touch()
        taken = box.run("--resume", "1", env={"FMSH_LEASE": "2"})
        assert taken.status == 0, taken.err
        assert box.query("SELECT epoch, status FROM tasks") == [(2, "done")]
    finally:
        os.kill(zombie.pid, signal.SIGCONT)
    out, err = zombie.communicate(timeout=15)
    assert zombie.returncode == 75, err
    assert "task 1 was taken over by" in err or "task 1: it was taken over by" in err
    assert TRACEBACK not in err
    assert (box.root / "after-gate").read_text().count("\n") == 1  # only the new owner ran it
