"""The chaos driver: a seeded loop of runs. Each run generates a workload, starts
`fmsh SCRIPT LEDGER` as a subprocess, waits a random time, injects a random fault (and,
one time in three, SIGKILLs fmsh too while a host fault lasts: a resume then meets the
sick host), snapshots the journal (read-only), heals the fault after a random hold (up to
6 s: past some steps' timeouts), waits for fmsh,
then `fmsh --resume ID` until the task is done, failed or cancelled (at most MAX_RESUMES
times), and checks the invariants (invariants.py). The seed is printed first; a summary
(runs, faults by kind, violations) at the end.

    tests/chaos/run [--runs N | --minutes M] [--seed S]     the long run (FMSH_CHAOS_SEED)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script: tests/ holds sshd.py and conftest.py
    sys.path.insert(0, str(HERE.parent))

from chaos import faults, invariants, workload  # noqa: E402
from chaos.lab import ChaosLab  # noqa: E402

MAX_RESUMES = 6
COMPOUND = 1 / 3  # how often a host fault is joined by a SIGKILL of fmsh
PROCESS_TIMEOUT = 150.0  # a run of fmsh that takes longer is hung: a violation
TRACEBACK = "Traceback (most recent call last)"


def fmsh_argv() -> list[str]:
    binary = Path(sys.executable).parent / "fmsh"
    return [str(binary)] if binary.exists() else [sys.executable, "-m", "fmsh"]


def seed_from(value: str | None) -> int:
    if value:
        return int(value)
    return int.from_bytes(os.urandom(4), "big")


@dataclass
class RunReport:
    index: int
    fault: str
    detail: str
    elements: list[str]
    statuses: list[int] = field(default_factory=list)  # fmsh's, then each resume's
    final: str = ""
    violations: list[invariants.Violation] = field(default_factory=list)
    seconds: float = 0.0
    also_killed: bool = False  # fmsh was SIGKILLed too, during the fault

    def line(self) -> str:
        verdict = "ok" if not self.violations else f"{len(self.violations)} VIOLATIONS"
        return (
            f"run {self.index:3d} {self.fault:12s} {self.final or '-':9s} statuses {self.statuses} "
            f"{self.seconds:5.1f}s {verdict}  [{self.detail}; {' '.join(self.elements)}]"
        )


class Driver:
    def __init__(
        self,
        lab: ChaosLab,
        seed: int,
        say: Callable[[str], None] = print,
        kinds: list[str] | None = None,
        keep: bool = False,
    ) -> None:
        self.lab = lab
        self.seed = seed
        self.say = say
        self.keep = keep  # every run's files, not only those of runs with violations
        self.argv = fmsh_argv()
        self.kinds = [k for k in faults.available(lab) if kinds is None or k.kind in kinds]
        order = list(self.kinds)
        random.Random(seed).shuffle(order)
        self.order = order  # the first len(kinds) runs take each kind once
        self.reports: list[RunReport] = []

    # --- the loop -----------------------------------------------------------------------

    def loop(self, runs: int | None = None, minutes: float | None = None) -> list[RunReport]:
        self.say(f"chaos seed: {self.seed} (FMSH_CHAOS_SEED={self.seed} repeats the choices)")
        deadline = time.monotonic() + minutes * 60 if minutes else None
        index = 0
        while (runs is None or index < runs) and (deadline is None or time.monotonic() < deadline):
            report = self.run_once(index)
            self.reports.append(report)
            self.say(report.line())
            for violation in report.violations:
                self.say(f"    {violation}")
            index += 1
        self.say(self.summary())
        return self.reports

    def summary(self) -> str:
        kinds = Counter(r.fault for r in self.reports) + Counter("kill-fmsh" for r in self.reports if r.also_killed)
        by_invariant = Counter(v.invariant for r in self.reports for v in r.violations)
        finals = Counter(r.final for r in self.reports)
        total = sum(by_invariant.values())
        return "\n".join(
            [
                f"chaos seed {self.seed}: {len(self.reports)} runs, "
                f"{sum(len(r.statuses) - 1 for r in self.reports)} resumes",
                "faults by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
                "tasks ended: " + ", ".join(f"{k or 'no task'} {n}" for k, n in sorted(finals.items())),
                f"invariant violations: {total}"
                + (" (" + ", ".join(f"{k} {n}" for k, n in sorted(by_invariant.items())) + ")" if total else ""),
            ]
        )

    # --- one run ------------------------------------------------------------------------

    def run_once(self, index: int) -> RunReport:
        rng = random.Random(self.seed * 1_000_003 + index)
        kind = self.order[index] if index < len(self.order) else rng.choice(self.kinds)
        fault = kind()
        run_dir = self.lab.runs / f"run-{index:04d}"
        ledger = run_dir / "ledger"
        ledger.mkdir(parents=True)
        journal = self.lab.journal_dir / f"run-{index:04d}.db"
        work = workload.generate(rng, self.lab.names, self.lab.ssh.addresses)
        script = run_dir / "workload.fmsh"
        script.write_text(work.text)
        env = dict(os.environ, **self.lab.env(), FMSH_JOURNAL=str(journal))
        env.pop("FMSH_DEBUG", None)
        report = RunReport(index, fault.kind, "", work.elements)
        label = f"run {index}"
        started = time.monotonic()
        stop_helpers = threading.Event()
        helpers = self._helpers(work, ledger, env, stop_helpers)
        logs: list[Path] = []
        snapshots: list[invariants.Snapshot] = []
        proc = self._start(self.argv + [str(script), str(ledger)], run_dir, env, logs)
        healer: threading.Timer | None = None
        try:
            self._wait(proc, rng.uniform(0.3, 2.5))
            target = faults.Target(self.lab, proc, ledger, rng)
            report.detail = fault.inject(target)
            if proc.poll() is not None and fault.kind == "kill-fmsh":
                report.detail += " (it had ended)"
            snapshots.append(invariants.snapshot(journal, ledger))
            if fault.kind != "kill-fmsh":
                hold = rng.uniform(0.5, 6.0)
                if rng.random() < COMPOUND and proc.poll() is None:
                    pause = rng.uniform(0.2, hold)
                    time.sleep(pause)
                    report.detail += f"; {faults.KillFmsh().inject(target)} {pause:.1f}s into it"
                    report.also_killed = True
                    snapshots.append(invariants.snapshot(journal, ledger))
                    hold -= pause
                # Healed in the background: a resume may start while the host is still sick.
                healer = threading.Timer(hold, fault.heal_once, (target,))
                healer.start()
            report.statuses.append(self._finish(proc, report, label))
            snapshots.append(invariants.snapshot(journal, ledger))
            if self._task_status(journal) is None and report.statuses[-1] < 0:
                # Killed before its task was journaled: nothing to resume; run it again.
                again = self._start(self.argv + [str(script), str(ledger)], run_dir, env, logs)
                report.statuses.append(self._finish(again, report, label))
                snapshots.append(invariants.snapshot(journal, ledger))
            for resumes in range(MAX_RESUMES + 1):
                status = self._task_status(journal)
                if status is None or status in invariants.DEFINITE or resumes == MAX_RESUMES:
                    break
                if resumes == MAX_RESUMES // 2 and healer is not None:
                    healer.join()  # half the resumes may meet the fault; the rest do not
                resume = self._start(self.argv + ["--resume", "1"], run_dir, env, logs)
                report.statuses.append(self._finish(resume, report, label))
                snapshots.append(invariants.snapshot(journal, ledger))
            if healer is not None:
                healer.join()
            report.final = self._task_status(journal) or ""
            stop_helpers.set()
            for helper in helpers:
                helper.join()
            if report.final:
                report.violations += self._check(journal, ledger, snapshots, work, label)
            elif not any(self._said(log, "fmsh: ") for log in logs):
                report.violations.append(invariants.Violation("c", label, "no task was created, and nothing said why"))
            report.violations += self._tracebacks(logs, label)
        finally:
            stop_helpers.set()
            if healer is not None:
                healer.cancel()
                healer.join()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            self._clean(fault, target if "target" in locals() else None, ledger)
            report.seconds = time.monotonic() - started
            if report.violations:
                if journal.exists():
                    shutil.copy(journal, run_dir / "journal.db")  # kept for a look
            elif not self.keep:
                shutil.rmtree(run_dir, ignore_errors=True)
            for path in journal.parent.glob(journal.name + "*"):
                path.unlink(missing_ok=True)  # the tmpfs is small
        return report

    def _start(self, argv: list[str], cwd: Path, env: dict[str, str], logs: list[Path]) -> subprocess.Popen[bytes]:
        n = len(logs)
        logs.append(cwd / f"stderr-{n}.txt")
        with open(cwd / f"stdout-{n}.txt", "wb") as out, open(logs[-1], "wb") as err:
            return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    @staticmethod
    def _wait(proc: subprocess.Popen[bytes], seconds: float) -> None:
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            pass

    def _finish(self, proc: subprocess.Popen[bytes], report: RunReport, label: str) -> int:
        try:
            return proc.wait(PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            report.violations.append(
                invariants.Violation("hang", label, f"fmsh {proc.args} did not end in {PROCESS_TIMEOUT:g}s")
            )
            return -9

    @staticmethod
    def _task_status(journal: Path) -> str | None:
        conn = invariants.read_only(journal)
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT status FROM tasks WHERE id = 1").fetchone()
        except Exception:  # noqa: BLE001 - no tasks table yet: no task
            return None
        finally:
            conn.close()
        return row[0] if row else None

    def _helpers(
        self, work: workload.Workload, ledger: Path, env: dict[str, str], stop: threading.Event
    ) -> list[threading.Thread]:
        """What the workload waits for from outside: signals sent, files created."""

        def send(name: str, after: float) -> None:
            if stop.wait(after):
                return
            while not stop.is_set():
                proc = subprocess.run(
                    self.argv + ["-c", f"signal 1 {name}"], env=env, capture_output=True, text=True,
                    stdin=subprocess.DEVNULL, timeout=60,
                )  # fmt: skip
                if proc.returncode == 0 or "late" in proc.stderr:
                    return
                stop.wait(0.5)  # no task yet, or the journal is full: again

        def create(name: str, after: float) -> None:
            if not stop.wait(after):
                (ledger / name).touch()

        threads = [threading.Thread(target=send, args=s, daemon=True) for s in work.signals]
        threads += [threading.Thread(target=create, args=f, daemon=True) for f in work.files]
        for thread in threads:
            thread.start()
        return threads

    def _check(
        self, journal: Path, ledger: Path, snapshots: list[invariants.Snapshot], work: workload.Workload, label: str
    ) -> list[invariants.Violation]:
        found = invariants.check_processes(str(ledger), label)
        found += invariants.check_executions(journal, ledger, snapshots, label)
        found += invariants.check_chunks(journal, snapshots, label)
        found += invariants.check_journal(journal, label)
        found += invariants.check_streams(journal, ledger, work.streams, label)
        return found

    @staticmethod
    def _said(log: Path, prefix: str) -> bool:
        return log.exists() and any(line.startswith(prefix) for line in log.read_text(errors="replace").splitlines())

    @staticmethod
    def _tracebacks(logs: list[Path], label: str) -> list[invariants.Violation]:
        found = []
        for log in logs:
            text = log.read_text(errors="replace") if log.exists() else ""
            if TRACEBACK in text:
                found.append(
                    invariants.Violation("traceback", f"{label} {log.name}", text[text.index(TRACEBACK) :][-600:])
                )
        return found

    def _clean(self, fault: faults.Fault, target: faults.Target | None, ledger: Path) -> None:
        """Whatever the run left (a fault not healed after an error, processes): gone
        before the next run."""
        if target is not None:
            try:
                fault.heal_once(target)
            except Exception:  # noqa: BLE001 - tear down the rest in any case
                pass
        for server in self.lab.ssh.servers:
            if server.process is None or server.process.poll() is not None:
                server.start()
        kill_marked(str(ledger))


def kill_marked(marker: str) -> None:
    for line in invariants.leftover_processes(marker):
        try:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests/chaos/run", description="The chaos suite's long run.")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--runs", type=int, help="this many runs")
    limit.add_argument("--minutes", type=float, help="runs until this much time has passed")
    parser.add_argument("--seed", type=int, help="the seed (default: FMSH_CHAOS_SEED, else random)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep every run's files there")
    parser.add_argument(
        "--faults", metavar="KIND,...", help="only these kinds: " + ", ".join(k.kind for k in faults.KINDS)
    )
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else seed_from(os.environ.get("FMSH_CHAOS_SEED"))
    if os.geteuid() != 0:
        print("tests/chaos/run: needs root (network namespaces, a tmpfs for the journal)", file=sys.stderr)
        return 2
    import tempfile

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fmsh-chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    lab = ChaosLab(root).start()
    try:
        kinds = args.faults.split(",") if args.faults else None
        driver = Driver(lab, seed, lambda line: print(line, flush=True), kinds, keep=bool(args.keep))
        reports = driver.loop(runs=args.runs if args.runs or args.minutes else 20, minutes=args.minutes)
    finally:
        lab.close()
    violations = sum(len(r.violations) for r in reports)
    if not violations and not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"files: {root}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
