"""Shared helpers for the fmsh benchmarks: run commands round-robin, time them,
summarise (min / median / max), format a table, and locate fmsh / its Python.

Standard library only.  Timing is wall-clock ``time.perf_counter`` around a
``subprocess.run``; the CPU column is the user+sys time of the child and all of
its waited-for descendants (``RUSAGE_CHILDREN`` delta), which is less noisy than
wall time on a shared machine and shows work done by a pipeline's members too.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

# A check gets the completed process and returns None if it is fine, else a reason.
Check = Callable[[subprocess.CompletedProcess[bytes]], str | None]


def expect_stdout(expected: str) -> Check:
    """Check that stdout (whitespace-stripped) equals ``expected``."""

    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        got = proc.stdout.decode(errors="replace").strip()
        if got != expected:
            return f"expected stdout {expected!r}, got {_clip(got)!r}"
        return None

    return check


@dataclass
class Case:
    """One command to time."""

    label: str
    argv: list[str]
    check: Check | None = None
    env: dict[str, str] | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    error: str | None = None
    stdout: str = ""  # stdout of the last successful run, for reporting

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.wall)

    def median(self) -> float:
        return statistics.median(self.wall)


def _clip(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " ..."


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_once(case: Case, timeout: float) -> tuple[float, float] | None:
    """Run ``case`` once; return (wall, cpu) seconds, or None after recording an error."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            case.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=case.env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        case.error = f"timed out after {timeout:g} s"
        return None
    except OSError as exc:
        case.error = f"could not start: {exc}"
        return None
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        err = _clip(proc.stderr.decode(errors="replace")) or "(no stderr)"
        case.error = f"exit status {proc.returncode}: {err}"
        return None
    if case.check is not None:
        reason = case.check(proc)
        if reason is not None:
            case.error = reason
            return None
    case.stdout = proc.stdout.decode(errors="replace").strip()
    return wall, cpu


def _timed_run(case: Case, timeout: float, kept: bool) -> None:
    """One run of `case` by run_once; its times kept on the case unless a warm-up."""
    res = run_once(case, timeout)
    if res is not None and kept:
        case.wall.append(res[0])
        case.cpu.append(res[1])


def run_interleaved(
    cases: Sequence[Case],
    runs: int,
    warmup: int,
    timeout: float = 600.0,
    progress: bool | None = None,
    run: Callable[[Case, float, bool], None] = _timed_run,
) -> None:
    """Warm each case up, then time ``runs`` rounds, one run of every case per round.

    The order inside a round rotates so no case is always first or last.  A case
    that fails (bad exit status, failed check, timeout) is dropped from later
    rounds and keeps its error; the others carry on.  ``run(case, timeout, kept)``
    runs a case once (kept False for a warm-up): a bench that measures more than
    time (fanout: memory) passes its own.
    """
    for _ in range(warmup):
        for case in cases:
            if case.error is None:
                run(case, timeout, False)
    if progress is None:
        progress = sys.stderr.isatty()
    n = len(cases)
    for r in range(runs):
        if progress:
            print(f"\r  round {r + 1}/{runs} ", end="", file=sys.stderr, flush=True)
        for k in range(n):
            case = cases[(r + k) % n]
            if case.error is None:
                run(case, timeout, True)
    if progress:
        print("\r" + " " * 24 + "\r", end="", file=sys.stderr, flush=True)


def fmt_time(seconds: float) -> str:
    if seconds < 1.0:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.3f} s"


def table(cases: Sequence[Case]) -> str:
    """Markdown table: one row per case with min / median / max wall and median CPU."""
    rows = [["command", "runs", "min", "median", "max", "cpu (median)"]]
    for c in cases:
        if c.ok:
            rows.append(
                [
                    f"`{c.label}`",
                    str(len(c.wall)),
                    fmt_time(min(c.wall)),
                    fmt_time(c.median()),
                    fmt_time(max(c.wall)),
                    fmt_time(statistics.median(c.cpu)),
                ]
            )
        else:
            rows.append([f"`{c.label}`", str(len(c.wall)), "FAILED", "-", "-", "-"])
    return markdown_table(rows)


