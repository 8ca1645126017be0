#!/usr/bin/env python3
"""Scale: the task commands on a big journal -- 10,000 tasks, 100,000 steps, and one task of
10,000 finished steps, interrupted -- listed, traced and resumed.

What it measures: wall time of

    fmsh --tasks                 the summary and the 20 newest tasks (target < 1 s)
    fmsh --tasks -a --json       every task, a JSON object a line
    fmsh --trace BIG             the tree of the 10,000-step task
    fmsh --resume BIG            until its first new step starts (target < 1 s), and to its end
    fmsh --resume SMALL          until its first new step starts: the fixed cost of a resume

on one journal (a real SQLite file, FMSH_JOURNAL in a temporary directory) made first:

  * 10,000 tasks of 10 steps each (--tasks, --steps-per-task), written in-process through
    fmsh's own journal module (fmsh.journal.sqlite: create_task, start_step, finish_step,
    record_host for the fan-out steps, end_task, cancel_task; the same SQL fmsh runs), by
    fmsh's own Python. Only the transactions differ: a batch of calls is one commit, so
    that the journal takes seconds to write, not minutes. A mix as a user's journal
    holds: most done, some failed (a step with exit 1), interrupted, cancelled; commands,
    echoes and fan-outs to 4 hosts (each with its host rows).
  * BIG: a real run of
        fmsh -c 'task big { for ((i=0;i<10000;i++)); do /bin/true; done; touch MARKER; }'
    killed (SIGKILL) once 9,990 of its steps are finished: it shows as interrupted (its
    owner is gone), and `resume` replays every finished step before it runs a new one.
  * SMALL: the same script, killed after its first step: its resume replays (almost)
    nothing, so the time to its first new step is the fixed cost of a resume (start,
    journal, claim, parse).

The journal is copied once built and restored before every resume, so each resume starts
from the same interrupted state. The time to the first new step is read from the journal
(the start of the first attempt of the resume's epoch, against the clock just before
`fmsh --resume` started); the resume of BIG then runs to its end (status 0, MARKER made),
the resume of SMALL is killed at its first new step.

Replay cost per step = (first new step of BIG - first new step of SMALL) / steps replayed.

Each run is checked: --tasks names the journal's task count; --json has a line per task;
the trace counts BIG's steps. All the listing commands run round-robin after a warm-up
round, then the resumes, alternating.

How to read it: the table gives min / median / max wall and median CPU; then the resume
times (medians), the replay cost per step, and the verdicts: --tasks < 1 s, the first new
step of the resumed 10,000-step task < 1 s (medians). A missed target is reported, not an
error; the exit status is 1 only if a run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _timing as t

TARGET_TASKS = 1.0
TARGET_RESUME = 1.0
NAMES = ("deploy", "backup", "rotate-logs", "migrate", "restart", "patch", "reindex", "sync")
# A task's steps, as a deploy would have them: kind, text (a fan-out reaches 4 hosts).
STEPS = (
    ("command", "git -C /srv/app pull --ff-only"),
    ("echo", 'echo "deploying $rev"'),
    ("remote", "@web[01-04] systemctl restart app"),
    ("command", "./migrate --check"),
    ("remote", "@web[01-04] curl -fsS localhost/health"),
)
HOSTS = ("web01", "web02", "web03", "web04")


# --- the journal, written through fmsh's journal module (in fmsh's Python) ---------------


def build(path: str, tasks: int, per_task: int) -> None:
    """10,000 tasks of 10 steps (by default) in the journal at `path`, through fmsh's journal
    module; run by fmsh's own Python (`scale.py --build`)."""
    from fmsh.journal.sqlite import SQLiteJournal
    from fmsh.tasks.owner import this_process

    class BatchedJournal(SQLiteJournal):
        """fmsh's journal, its writes joined into the transaction the caller opened."""

        def _write(self, action):  # type: ignore[no-untyped-def]
            return action(self.conn)

    rng = random.Random(10)
    journal = BatchedJournal(path)
    owner = this_process()
    conn = journal.conn
    conn.execute("BEGIN IMMEDIATE")
    for number in range(1, tasks + 1):
        name = NAMES[number % len(NAMES)]
        script = "\n".join(text for _, text in STEPS) + "\n"
        values = {
            "name": name,
            "origin": "script",
            "source_name": f"{name}.fmsh",
            "source": script,
            "source_hash": f"{number:064x}",
            "args": json.dumps([f"{name}.fmsh"]),
            "cwd": "/srv",
        }
        task = journal.create_task(values, owner, 30.0)
        roll = rng.random()
        status = "done" if roll < 0.85 else "failed" if roll < 0.93 else "interrupted" if roll < 0.98 else "cancelled"
        for seq in range(1, per_task + 1):
            kind, text = STEPS[(seq - 1) % len(STEPS)]
            line = (seq - 1) % len(STEPS) + 1
            row = {
                "seq": seq,
                "key": f"{line}:1" if seq <= len(STEPS) else f"{line}:1~{(seq - 1) // len(STEPS) + 1}",
                "kind": kind,
                "location": f"{name}.fmsh:{line}:1",
                "text": text,
                "context": "",
                "fingerprint": f"{seq:016x}",
                "tested": 0,
            }
            journal.start_step(task.id, task.epoch, row, True, 1, str(owner), [])
            last = seq == per_task
            if last and status in ("interrupted", "cancelled"):
                break  # in flight when it stopped
            exit_status = 1 if last and status == "failed" else 0
            if kind == "remote":
                for host in HOSTS:
                    result = {
                        "host": host,
                        "status": exit_status,
                        "failure": "exit" if exit_status else None,
                        "message": "",
                        "started_at": time.time(),
                        "output_bytes": 0,
                    }
                    journal.record_host(task.id, task.epoch, seq, 1, result, [])
            output = "deploying 4f1c2e" if kind == "echo" else None
            journal.finish_step(task.id, task.epoch, seq, 1, {"exit_status": exit_status, "output": output})
        if status == "cancelled":
            journal.cancel_task(task.id, lambda _: None)
        else:
            journal.end_task(task.id, task.epoch, status, {"done": 0, "failed": 1, "interrupted": 130}[status])
        if number % 500 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
    conn.execute("COMMIT")
    journal.close()


