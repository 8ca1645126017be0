"""Startup time: `fmsh -c true` against `python -c pass` and `bash -c true`.

What it measures: wall time to start the program, run a trivial command and
exit, for

    fmsh -c true          the number the target is about
    python -c pass        the floor: the same interpreter fmsh runs under
    bash -c true          the peer
    fmsh -c 'echo hi'     startup plus one builtin and output

All four are run round-robin (one of each per round, rotating order) after
warm-up runs, so a busy shared machine slows them all alike.

The baseline Python is the interpreter from fmsh's #! line (the venv's
python for a console script) when fmsh is a Python script, else
sys.executable; override with --python.  That is the fair comparison: it pays
the same site / .pth processing as fmsh does.  Do not point it at a pyenv shim
(a shell script that execs Python: it adds a bash startup and more).

How to read it: the table gives min / median / max wall time per command and
the median CPU time (user+sys).  The target line compares medians:
fmsh -c true <= 4x python -c pass.  Then an import check runs
`fmsh -c 'echo hi'` with PYTHONPROFILEIMPORTTIME=1 (falling back to
`python -X importtime -m fmsh`) and fails the check if any of the heavy
modules (paramiko, prompt_toolkit, rich, sqlite_utils, click) got imported;
it is skipped when fmsh is not a Python program.

A missed target is reported, not an error; the exit status is 1 only if a run
failed (non-zero exit, wrong output, timeout).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import _timing as t

HEAVY = ("paramiko", "prompt_toolkit", "rich", "sqlite_utils", "click")
TARGET = 4.0


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """(module, depth, self_us, cumulative_us) for each `import time:` line.

    Depth 0 is a module imported directly by the program (one leading space
    in the name column); each nesting level adds two spaces.
    """
    out = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3:
            continue
        try:
            self_us, cum_us = int(parts[0]), int(parts[1])
        except ValueError:  # the header line
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        out.append((name.strip(), depth, self_us, cum_us))
    return out


def import_check(fmsh: str, python: str | None, timeout: float) -> tuple[str, list[str]]:
    """Return (verdict, detail lines); verdict is MET, NOT MET, skipped or inconclusive."""
    attempts: list[tuple[str, list[str], dict[str, str]]] = [
        (
            "PYTHONPROFILEIMPORTTIME=1 fmsh -c 'echo hi'",
            [fmsh, "-c", "echo hi"],
            {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        ),
    ]
    fmsh_python = t.python_of(fmsh)
    if fmsh_python is not None:
        attempts.append(
            (
                f"{fmsh_python} -X importtime -m fmsh -c 'echo hi'",
                [fmsh_python, "-X", "importtime", "-m", "fmsh", "-c", "echo hi"],
                dict(os.environ),
            )
        )
    detail: list[str] = []
    for how, argv, env in attempts:
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            detail.append(f"{how}: could not run: {exc}")
            continue
        mods = parse_importtime(proc.stderr.decode(errors="replace"))
        if not mods:
            detail.append(f"{how}: no import timing output (exit {proc.returncode})")
            continue
        detail.append(f"via: {how}  (exit {proc.returncode}, {len(mods)} modules imported)")
        # Top-level imports (no leading indentation in the name column) by cumulative time.
        top = sorted(((m, c) for m, d, _, c in mods if d == 0), key=lambda x: -x[1])
        names = {m for m, _, _, _ in mods}
        heavy = sorted({n for n in names if n.split(".")[0] in HEAVY})
        slowest = ", ".join(f"{m} {c / 1000:.1f} ms" for m, c in top[:5])
        detail.append(f"slowest top-level imports: {slowest}")
        if proc.returncode != 0:
            detail.append("fmsh exited non-zero, so the import list may be incomplete")
            return "inconclusive", detail
        if heavy:
            detail.append("heavy modules imported: " + ", ".join(heavy))
            return "NOT MET", detail
        detail.append("none of " + ", ".join(HEAVY) + " imported")
        return "MET", detail
    if fmsh_python is None:
        return "skipped", [f"{fmsh} is not a Python program (no python #! line, no import timing output)"]
    return "inconclusive", detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=30, warmup=3)
    parser.add_argument("--python", help="baseline python (default: the python in fmsh's #! line, else sys.executable)")
    args = parser.parse_args(argv)
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs = args.runs if args.runs is not None else (10 if args.quick else 30)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)

    fmsh_python = t.python_of(fmsh)
    if args.python:
        python, why = args.python, "given with --python"
    elif fmsh_python:
        python, why = fmsh_python, "the interpreter in fmsh's #! line"
    else:
        python, why = sys.executable, "sys.executable (fmsh is not a Python script)"

    print("## startup\n")
    print(f"fmsh:   {fmsh}")
    print(f"python: {python}  ({why})")
    if "/shims/" in python or "/.pyenv/shims" in python:
        print("        WARNING: that is a pyenv shim, not a real interpreter; the baseline is inflated")
    print(f"bash:   {args.bash}")
    print(f"runs:   {runs} per command, round-robin, after {warmup} warm-up round(s)\n")

    c_true = t.Case("fmsh -c true", [fmsh, "-c", "true"])
    c_py = t.Case("python -c pass", [python, "-c", "pass"])
    c_bash = t.Case("bash -c true", [args.bash, "-c", "true"])
    c_echo = t.Case("fmsh -c 'echo hi'", [fmsh, "-c", "echo hi"], check=t.expect_stdout("hi"))
    cases = [c_true, c_py, c_bash, c_echo]
    t.run_interleaved(cases, runs=runs, warmup=warmup, timeout=args.timeout)

    print(t.table(cases))
    print()
    print(t.ratio_line(c_true, c_py, TARGET, "fmsh -c true / python -c pass"))
    print(t.ratio_line(c_true, c_bash, None, "fmsh -c true / bash -c true"))
    print(t.ratio_line(c_echo, c_py, None, "fmsh -c 'echo hi' / python -c pass"))
    for line in t.failures(cases):
        print(line)

    verdict, detail = import_check(fmsh, fmsh_python, args.timeout)
    print(f"\nimport check (no {', '.join(HEAVY)} on `fmsh -c 'echo hi'`): {verdict}")
    for line in detail:
        print(f"  {line}")
    if runs < 20:
        print("\nnote: fewer than 20 runs per command; use the default for numbers to quote")
    t.record("startup", cases, compare=[[c_true.label, [c_py.label, c_bash.label]]], import_check=verdict)
    return 0 if all(c.ok for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