def markdown_table(rows: list[list[str]]) -> str:
    """Rows (the first is the header) as a markdown table: the first column left-aligned,
    the numbers right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        pairs = enumerate(zip(row, widths, strict=False))
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in pairs]
        lines.append("| " + " | ".join(cells) + " |")
        if j == 0:
            lines.append("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)


def failures(cases: Sequence[Case]) -> list[str]:
    return [f"FAILED `{c.label}`: {c.error or 'no successful run'}" for c in cases if not c.ok]


def ratio_line(num: Case, den: Case, target: float | None = None, what: str = "") -> str:
    """'ratio of medians' line, with the target verdict when a target is given."""
    name = what or f"{num.label} / {den.label}"
    if not (num.ok and den.ok):
        return f"ratio {name}: n/a (a run failed)"
    r = num.median() / den.median()
    line = f"ratio {name} (medians): {r:.2f}x"
    if target is not None:
        verdict = "MET" if r <= target else "NOT MET"
        line += f" -- target <= {target:g}x: {verdict}"
    return line + f"  [ratio of mins: {min(num.wall) / min(den.wall):.2f}x]"


# --- results for bench/run's report ------------------------------------------


def record(bench: str, cases: Sequence[Case], **extra: object) -> None:
    """Append this bench's results as one JSON line to the file $BENCH_JSON names (set by
    `bench/run`, which writes the report from them); nothing when it is not set. `extra`:
    what the report needs beyond the cases (the host count, N, a derived figure...)."""
    path = os.environ.get("BENCH_JSON")
    if not path:
        return
    import json

    record = {
        "bench": bench,
        "cases": [{"label": c.label, "wall": c.wall, "cpu": c.cpu, "ok": c.ok, "error": c.error} for c in cases],
        **extra,
    }
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


# --- locating the programs --------------------------------------------------


def default_fmsh() -> str | None:
    """`fmsh` next to sys.executable, else on PATH, else the repo's .venv."""
    beside = Path(sys.executable).parent / "fmsh"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("fmsh")
    if found:
        return found
    venv = REPO_ROOT / ".venv" / "bin" / "fmsh"
    if venv.is_file() and os.access(venv, os.X_OK):
        return str(venv)
    return None


_PY_NAME = re.compile(r"python[0-9.]*$")


def python_of(program: str) -> str | None:
    """The Python interpreter a script runs under (from its #! line), or None.

    Understands ``#!/path/python``, ``#!/usr/bin/env python3`` and pip's
    ``#!/bin/sh`` + ``'''exec' /path/python`` trampoline for long paths.
    """
    try:
        with open(program, "rb") as f:
            head = f.read(1024)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    lines = head.decode(errors="replace").splitlines()
    words = lines[0][2:].split()
    if not words:
        return None
    interp = words[0]
    if Path(interp).name == "env":
        rest = [w for w in words[1:] if not w.startswith("-")]
        if not rest:
            return None
        interp = shutil.which(rest[0]) or rest[0]
    if _PY_NAME.search(Path(interp).name):
        return interp
    if Path(interp).name == "sh" and len(lines) > 1 and lines[1].startswith("'''exec' "):
        cand = lines[1].split()[1]
        if _PY_NAME.search(Path(cand).name):
            return cand
    return None


def common_args(parser: argparse.ArgumentParser, runs: int, warmup: int) -> None:
    parser.add_argument(
        "--fmsh", help="fmsh to run (default: fmsh next to sys.executable, else on PATH, else .venv/bin/fmsh)"
    )
    parser.add_argument(
        "--bash", default=shutil.which("bash") or "/bin/bash", help="bash to compare with (default: %(default)s)"
    )
    parser.add_argument("--runs", type=int, default=None, help=f"timed runs per command (default {runs})")
    parser.add_argument("--warmup", type=int, default=None, help=f"untimed warm-up runs per command (default {warmup})")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds before a single run counts as failed (default %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs / smaller sizes (smoke run, not for numbers)")


def sizes(parser: argparse.ArgumentParser, args: argparse.Namespace, full: int, quick: int) -> tuple[int, int, int]:
    """(runs, warm-up runs, N) from the common options and --n: 5 runs (3 with --quick),
    1 warm-up, N = `full` (`quick` with --quick) unless given."""
    runs = args.runs if args.runs is not None else (3 if args.quick else 5)
    warmup = args.warmup if args.warmup is not None else 1
    n = args.n if args.n is not None else (quick if args.quick else full)
    if n < 1:
        parser.error("--n must be at least 1")
    return runs, warmup, n


def resolve_fmsh(parser: argparse.ArgumentParser, given: str | None) -> str:
    path = given or default_fmsh()
    if path is None:
        parser.error("no fmsh found (not next to sys.executable, not on PATH, no .venv/bin/fmsh); pass --fmsh PATH")
    resolved = shutil.which(path) if os.sep not in path else path
    if resolved is None or not os.access(resolved, os.X_OK):
        parser.error(f"fmsh {path!r} is not an executable")
    return resolved


def fmsh_against_bash(
    title: str,
    fmsh: str,
    bash: str,
    cmd: str,
    check: Check,
    details: list[str],
    runs: int,
    warmup: int,
    timeout: float,
) -> tuple[Case, Case]:
    """Run `cmd` in fmsh and in bash side by side; print the header and the table."""
    print(f"## {title}\n")
    print(f"fmsh:    {fmsh}")
    print(f"bash:    {bash}")
    for line in details:
        print(line)
    print(f"command: {cmd}")
    print(f"runs:    {runs} per shell, round-robin, after {warmup} warm-up round(s)\n")
    c_fmsh = Case("fmsh -c '...'", [fmsh, "-c", cmd], check=check)
    c_bash = Case("bash -c '...'", [bash, "-c", cmd], check=check)
    run_interleaved([c_fmsh, c_bash], runs=runs, warmup=warmup, timeout=timeout)
    print(table([c_fmsh, c_bash]))
    print()
    return c_fmsh, c_bash
