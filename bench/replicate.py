"""Replication cost: N local `/bin/true` steps inside a task, with the journal replicated
by Litestream to a file replica, against the same task with no replica.

What it measures: wall time of

    fmsh -c 'task bench { for ((i=0;i<N;i++)); do /bin/true; done; }'

(N = 200 by default, 50 with --quick) twice over: with FMSH_REPLICA=none (the
baseline: journaled, not replicated) and with FMSH_REPLICA=file://DIR (a file
replica on local disk: fmsh claims epoch 1 there, starts `litestream
replicate`, and after every step's commit waits for Litestream's sync before
the next step).  Each run gets a fresh journal (FMSH_JOURNAL) and, replicated,
a fresh replica folder, in a temporary directory (--dir, default the
system's), deleted after the run.  The same two commands with N = 0 run too,
to split the fixed cost of replication (claiming the epoch, starting
Litestream, the first and the last sync, stopping it) from its cost per step.
An sftp replica needs an sshd and is left out (the tests cover it); its cost
per step is the file replica's plus a round trip.

All the commands run round-robin after a warm-up round.  After every run the
journal is opened with the sqlite3 module: it must hold one task, status
`done`, with exactly N steps, all `finished`.  After a baseline run there may
be no replication state beside the journal.  After a replicated run the
replica folder must hold epochs/00000001/claim and Litestream's replica under
epochs/00000001/db, and nothing else; then `fmsh --recover --from URL
--no-resume` restores it into a new FMSH_JOURNAL (outside the timing), and the
restored journal must pass the same check: the task `done` with its N steps
`finished`, which proves every step reached the replica.  A run that fails a
check is a failed run.

How to read it: the table gives min / median / max wall and median CPU.  Then
the wall time replication adds per step, (median replicated - median plain) /
N, which still carries the fixed cost spread over N steps; the fixed cost
(the N = 0 replicated task - the N = 0 plain one); and the cost per step
without it, ((replicated - replicated N=0) - (plain - plain N=0)) / N, with
the steps per second a replicated task keeps up.  Target: <= 30 ms per step
without the fixed cost.  The sync is an fsync'd write on the replica's file
system, so the numbers depend on the file system of --dir (printed; on tmpfs
fsync is nil).

A missed target is reported, not an error; the exit status is 1 only if a run
failed (non-zero exit, wrong journal or replica, failed restore, timeout).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _timing as t
from journal import fs_type, journal_has, ms, task_script

TARGET_MS = 30.0
ENV_PREFIXES = ("FMSH_JOURNAL", "FMSH_REPLICA")
EPOCH = "00000001"


def _fresh(work: Path) -> None:
    """Empty `work` for the next run: journal, its sidecars, the replica, the restore."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()


def replica_has(replica: Path) -> str | None:
    """None if `replica` holds exactly epoch 1, claimed, with Litestream's replica in it."""
    epochs = replica / "epochs"
    try:
        names = sorted(os.listdir(epochs))
    except OSError as exc:
        return f"no epochs on the replica: {exc}"
    if names != [EPOCH]:
        return f"expected the replica to hold epoch {EPOCH} only, found {names}"
    if not (epochs / EPOCH / "claim").is_file():
        return f"no claim at {epochs / EPOCH / 'claim'}"
    db = epochs / EPOCH / "db"
    if not db.is_dir() or not any(p.is_file() for p in db.rglob("*")):
        return f"no Litestream replica under {db}"
    return None


def restored_has(fmsh: str, env: dict[str, str], url: str, out: Path, n: int) -> str | None:
    """Restore the replica into `out` with `fmsh --recover --from URL --no-resume`; None if
    the restored journal holds the task, done, with its n steps finished."""
    env = {k: v for k, v in env.items() if not k.startswith("FMSH_REPLICA")} | {"FMSH_JOURNAL": str(out)}
    argv = [fmsh, "--recover", "--from", url, "--no-resume"]
    try:
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return f"restore from {url} timed out"
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip() or "(no stderr)"
        return f"restore from {url} failed (exit {proc.returncode}): {err[:300]}"
    reason = journal_has(out, n)
    return None if reason is None else f"the journal restored from {url}: {reason}"


def check_plain(work: Path, journal: Path, n: int) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        try:
            if Path(str(journal) + ".replica").exists() or Path(str(journal) + ".litestream").exists():
                return "a run with FMSH_REPLICA=none left replication state beside its journal"
            return journal_has(journal, n)
        finally:
            _fresh(work)

    return check


