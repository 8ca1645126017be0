"""Trace cost: `fmsh --trace ID` of a task with N steps (10,000 by default), against a raw
read of the same rows.

What it measures: wall time of

    fmsh --trace 1                   the text tree
    fmsh --trace 1 --json            the trace document as JSON
    fmsh --trace 1 --html FILE       the HTML report (timeline, tree, output)
    sqlite3 JOURNAL 'SELECT … FROM steps, attempts …'     the floor: the rows, unformatted

on one journal made first by a real run of

    fmsh -c 'task big { for ((i=0;i<N;i++)); do echo $i; done; }'

(each `echo` is a journaled step with one attempt; N = 10,000, 1,000 with --quick). The
sqlite3 command line reads the steps and attempts tables joined, which is what any trace
must at least do; where sqlite3 is missing, Python's sqlite3 module does the same.

All the commands run round-robin after a warm-up round. Each run is checked: the tree's
first line names the task and ends with its step count; the JSON has N steps; the HTML
file exists and is larger than N bytes.

How to read it: the table gives min / median / max wall and median CPU; then each view
against the raw read (a ratio of medians), and the verdict for the target: the text
tree of a 10,000-step task in under 2 s (median). The exit status is 1 only if a run
failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _timing as t

TARGET_SECONDS = 2.0
RAW_SQL = (
    "SELECT s.seq, s.key, s.kind, s.text, s.status, s.exit_status, s.started_at, s.ended_at, a.outcome "
    "FROM steps s JOIN attempts a ON a.task_id = s.task_id AND a.seq = s.seq WHERE s.task_id = 1 ORDER BY s.seq"
)


def make_journal(fmsh: str, path: Path, n: int, env: dict[str, str]) -> None:
    script = f"task big {{ for ((i=0;i<{n};i++)); do echo $i; done; }}"
    result = subprocess.run([fmsh, "-c", script], env=env | {"FMSH_JOURNAL": str(path)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"bench/trace: making the {n}-step task failed: {result.stderr.strip()}")


def check_tree(n: int) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        lines = proc.stdout.decode(errors="replace").splitlines()
        if not lines or not lines[0].startswith("task 1 big: done"):
            return f"the tree does not start with the task: {lines[:1]!r}"
        if len(lines) < 3 or not lines[2].startswith(f"  {n} steps"):
            return f"the tree does not count {n} steps: {lines[2:3]!r}"
        return None

    return check


def check_json(n: int) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        try:
            steps = len(json.loads(proc.stdout)["steps"])
        except (ValueError, KeyError) as e:
            return f"not a trace document: {e}"
        return None if steps == n else f"{steps} steps in the JSON, not {n}"

    return check


def check_file(path: Path, n: int) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError:
            return f"no report at {path}"
        return None if size > n else f"the report is only {size} bytes"

    return check


def check_raw(n: int) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        rows = proc.stdout.count(b"\n")
        return None if rows == n else f"{rows} rows, not {n}"

    return check


def raw_argv(journal: Path) -> tuple[str, list[str]]:
    if shutil.which("sqlite3"):
        return "sqlite3 (steps ⨝ attempts)", ["sqlite3", str(journal), RAW_SQL]
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "sys.stdout.write(''.join('|'.join(map(str, r)) + '\\n' for r in c.execute(sys.argv[2])))"
    )
    return "python3 sqlite3 (steps ⨝ attempts)", [sys.executable, "-c", code, str(journal), RAW_SQL]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=5, warmup=1)
    parser.add_argument("--n", type=int, default=None, help="steps in the task (default 10000; 1000 with --quick)")
    args = parser.parse_args(argv)
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs, warmup, n = t.sizes(parser, args, 10000, 1000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FMSH_")} | {"NO_COLOR": "1"}

    with tempfile.TemporaryDirectory(prefix="fmsh-trace-") as tmp:
        root = Path(tmp)
        journal = root / "journal.db"
        print(f"## trace: a task of {n} steps, as a tree, JSON and HTML, against a raw read of its rows\n")
        make_journal(fmsh, journal, n, env)
        env["FMSH_JOURNAL"] = str(journal)
        report = root / "report.html"
        raw_label, raw = raw_argv(journal)
        cases = [
            t.Case("fmsh --trace 1", [fmsh, "--trace", "1"], check=check_tree(n), env=env),
            t.Case("fmsh --trace 1 --json", [fmsh, "--trace", "1", "--json"], check=check_json(n), env=env),
            t.Case(
                "fmsh --trace 1 --html F",
                [fmsh, "--trace", "1", "--html", str(report)],
                check=check_file(report, n),
                env=env,
            ),  # fmt: skip
            t.Case(raw_label, raw, check=check_raw(n), env=env),
        ]
        t.run_interleaved(cases, runs, warmup, timeout=args.timeout)
    print(t.table(cases))
    print()
    tree, as_json, html, floor = cases
    for case in (tree, as_json, html):
        print(t.ratio_line(case, floor))
    if tree.ok:
        verdict = "MET" if tree.median() < TARGET_SECONDS else "NOT MET"
        median = t.fmt_time(tree.median())
        print(f"target: the tree of a {n}-step task in < {TARGET_SECONDS:g} s (median {median}): {verdict}")
    problems = t.failures(cases)
    for line in problems:
        print(line)
    t.record("trace", cases, n=n, compare=[[c.label, [floor.label]] for c in (tree, as_json, html)])
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