def build_in_fmsh_python(fmsh: str, path: Path, tasks: int, per_task: int) -> float:
    """Run `build` under the Python fmsh runs under (where its journal module is); seconds."""
    python = t.python_of(fmsh)
    env = dict(os.environ)
    if python is None:  # not a Python script: this checkout's fmsh, with this Python
        python = sys.executable
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(t.REPO_ROOT), env.get("PYTHONPATH")]))
    argv = [python, __file__, "--build", str(path), "--tasks", str(tasks), "--steps-per-task", str(per_task)]
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench/scale: writing the journal failed: {proc.stderr.strip()}")
    return time.perf_counter() - started


def big_script(n: int, marker: Path) -> str:
    return f"task big {{ for ((i=0;i<{n};i++)); do /bin/true; done; touch {marker}; }}"


def interrupted_run(fmsh: str, env: dict[str, str], journal: Path, script: str, stop_at: int, cwd: Path) -> int:
    """A real `fmsh -c SCRIPT` killed (SIGKILL) once `stop_at` steps are finished (its step
    `stop_at + 1` has started); its task id."""
    db = sqlite3.connect(journal, timeout=30)
    known = db.execute("SELECT coalesce(max(id), 0) FROM tasks").fetchone()[0]
    proc = subprocess.Popen(
        [fmsh, "-c", script],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    task_id = None
    try:
        while proc.poll() is None:
            if task_id is None:
                row = db.execute("SELECT id FROM tasks WHERE id > ? ORDER BY id LIMIT 1", (known,)).fetchone()
                task_id = row[0] if row else None
            if task_id is not None:
                seq = db.execute("SELECT max(seq) FROM steps WHERE task_id = ?", (task_id,)).fetchone()[0]
                if seq is not None and seq > stop_at:
                    proc.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.002)
        proc.wait()
        status = db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone() if task_id else None
    finally:
        db.close()
    if status is None or status[0] != "running":
        stderr = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        sys.exit(f"bench/scale: the task was to be killed after {stop_at} steps; it is {status} ({stderr})")
    if proc.stderr:
        proc.stderr.close()
    return task_id


# --- resuming -------------------------------------------------------------------------------


def restore(pristine: Path, journal: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{journal}{suffix}").unlink(missing_ok=True)
    shutil.copy2(pristine, journal)


def first_new_step(journal: Path, task_id: int, epoch: int) -> float | None:
    """When the resume (an epoch after `epoch`) started its first step (the journal's clock)."""
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=30)
    try:
        row = db.execute(
            "SELECT min(started_at) FROM attempts WHERE task_id = ? AND epoch > ?", (task_id, epoch)
        ).fetchone()
    finally:
        db.close()
    return None if row is None or row[0] is None else float(row[0])


