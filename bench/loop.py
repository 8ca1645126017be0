"""Builtin loop speed: a counting `while` loop in fmsh and in bash.

What it measures: wall time of

    i=0; while [ $i -lt N ]; do i=$((i+1)); done; echo $i

(N = 100000 by default) run by `fmsh -c` and by `bash -c`.  No external
commands run: it is the interpreter's own speed at parsing once and then
executing `[`, arithmetic expansion and assignment N times.  Both shells
must print N.

Runs alternate between the shells (round-robin) after a warm-up round.

How to read it: min / median / max wall time per shell, median CPU, the
time per iteration, and the ratio of medians fmsh / bash.  There is no
target: it is tracked to see the cost of the interpreter move over time.
The exit status is 1 only if a run failed or printed the wrong number.
"""

from __future__ import annotations

import argparse
import sys

import _timing as t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=5, warmup=1)
    parser.add_argument("--n", type=int, default=None, help="loop iterations (default 100000; 20000 with --quick)")
    args = parser.parse_args(argv)
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs, warmup, n = t.sizes(parser, args, 100000, 20000)

    cmd = f"i=0; while [ $i -lt {n} ]; do i=$((i+1)); done; echo $i"
    c_fmsh, c_bash = t.fmsh_against_bash(
        "loop", fmsh, args.bash, cmd, t.expect_stdout(str(n)), [], runs, warmup, args.timeout
    )
    cases = [c_fmsh, c_bash]
    for c in cases:
        if c.ok:
            print(f"{c.label}: {c.median() / n * 1e6:.2f} us per iteration (median)")
    print(t.ratio_line(c_fmsh, c_bash, None, "fmsh / bash"))
    for line in t.failures(cases):
        print(line)
    t.record("loop", cases, n=n)
    return 0 if all(c.ok for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
