"""The fleet: fmsh workers sharing a journal in an rqlite cluster (FMSH_JOURNAL=rqlite://...),
how many tasks a minute they get through, and what a step costs on rqlite against a file.

What it measures, in one run:

1. Tasks per minute with W = 1, 2 and 3 workers (`fmsh --worker --jobs 4 --exit-when-idle`,
   each its own process, as on W machines) sharing a 3-node rqlite cluster on 127.0.0.1.
   Each measurement gets a fresh cluster: T tasks (T = 60; 12 with --quick) are submitted
   to it first (`fmsh --submit --queue fleet --name small -c SCRIPT`, 4 at a time, untimed),
   each of the small shape

       hostname; uname -r; sleep 0.2; date -u +%s; ls / >/dev/null      (5 steps)

   then the W workers start, and the time is from their start to the last task's
   finished_at in the journal (the workers' own exit, up to one --poll later, is shown
   beside it). Afterwards `fmsh --tasks --json --all` must show exactly the T tasks, every
   one `done`, exit 0, with 5 steps, and every worker must have exited 0: anything else
   fails the run (a task that failed is not throughput). Printed: tasks per minute for
   each W, the CPU the workers and their tasks used per task (rqlited not included), how
   the tasks spread over the workers, and the speed-ups 2/1 and 3/1.

2. The cost of a step on rqlite against the file journal: a task of S local `/bin/true`
   steps (S = 200; 50 with --quick)

       fmsh -c 'task bench { for ((i=0;i<S;i++)); do /bin/true; done; }'

   with FMSH_JOURNAL=FILE, with FMSH_JOURNAL=rqlite://3 nodes and with a 1-node cluster
   (one journal of each for the whole part, made by the warm-up round: every run adds its
   task, so that the file and the clusters are alike; a fresh file per run would add the
   schema's creation to each task), against the same loop outside a task; and the same
   with S = 0 to split off the fixed cost of a task. Every task must be `done` with exactly
   S steps; the first run of each case is also checked in `fmsh --trace --json`: S steps,
   each the command `/bin/true`, status ok. (`true`, the builtin, is not a journaled step; `/bin/true` is. And
   `$(seq S)` would be one more step: hence the arithmetic loop, as in bench/journal.py.)
   Printed as in bench/journal.py: ms added per step, (median task - median plain) / S,
   for each journal, the ratio rqlite / file, and the fixed / per-step split (the cost of
   a step with the task's fixed cost taken out, and the ratio rqlite / file of that).

The clusters are tests/rqlite.py's (rqlited from .rqlite/bin, which tests/setup installs
with `python3 tests/install_rqlite.py`, or on PATH); each node keeps its data in a
temporary directory (--dir, default the system's), deleted after the run, and every
process this bench starts (rqlited, workers, their tasks) is stopped before it ends. Every
node runs on this machine, so Raft's network round trips are loopback ones, and the
workers, their tasks and the three nodes share its cores: the speed-up is bounded by the
CPU, not by the journal, on a small machine (the load average is printed).

Targets: 3 workers get through at least 1.5x the tasks a minute of 1; a step on a 3-node
rqlite journal adds under 15 ms. Set from what a loaded 2-core machine gave: 2.0x, bounded
by the CPU there (3 workers did no better than 2); 9 ms a step, which is 4 HTTP requests
to the cluster, 2 of them Raft commits (15 ms leaves room for noise, not for another
commit per step). A missed target is reported, not
an error; the exit status is 1 only if a run failed (a task not done, a worker's bad exit,
a timeout) or rqlited is not installed. A task claimed more than once (its first run
failed, or a claim was taken over) still counts, as it ended done, but is printed as a
note with what the workers said of it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import _timing as t
from callback import Failed, Proc, run_all
from journal import fs_type, loop, per_step_lines, split_lines, task_script

TARGET_SPEEDUP = 1.5  # 3 workers against 1, tasks per minute
TARGET_STEP_MS = 15.0  # added per step, 3-node rqlite journal
WORKERS = (1, 2, 3)
JOBS = 4
QUEUE = "fleet"
STEPS_PER_TASK = 5
TASK_SCRIPT = "hostname; uname -r; sleep 0.2; date -u +%s; ls / >/dev/null"
SUBMITTERS = 4  # `fmsh --submit` processes at once, filling the queue
_spec = importlib.util.spec_from_file_location("fmsh_tests_rqlite", t.REPO_ROOT / "tests" / "rqlite.py")
assert _spec is not None and _spec.loader is not None
rq = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rq)


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FMSH_")}


def _clip(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + " ..."


def tasks_json(fmsh: str, journal: str, *options: str) -> list[dict]:
    """`fmsh --tasks --json OPTIONS` against `journal`, one dict per task."""
    proc = subprocess.run([fmsh, "--tasks", "--json", *options], env=base_env() | {"FMSH_JOURNAL": journal},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)  # fmt: skip
    if proc.returncode != 0:
        raise Failed(f"fmsh --tasks --json: exit {proc.returncode}: {_clip(proc.stderr)}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def trace_problem(fmsh: str, journal: str, task_id: int, n: int) -> str | None:
    """None if `fmsh --trace ID --json` shows exactly n steps, each `/bin/true`, ok; else why not."""
    proc = subprocess.run([fmsh, "--trace", str(task_id), "--json"], env=base_env() | {"FMSH_JOURNAL": journal},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)  # fmt: skip
    if proc.returncode != 0:
        return f"fmsh --trace {task_id} --json: exit {proc.returncode}: {_clip(proc.stderr)}"
    steps = json.loads(proc.stdout).get("steps") or []
    good = [s for s in steps if s.get("kind") == "command" and s.get("text") == "/bin/true" and s.get("status") == "ok"]
    if len(steps) != n or len(good) != n:
        return f"fmsh --trace {task_id}: expected {n} steps `/bin/true`, ok; got {len(steps)} steps, {len(good)} such"
    return None


# --- 1. tasks per minute ---------------------------------------------------------------------


class Throughput:
    """Runs of T tasks through W workers, each on a fresh 3-node cluster."""

    def __init__(self, fmsh: str, root: Path, tasks: int, timeout: float) -> None:
        self.fmsh = fmsh
        self.root = root
        self.tasks = tasks
        self.timeout = timeout
        self.runs = 0
        self.exited: dict[int, list[float]] = {}  # W -> seconds until the last worker exited
        self.spread: dict[int, list[int]] = {}  # W -> tasks each worker ran, in the last run
        self.notes: list[str] = []  # tasks claimed more than once

    def runner(self, w: int):  # type: ignore[no-untyped-def]
        def run(case: t.Case, timeout: float, kept: bool) -> None:
            try:
                wall, exited, cpu, spread = self.once(w)
            except Failed as e:
                case.error = str(e)
                return
            except (OSError, ValueError, AssertionError, subprocess.SubprocessError) as e:
                case.error = f"{type(e).__name__}: {_clip(str(e))}"
                return
            if kept:
                case.wall.append(wall)
                case.cpu.append(cpu)
                self.exited.setdefault(w, []).append(exited)
                self.spread[w] = spread

        return run

    def once(self, w: int) -> tuple[float, float, float, list[int]]:
        self.runs += 1
        work = self.root / f"tput-w{w}-{self.runs}"
        cluster = rq.RqliteCluster(work / "rqlite", 3)
        workers: list[Proc] = []
        try:
            cluster.start()
            env = base_env() | {"FMSH_JOURNAL": cluster.url}
            argv = [self.fmsh, "--submit", "--queue", QUEUE, "--name", "small", "-c", TASK_SCRIPT]
            _, outcomes = run_all([argv] * self.tasks, SUBMITTERS, env, 120)
            if outcomes != Counter({"exit 0": self.tasks}):
                shown = ", ".join(f"{o}: {c}" for o, c in outcomes.most_common(3))
                raise Failed(f"expected {self.tasks} submits with exit 0, got {shown}")
            queued = tasks_json(self.fmsh, cluster.url, "--all")
            if len(queued) != self.tasks or any(q["status"] != "queued" for q in queued):
                raise Failed(f"expected {self.tasks} queued tasks, found {Counter(q['status'] for q in queued)}")
            worker_argv = [self.fmsh, "--worker", "--queue", QUEUE, "--jobs", str(JOBS), "--exit-when-idle"]
            cpu0 = t._children_cpu()
            started = time.time()
            for k in range(w):
                workers.append(Proc(worker_argv, env, work, work / f"worker{k + 1}.log"))
            deadline = time.monotonic() + self.timeout
            for proc in workers:
                rc = proc.wait(max(1.0, deadline - time.monotonic()))
                proc._reader.join(10)  # all it printed
                if rc != 0:
                    raise Failed(f"a worker exited {rc}: {_clip(proc.output())}")
            exited = time.time() - started
            cpu = t._children_cpu() - cpu0
            rows = tasks_json(self.fmsh, cluster.url, "--all")
            self.check(rows)
            wall = max(float(r["finished_at"]) for r in rows) - started
            logs = [p.output() for p in workers]
            claims = [[int(x) for x in re.findall(r"^fmsh worker: task (\d+) .*: claimed", log, re.M)] for log in logs]
            spread = [len(c) for c in claims]
            self.note_reclaims(w, claims, logs, rows)
        finally:
            for proc in workers:
                proc.stop()
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
        return wall, exited, cpu, spread

    def note_reclaims(self, w: int, claims: list[list[int]], logs: list[str], rows: list[dict]) -> None:
        """A task claimed more than once (its first run failed, or its claim was taken over)
        still counts, as it ended done; but it is noted, with what the workers said of it."""
        counts = Counter(i for c in claims for i in c)
        missing = {int(r["id"]) for r in rows} - set(counts)
        if missing:
            raise Failed(f"no worker's log shows a claim of task(s) {sorted(missing)}")
        for task_id, n in sorted(counts.items()):
            if n > 1:
                said = [f"worker {k + 1}: {line}" for k, log in enumerate(logs) for line in log.splitlines()
                        if re.search(rf"\btask {task_id}\b", line)]  # fmt: skip
                epoch = next((r["epoch"] for r in rows if int(r["id"]) == task_id), "?")
                where = f"W={w}, measurement {self.runs}"
                self.notes.append(f"{where}: task {task_id} claimed {n} times (epoch now {epoch}): " + " | ".join(said))

    def check(self, rows: list[dict]) -> None:
        bad = [r for r in rows if (r["status"], r["exit_status"], r["steps"], r["queue"]) != ("done", 0, 5, QUEUE)]
        if len(rows) != self.tasks or bad:
            shown = Counter(f"{r['status']} (exit {r['exit_status']}, {r['steps']} steps)" for r in rows)
            raise Failed(f"expected {self.tasks} tasks done, exit 0, {STEPS_PER_TASK} steps; got {dict(shown)}")


def throughput_table(cases: dict[int, t.Case], tput: Throughput) -> str:
    rows = [["workers", "tasks/run", "runs", "tasks/min (median)", "worst", "best", "wall (median)",
             "workers exited (median)", "cpu per task", "tasks per worker (last run)"]]  # fmt: skip
    for w, c in cases.items():
        if c.ok:
            per_min = [tput.tasks * 60 / x for x in c.wall]
            cpu_per_task = statistics.median(c.cpu) / tput.tasks
            rows.append([f"`{c.label}`", str(tput.tasks), str(len(c.wall)), f"{statistics.median(per_min):.0f}",
                         f"{min(per_min):.0f}", f"{max(per_min):.0f}", t.fmt_time(c.median()),
                         t.fmt_time(statistics.median(tput.exited[w])), t.fmt_time(cpu_per_task),
                         " + ".join(map(str, tput.spread.get(w, []))) or "-"])  # fmt: skip
        else:
            rows.append([f"`{c.label}`", str(tput.tasks), str(len(c.wall)), "FAILED", "-", "-", "-", "-", "-", "-"])
    return t.markdown_table(rows)


def speedup_line(more: t.Case, one: t.Case, w: int, target: float | None = None) -> str:
    what = f"speed-up {w} workers / 1, tasks per minute (medians)"
    if not (more.ok and one.ok):
        tail = f" -- target >= {target:g}x: n/a (a run failed)" if target is not None else ""
        return f"{what}: n/a (a run failed){tail}"
    r = one.median() / more.median()
    line = f"{what}: {r:.2f}x"
    if target is not None:
        line = (
            f"target: {w} workers >= {target:g}x the tasks/min of 1: {'MET' if r >= target else 'NOT MET'} ({r:.2f}x)"
        )
    return line + f"  [best runs: {min(one.wall) / min(more.wall):.2f}x]"


# --- 2. a step on rqlite against a file ------------------------------------------------------


class StepCheck:
    """The check after a task run against a journal (a cluster or a file): the newest task is
    a new one, `bench`, done, with n steps; the first time, its trace too."""

    def __init__(self, fmsh: str, url: str, n: int, last: list[int]) -> None:
        self.fmsh, self.url, self.n, self.last = fmsh, url, n, last
        self.traced = False

    def __call__(self, proc: subprocess.CompletedProcess[bytes]) -> str | None:
        try:
            rows = tasks_json(self.fmsh, self.url, "-n", "1")
        except Failed as e:
            return str(e)
        if not rows or rows[0]["id"] <= self.last[0]:
            return "the run left no new task in the journal"
        row = rows[0]
        self.last[0] = row["id"]
        if (row["name"], row["status"], row["steps"]) != ("bench", "done", self.n):
            return f"expected task `bench' done with {self.n} steps, got {row['name']!r} {row['status']} {row['steps']}"
        if not self.traced:
            self.traced = True
            return trace_problem(self.fmsh, self.url, row["id"], self.n)
        return None


def plain_check(path: Path) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        return f"a run outside a task created a journal at {path}" if path.exists() else None

    return check


def rqlited_version(binary: str) -> str:
    try:
        proc = subprocess.run([binary, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"? ({e})"
    return " ".join((proc.stdout + proc.stderr).split()[:2]) or "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=3, warmup=0)
    parser.add_argument(
        "--tasks", type=int, default=None, help="tasks per throughput run (default 60; 12 with --quick)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="steps in the per-step task (default 200; 50 with --quick)"
    )
    parser.add_argument(
        "--step-runs", type=int, default=None, help="timed runs per per-step case (default 5; 3 with --quick)"
    )
    parser.add_argument("--dir", help="directory for the clusters' data and the journals (default: the system's temp)")
    args = parser.parse_args(argv)
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    warmup = args.warmup if args.warmup is not None else 0
    ntasks = args.tasks if args.tasks is not None else (12 if args.quick else 60)
    nsteps = args.steps if args.steps is not None else (50 if args.quick else 200)
    step_runs = args.step_runs if args.step_runs is not None else (3 if args.quick else 5)
    if min(ntasks, nsteps, step_runs, runs) < 1:
        parser.error("--tasks, --steps, --step-runs and --runs must be at least 1")
    if args.dir and not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir!r} is not a directory")

    binary = rq.rqlited()
    print(f"## fleet: tasks per minute with 1-3 workers on a 3-node rqlite cluster, T={ntasks}; "
          f"a step on rqlite against a file, S={nsteps}\n")  # fmt: skip
    if binary is None:
        print("skipped: rqlited is not installed (.rqlite/bin or PATH): run `python3 tests/install_rqlite.py`")
        print("FAILED `fleet`: rqlited not installed")
        return 1

    with tempfile.TemporaryDirectory(prefix="fmsh-fleet-", dir=args.dir) as tmp:
        root = Path(tmp)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"fmsh:     {fmsh}")
        print(f"rqlited:  {binary} ({rqlited_version(binary)}); nodes on 127.0.0.1, data in {root} ({fs_type(root)})")
        print(f"machine:  {os.cpu_count()} cores; load average at start (1, 5, 15 min): {load}")
        print(f"task:     fmsh --submit --queue {QUEUE} --name small -c '{TASK_SCRIPT}'  ({STEPS_PER_TASK} steps)")
        print(f"workers:  fmsh --worker --queue {QUEUE} --jobs {JOBS} --exit-when-idle, W = 1, 2, 3 processes; "
              "a fresh 3-node cluster per run")  # fmt: skip
        print(f"runs:     {runs} per W, round-robin, after {warmup} warm-up round(s)\n")

        # 1. tasks per minute
        tput = Throughput(fmsh, root, ntasks, args.timeout)
        tcases = {w: t.Case(f"fmsh --worker x{w}, --jobs {JOBS}", []) for w in WORKERS}
        runners = {c.label: tput.runner(w) for w, c in tcases.items()}

        def run_case(c: t.Case, timeout: float, kept: bool) -> None:
            runners[c.label](c, timeout, kept)

        t.run_interleaved(list(tcases.values()), runs=runs, warmup=warmup, timeout=args.timeout, run=run_case)
        print(f"### tasks per minute, {ntasks} tasks of {STEPS_PER_TASK} steps, 3-node rqlite journal\n")
        print(throughput_table(tcases, tput))
        print()
        print("(wall: from the workers' start to the last task's finished_at; cpu per task: the user+sys of the")
        print(" workers and their tasks (the run's, in the JSON record) over the tasks, rqlited not counted)")
        for note in tput.notes:
            print(f"note: {note}")
        print(speedup_line(tcases[2], tcases[1], 2))
        print(speedup_line(tcases[3], tcases[1], 3, TARGET_SPEEDUP))
        print()

        # 2. a step on rqlite against the file
        c3 = rq.RqliteCluster(root / "steps3", 3)
        c1 = rq.RqliteCluster(root / "steps1", 1)
        env = base_env()
        plain_path = root / "plain.db"

        def plain(n: int) -> t.Case:
            return t.Case(f"plain loop, S={n}", [fmsh, "-c", loop(n)], check=plain_check(plain_path),
                          env=env | {"FMSH_JOURNAL": str(plain_path)})  # fmt: skip

        file_path, lastf = root / "steps.db", [0]

        def on_file(n: int) -> t.Case:
            check = StepCheck(fmsh, str(file_path), n, lastf)
            argv = [fmsh, "-c", task_script(n)]
            return t.Case(f"task, S={n}, file journal", argv, check=check, env=env | {"FMSH_JOURNAL": str(file_path)})

        def on_rqlite(n: int, cluster, what: str, last: list[int]) -> t.Case:  # type: ignore[no-untyped-def]
            check = StepCheck(fmsh, cluster.url, n, last)
            argv = [fmsh, "-c", task_script(n)]
            return t.Case(f"task, S={n}, rqlite {what}", argv, check=check, env=env | {"FMSH_JOURNAL": cluster.url})

        last3, last1 = [0], [0]
        plain_s, file_s = plain(nsteps), on_file(nsteps)
        rq3_s, rq1_s = on_rqlite(nsteps, c3, "3 nodes", last3), on_rqlite(nsteps, c1, "1 node", last1)
        plain_0, file_0 = plain(0), on_file(0)
        rq3_0, rq1_0 = on_rqlite(0, c3, "3 nodes", last3), on_rqlite(0, c1, "1 node", last1)
        cases = [plain_s, file_s, rq3_s, rq1_s, plain_0, file_0, rq3_0, rq1_0]
        print(f"### a step on rqlite against a file: {nsteps} local `/bin/true` steps in a task\n")
        print(f"task:     {task_script(nsteps)}")
        print(f"plain:    {loop(nsteps)}")
        print(f"journals: a file ({fs_type(root)}; FMSH_JOURNAL_SYNC=normal), a 3-node and a 1-node rqlite cluster,")
        print("          one of each for this part (every run adds its task); also S=0, to split off the fixed cost")
        print(f"runs:     {step_runs} per command, round-robin, after 1 warm-up round\n")
        try:
            for cluster, mine in ((c3, (rq3_s, rq3_0)), (c1, (rq1_s, rq1_0))):
                try:
                    cluster.start()
                except AssertionError as e:
                    for c in mine:
                        c.error = f"the rqlite cluster did not start: {_clip(str(e))}"
            t.run_interleaved(cases, runs=step_runs, warmup=1, timeout=args.timeout)
        finally:
            c3.stop()
            c1.stop()

    print(t.table(cases))
    print()
    per_step: dict[str, float | None] = {}
    for task in (file_s, rq3_s, rq1_s):
        lines, per_step[task.label] = per_step_lines(task, plain_s, nsteps)
        for line in lines:
            print(line)
    f_ms, r3_ms, r1_ms = (per_step[c.label] for c in (file_s, rq3_s, rq1_s))
    for what, value in (("3 nodes", r3_ms), ("1 node", r1_ms)):
        if value is not None and f_ms:
            print(f"ratio rqlite {what} / file, ms added per step (medians): {value / f_ms:.1f}x")
        else:
            print(f"ratio rqlite {what} / file, ms added per step: n/a (a run failed)")
    if r3_ms is None:
        print(f"target: a step on a 3-node rqlite journal adds under {TARGET_STEP_MS:g} ms: n/a (a run failed)")
    else:
        verdict = "MET" if r3_ms * 1000 < TARGET_STEP_MS else "NOT MET"
        print(f"target: a step on a 3-node rqlite journal adds under {TARGET_STEP_MS:g} ms: {verdict} "
              f"({r3_ms * 1000:.1f} ms)")  # fmt: skip
    print()
    marginal: dict[str, float] = {}
    for task, task0 in ((file_s, file_0), (rq3_s, rq3_0), (rq1_s, rq1_0)):
        for line in split_lines(task, task0, plain_s, plain_0, nsteps):
            print(line)
        if all(c.ok for c in (task, task0, plain_s, plain_0)):
            marginal[task.label] = ((task.median() - task0.median()) - (plain_s.median() - plain_0.median())) / nsteps
    for task in (rq3_s, rq1_s):
        if task.label in marginal and marginal.get(file_s.label, 0) > 0:
            r = marginal[task.label] / marginal[file_s.label]
            print(f"ratio {task.label.split(', ')[2]} / file, per step without the fixed cost (medians): {r:.0f}x")
    all_cases = [*tcases.values(), *cases]
    for line in t.failures(all_cases):
        print(line)

    one = tcases[1]
    t.record(
        "fleet", list(tcases.values()), title=f"fleet: {ntasks} tasks through W workers, 3-node rqlite", n=ntasks,
        compare=[[tcases[w].label, [one.label]] for w in (2, 3)],
        tasks_per_min={c.label: round(ntasks * 60 / c.median()) for c in tcases.values() if c.ok},
        reclaimed=len(tput.notes),
        speedup={f"{w}/1": round(one.median() / tcases[w].median(), 2) for w in (2, 3) if one.ok and tcases[w].ok},
    )  # fmt: skip
    t.record(
        "fleet", cases, title=f"fleet: a step on rqlite against a file, S={nsteps}", n=nsteps,
        compare=[[rq3_s.label, [file_s.label]], [rq1_s.label, [file_s.label]]],
        per_step_ms={f"fleet: {k.split(', ', 2)[2]}": v * 1000 for k, v in per_step.items() if v is not None},
    )  # fmt: skip
    return 0 if all(c.ok for c in all_cases) else 1


if __name__ == "__main__":
    sys.exit(main())