def check_replicated(fmsh: str, env: dict[str, str], work: Path, journal: Path, replica: Path, n: int) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        try:
            return (
                journal_has(journal, n)
                or replica_has(replica)
                or restored_has(fmsh, env, f"file://{replica}", work / "restored.db", n)
            )
        finally:
            _fresh(work)

    return check


def report(rep: t.Case, rep0: t.Case, plain: t.Case, plain0: t.Case, n: int) -> list[str]:
    """The per-step lines and the target verdict."""
    target = f"target: <= {TARGET_MS:g} ms per step, without the fixed cost:"
    if not all(c.ok for c in (rep, rep0, plain, plain0)):
        return ["replication per step: n/a (a run failed)", f"{target} n/a (a run failed)"]
    added = (rep.median() - plain.median()) / n
    fixed = rep0.median() - plain0.median()
    marginal = ((rep.median() - rep0.median()) - (plain.median() - plain0.median())) / n
    steps = rep.median() - rep0.median()
    rate = f"{n / steps:.0f} steps/s" if steps > 0 else "n/a"
    verdict = "MET" if marginal * 1000 <= TARGET_MS else "NOT MET"
    rows = [
        ("added wall per step, (median replicated - median plain) / N:", ms(added)),
        ("fixed cost per task, N=0 replicated - N=0 plain:", ms(fixed)),
        ("per step without it, ((rep - rep N=0) - (plain - plain N=0)) / N:", ms(marginal)),
        ("steps per second in a replicated task, N / (rep - rep N=0):", rate),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"replication, N={n} (medians):"] + [f"  {label.ljust(width)} {value}" for label, value in rows]
    return [*lines, f"{target} {verdict}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=5, warmup=1)
    parser.add_argument("--n", type=int, default=None, help="steps per run (default 200; 50 with --quick)")
    parser.add_argument("--dir", help="directory for the journals and replicas (default: the system's temp directory)")
    args = parser.parse_args(argv)
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs, warmup, n = t.sizes(parser, args, 200, 50)
    if args.dir and not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir!r} is not a directory")

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
    # Short names: Litestream's control socket lives beside the journal (108-byte limit).
    with tempfile.TemporaryDirectory(prefix="fmsh-rep-", dir=args.dir) as tmp:
        root = Path(tmp)

        def case(steps: int, replicated: bool) -> t.Case:
            work = root / f"{'r' if replicated else 'p'}{steps}"
            _fresh(work)
            journal, replica = work / "j.db", work / "replica"
            env = base_env | {"FMSH_JOURNAL": str(journal)}
            if replicated:
                env["FMSH_REPLICA"] = f"file://{replica}"
                check = check_replicated(fmsh, base_env, work, journal, replica, steps)
                label = f"task, N={steps}, FMSH_REPLICA=file://"
            else:
                env["FMSH_REPLICA"] = "none"
                check = check_plain(work, journal, steps)
                label = f"task, N={steps}, no replica"
            return t.Case(label, [fmsh, "-c", task_script(steps)], check=check, env=env)

        plain, rep, plain0, rep0 = case(n, False), case(n, True), case(0, False), case(0, True)
        cases = [plain, rep, plain0, rep0]

        print(f"## replicate: {n} local `/bin/true` steps in a task, replicated to a file replica and not\n")
        print(f"fmsh:     {fmsh}")
        print(f"work:     {root}  ({fs_type(root)}; a fresh journal and replica per run, deleted after)")
        print(f"task:     {task_script(n)}")
        print("replica:  FMSH_REPLICA=file://<fresh dir> (Litestream; each step waits for its sync)")
        print("baseline: FMSH_REPLICA=none (journaled, not replicated)")
        print("also:     the same with N=0, to split off the fixed cost of replication")
        print("checks:   journal; replica epoch 1 claim + db; `fmsh --recover` restore of every replicated run")
        print(f"runs:     {runs} per command, round-robin, after {warmup} warm-up round(s)\n")
        t.run_interleaved(cases, runs=runs, warmup=warmup, timeout=args.timeout)

    print(t.table(cases))
    print()
    for line in report(rep, rep0, plain, plain0, n):
        print(line)
    for line in t.failures(cases):
        print(line)
    extra: dict[str, object] = {}
    if all(c.ok for c in cases):
        extra["per_step_ms"] = {"replicated (file replica)": (rep.median() - plain.median()) / n * 1000}
        extra["fixed_ms"] = (rep0.median() - plain0.median()) * 1000
        extra["per_step_without_fixed_ms"] = (
            ((rep.median() - rep0.median()) - (plain.median() - plain0.median())) / n * 1000
        )
    t.record("replicate", cases, n=n, compare=[[rep.label, [plain.label]]], **extra)
    return 0 if all(c.ok for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
