"""Journal cost: N local `/bin/true` steps inside a task, against the same loop outside one.

What it measures: wall time of

    fmsh -c 'task bench { for ((i=0;i<N;i++)); do /bin/true; done; }'   (journaled)
    fmsh -c 'for ((i=0;i<N;i++)); do /bin/true; done'                    (not journaled)

(N = 1000 by default, 200 with --quick).  Inside the task every `/bin/true`
is a step, journaled in SQLite before and after it runs (two commits per
step); outside it nothing is journaled.  The task runs twice over: with the
default FMSH_JOURNAL_SYNC=normal (the target is about this one) and with
FMSH_JOURNAL_SYNC=full (every commit fsynced; informational, no target).
Each run gets a fresh journal (FMSH_JOURNAL) in a temporary directory
(--dir, default the system's), deleted after the run.  The same three
commands with N = 0 run too, to split off the fixed cost of a task (creating
the fresh journal, its schema, the task row) from the cost per step.

All the commands run round-robin after a warm-up round.  After every task run
the journal is opened with the sqlite3 module: it must hold one task, status
`done`, with exactly N steps, all `finished`; after every plain run no
journal may exist.  A run that fails that check is a failed run.

How to read it: the table gives min / median / max wall and median CPU.  Per
task case: the wall time added per step, (median task - median plain) / N;
steps per second inside the task, N / median task; and the journal's own rate,
N / (median task - median plain).  Target: <= 1 ms added per step with
FMSH_JOURNAL_SYNC=normal.  Then, informational, the fixed cost per task (the
N = 0 task against the N = 0 loop) and the cost per step without it.  fsync
cost depends on the file system of --dir (printed; on tmpfs it is nil).

A missed target is reported, not an error; the exit status is 1 only if a run
failed (non-zero exit, wrong journal, timeout).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import _timing as t

TARGET_MS = 1.0
JOURNAL_VARS = ("FMSH_JOURNAL", "FMSH_JOURNAL_SYNC", "FMSH_JOURNAL_TIMEOUT", "FMSH_JOURNAL_OUTPUT")


def loop(n: int) -> str:
    return f"for ((i=0;i<{n};i++)); do /bin/true; done"


def task_script(n: int) -> str:
    return f"task bench {{ {loop(n)}; }}"


def _remove_journal(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def journal_has(path: Path, n: int) -> str | None:
    """None if the journal at `path` holds one task, done, with n steps all finished; else why not."""
    if not path.exists():
        return f"no journal at {path}"
    db = sqlite3.connect(path)
    try:
        tasks = db.execute("SELECT id, name, status FROM tasks").fetchall()
        if len(tasks) != 1:
            return f"expected 1 task in the journal, found {len(tasks)}"
        task_id, name, status = tasks[0]
        if name != "bench" or status != "done":
            return f"expected task 'bench' with status 'done', got {name!r} with status {status!r}"
        steps = db.execute("SELECT count(*) FROM steps").fetchone()[0]
        if steps != n:
            return f"expected {n} journaled steps, found {steps}"
        unfinished = db.execute(
            "SELECT count(*) FROM steps WHERE task_id = ? AND status != 'finished'", (task_id,)
        ).fetchone()[0]
        if unfinished:
            return f"{unfinished} of the {n} steps are not 'finished'"
    except sqlite3.Error as exc:
        return f"cannot read the journal {path}: {exc}"
    finally:
        db.close()
    return None


def check_task(path: Path, n: int) -> t.Check:
    """Check the journal after a task run, then delete it so the next run starts fresh."""

    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        try:
            return journal_has(path, n)
        finally:
            _remove_journal(path)

    return check


def check_plain(path: Path) -> t.Check:
    """Check that a run outside a task created no journal."""

    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        if path.exists():
            _remove_journal(path)
            return f"a run outside a task created a journal at {path}"
        return None

    return check


def fs_type(directory: Path) -> str:
    """File system type of `directory` from /proc/mounts (longest matching mount point), or 'unknown'."""
    best, kind = "", "unknown"
    target = str(directory.resolve())
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount = fields[1].replace("\\040", " ")
                inside = target == mount or target.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) > len(best):
                    best, kind = mount, fields[2]
    except OSError:
        pass
    return kind


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def per_step_lines(task: t.Case, plain: t.Case, n: int) -> tuple[list[str], float | None]:
    """Report lines for one task case against the plain loop, and the added seconds per step."""
    if not (task.ok and plain.ok):
        return [f"{task.label}: n/a (a run failed)"], None
    added = task.median() - plain.median()
    per_step = added / n
    rate = f"{n / added:.0f} steps/s" if added > 0 else "n/a (no measurable overhead)"
    return [
        f"{task.label}:",
        f"  added wall per step (median task - median plain) / N: {ms(per_step)}",
        f"  steps per second inside the task, N / median task:   {n / task.median():.0f} steps/s",
        f"  journal's own rate, N / (median task - median plain): {rate}",
    ], per_step


def split_lines(task: t.Case, task0: t.Case, plain: t.Case, plain0: t.Case, n: int) -> list[str]:
    """Fixed cost per task (N = 0) and the per-step cost without it."""
    if not all(c.ok for c in (task, task0, plain, plain0)):
        return [f"{task.label}: fixed / per-step split n/a (a run failed)"]
    fixed = task0.median() - plain0.median()
    marginal = ((task.median() - task0.median()) - (plain.median() - plain0.median())) / n
    return [
        f"{task.label}: fixed cost per task (N=0 task - N=0 loop): {ms(fixed)}; per step without it: {ms(marginal)}"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=5, warmup=1)
    parser.add_argument("--n", type=int, default=None, help="steps per run (default 1000; 200 with --quick)")
    parser.add_argument("--dir", help="directory for the temporary journals (default: the system's temp directory)")
    args = parser.parse_args(argv)
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs, warmup, n = t.sizes(parser, args, 1000, 200)
    if args.dir and not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir!r} is not a directory")

    base_env = {k: v for k, v in os.environ.items() if k not in JOURNAL_VARS}
    with tempfile.TemporaryDirectory(prefix="fmsh-journal-", dir=args.dir) as tmp:
        root = Path(tmp)

        def plain_case(steps: int) -> t.Case:
            path = root / f"plain-{steps}.db"
            env = base_env | {"FMSH_JOURNAL": str(path)}
            return t.Case(f"plain loop, N={steps}", [fmsh, "-c", loop(steps)], check=check_plain(path), env=env)

        def task_case(steps: int, sync: str) -> t.Case:
            path = root / f"task-{steps}-{sync}.db"
            env = base_env | {"FMSH_JOURNAL": str(path), "FMSH_JOURNAL_SYNC": sync}
            label = f"task, N={steps}, SYNC={sync}"
            return t.Case(label, [fmsh, "-c", task_script(steps)], check=check_task(path, steps), env=env)

        plain, task, task_full = plain_case(n), task_case(n, "normal"), task_case(n, "full")
        plain0, task0, task0_full = plain_case(0), task_case(0, "normal"), task_case(0, "full")
        cases = [plain, task, task_full, plain0, task0, task0_full]

        print(f"## journal: {n} local `/bin/true` steps inside a task against the same loop outside one\n")
        print(f"fmsh:     {fmsh}")
        print(f"journals: {root}  ({fs_type(root)}; a fresh one per run, deleted after)")
        print(f"task:     {task_script(n)}")
        print(f"plain:    {loop(n)}")
        print("also:     the same with N=0, to split off the fixed cost per task")
        print(f"runs:     {runs} per command, round-robin, after {warmup} warm-up round(s)\n")
        t.run_interleaved(cases, runs=runs, warmup=warmup, timeout=args.timeout)

    print(t.table(cases))
    print()
    lines, per_step = per_step_lines(task, plain, n)
    for line in lines:
        print(line)
    if per_step is None:
        print(f"target: <= {TARGET_MS:g} ms added per step: n/a (a run failed)")
    else:
        verdict = "MET" if per_step * 1000 <= TARGET_MS else "NOT MET"
        print(f"target: <= {TARGET_MS:g} ms added per step: {verdict}")
    lines, per_step_full = per_step_lines(task_full, plain, n)
    for line in lines:
        print(line)
    print("  (informational, no target)")
    print()
    for line in split_lines(task, task0, plain, plain0, n) + split_lines(task_full, task0_full, plain, plain0, n):
        print(line)
    for line in t.failures(cases):
        print(line)
    per_step_ms = {"journal, SYNC=normal": per_step, "journal, SYNC=full": per_step_full}
    t.record(
        "journal",
        cases,
        n=n,
        compare=[[task.label, [plain.label]], [task_full.label, [plain.label]]],
        per_step_ms={k: v * 1000 for k, v in per_step_ms.items() if v is not None},
    )
    return 0 if all(c.ok for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