def resume_once(
    case: t.Case, journal: Path, pristine: Path, task_id: int, epoch: int, marker: Path | None, timeout: float
) -> float | None:
    """One `fmsh --resume` from the pristine journal: seconds to its first new step, or None
    after recording an error in the case. With a marker, the resume runs to its end (timed
    in the case, its marker checked); without, it is killed at its first new step."""
    restore(pristine, journal)
    if marker is not None:
        marker.unlink(missing_ok=True)
        t0 = time.time()
        timed = t.run_once(case, timeout)
        if timed is None:
            return None
        if not marker.exists():
            case.error = f"the resumed task did not reach its last step ({marker} is missing)"
            return None
        case.wall.append(timed[0])
        case.cpu.append(timed[1])
        first = first_new_step(journal, task_id, epoch)
    else:
        t0 = time.time()
        proc = subprocess.Popen(
            case.argv, env=case.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        first = None
        deadline = time.monotonic() + timeout
        while first is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
            first = first_new_step(journal, task_id, epoch)
        proc.kill()
        proc.wait()
    if first is None:
        case.error = "the resume started no new step"
        return None
    return first - t0


# --- checks ---------------------------------------------------------------------------------


def check_tasks(total: int) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        head = proc.stdout.decode(errors="replace").partition("\n")[0]
        return None if head.startswith(f"{total} tasks:") else f"the summary does not count {total} tasks: {head!r}"

    return check


def check_json(total: int) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        lines = proc.stdout.count(b"\n")
        return None if lines == total else f"{lines} JSON lines, not {total}"

    return check


def check_trace(task_id: int, steps: int) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        lines = proc.stdout.decode(errors="replace").splitlines()
        if not lines or not lines[0].startswith(f"task {task_id} big: interrupted"):
            return f"the tree does not start with the interrupted task: {lines[:1]!r}"
        if len(lines) < 3 or lines[2].strip() != f"{steps} steps":
            return f"the tree does not count {steps} steps: {lines[2:3]!r}"
        return None

    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=5, warmup=1)
    parser.add_argument("--n", type=int, default=None, help="steps of the big task (default 10000; 1000 with --quick)")
    parser.add_argument("--tasks", type=int, default=None, help="tasks written (default 10000; 1000 with --quick)")
    parser.add_argument("--steps-per-task", type=int, default=10, help="steps of each (default %(default)s)")
    parser.add_argument("--dir", help="where the journal goes (default: a temporary directory)")
    parser.add_argument("--build", metavar="JOURNAL", help=argparse.SUPPRESS)  # the child that writes the journal
    args = parser.parse_args(argv)
    if args.build:
        build(args.build, args.tasks, args.steps_per_task)
        return 0
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs, warmup, n = t.sizes(parser, args, 10000, 1000)
    tasks = args.tasks if args.tasks is not None else (1000 if args.quick else 10000)
    if n < 20 or tasks < 1 or args.steps_per_task < 1:
        parser.error("--n must be at least 20, --tasks and --steps-per-task at least 1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FMSH_")} | {"NO_COLOR": "1"}

    with tempfile.TemporaryDirectory(prefix="fmsh-scale-", dir=args.dir) as tmp:
        root = Path(tmp)
        journal = root / "journal.db"
        env["FMSH_JOURNAL"] = str(journal)
        print(
            f"## scale: a journal of {tasks:,} tasks and {tasks * args.steps_per_task:,} steps, and a task of "
            f"{n:,} steps: list, trace, resume\n"
        )
        took = build_in_fmsh_python(fmsh, journal, tasks, args.steps_per_task)
        marker, small_marker = root / "marker", root / "small-marker"
        started = time.perf_counter()
        big = interrupted_run(fmsh, env, journal, big_script(n, marker), n - 10, root)
        big_took = time.perf_counter() - started
        small = interrupted_run(fmsh, env, journal, big_script(n, small_marker), 1, root)
        db = sqlite3.connect(journal)
        total = db.execute("SELECT count(*) FROM tasks").fetchone()[0]
        steps = db.execute("SELECT count(*) FROM steps").fetchone()[0]
        big_steps, big_done = db.execute(
            "SELECT count(*), sum(status = 'finished') FROM steps WHERE task_id = ?", (big,)
        ).fetchone()
        small_done = db.execute("SELECT count(*) FROM steps WHERE task_id = ? AND status = 'finished'", (small,))
        small_done = small_done.fetchone()[0]
        epoch = {tid: e for tid, e in db.execute("SELECT id, epoch FROM tasks WHERE id IN (?, ?)", (big, small))}
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        size = journal.stat().st_size
        pristine = root / "pristine.db"
        shutil.copy2(journal, pristine)
        print(f"fmsh:    {fmsh}")
        print(
            f"journal: {total:,} tasks, {steps:,} steps, {size / 1e6:.1f} MB; the {tasks:,} tasks written in "
            f"{took:.1f} s, the big task ({big_steps:,} steps, {big_done:,} finished) run in {big_took:.1f} s"
        )
        print(f"tasks:   big = {big} (interrupted at step {big_steps}), small = {small} (at step {small_done + 1})")
        print(f"runs:    {runs} per command, round-robin, after {warmup} warm-up round(s)\n")

        listing = [
            t.Case("fmsh --tasks", [fmsh, "--tasks"], check=check_tasks(total), env=env),
            t.Case("fmsh --tasks -a --json", [fmsh, "--tasks", "-a", "--json"], check=check_json(total), env=env),
            t.Case(f"fmsh --trace {big}", [fmsh, "--trace", str(big)], check=check_trace(big, big_steps), env=env),
        ]
        t.run_interleaved(listing, runs, warmup, timeout=args.timeout)

        resume_big = t.Case(f"fmsh --resume {big} (to its end)", [fmsh, "--resume", str(big)], env=env)
        resume_small = t.Case(f"fmsh --resume {small}", [fmsh, "--resume", str(small)], env=env)
        # The time to the first new step, by what is resumed.
        big_label = f"fmsh --resume {big}: {big_done:,} steps replayed first"
        small_label = f"fmsh --resume {small}: {small_done} replayed (the fixed start)"
        firsts: dict[str, list[float]] = {big_label: [], small_label: []}
        plan = [(resume_big, big, marker, big_label), (resume_small, small, None, small_label)]
        for r in range(warmup + runs):
            for case, task_id, mark, label in plan if r % 2 == 0 else plan[::-1]:
                if case.error is not None:
                    continue
                first = resume_once(case, journal, pristine, task_id, epoch[task_id], mark, args.timeout)
                if first is None:
                    continue
                if r >= warmup:
                    firsts[label].append(first)
                elif mark is not None:  # a warm-up run: not timed
                    case.wall.pop()
                    case.cpu.pop()
        restore(pristine, journal)

    cases = [*listing, resume_big]
    print(t.table(cases))
    print()
    replayed = big_done - small_done
    big_first = statistics.median(firsts[big_label]) if firsts[big_label] else None
    fixed = statistics.median(firsts[small_label]) if firsts[small_label] else None
    rows = [["time to the first new step", "runs", "min", "median", "max"]]
    for label, values in firsts.items():
        if values:
            rows.append(
                [f"`{label}`", str(len(values)), *(t.fmt_time(f(values)) for f in (min, statistics.median, max))]
            )
    print(t.markdown_table(rows))
    print()
    per_step_ms = None
    if big_first is not None and fixed is not None:
        per_step_ms = (big_first - fixed) / replayed * 1000
        print(
            f"replay: {replayed:,} steps in {t.fmt_time(big_first - fixed)} (first new step of {big} less that of "
            f"{small}, medians) -> {per_step_ms * 1000:.1f} us a step"
        )
    listed = listing[0]
    if listed.ok:
        verdict = "MET" if listed.median() < TARGET_TASKS else "NOT MET"
        print(
            f"target: `fmsh --tasks` on {total:,} tasks in < {TARGET_TASKS:g} s (median "
            f"{t.fmt_time(listed.median())}): {verdict}"
        )
    if big_first is not None:
        verdict = "MET" if big_first < TARGET_RESUME else "NOT MET"
        print(
            f"target: `fmsh --resume` of a task of {big_done:,} finished steps starts its first new step in "
            f"< {TARGET_RESUME:g} s (median {t.fmt_time(big_first)}): {verdict}"
        )
    t.record(
        "scale",
        cases,
        n=n,
        tasks=total,
        steps=steps,
        first_new_step_s=firsts,
        replay_per_step_us=None if per_step_ms is None else round(per_step_ms * 1000, 2),
    )
    problems = t.failures(cases)
    if resume_small.error is not None or not firsts[small_label]:
        problems.append(f"FAILED `{resume_small.label}`: {resume_small.error or 'no successful run'}")
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
