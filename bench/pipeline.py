"""Pipeline throughput: `cat BIG | grep x | wc -l` in fmsh and in bash.

What it measures: wall time of the same three-stage pipeline over a large
text file (default 512 MiB), run by `fmsh -c` and by `bash -c`.  The data
flows through OS pipes between cat, grep and wc, so the shell should add
next to nothing: this catches a shell that sits in the data path, buffers,
or starts/reaps its children slowly.

The file is generated once into bench/.cache/ (gitignored) with
reproducible content: lines of varied lowercase words, about 1 in 7 holding
a word with an "x".  A sidecar .json records its size and the number of
lines with an "x"; both shells must print exactly that count.

Runs alternate between the shells (round-robin) after a warm-up round,
which also pulls the file into the page cache.

How to read it: min / median / max wall time per shell and median CPU
(user+sys of the shell and its pipeline, summed over processes).  The target
line compares medians: fmsh / bash <= 1.05.  A missed target is reported,
not an error; the exit status is 1 only if a run failed or a count differed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

import _timing as t

TARGET = 1.05
FORMAT_VERSION = 1  # bump when the generator changes, so old cache files are not reused
BLOCK_BYTES = 4 << 20  # one generated block; the file is this block repeated

_LETTERS = "abcdefghijklmnopqrstuvwyz"  # no x
_X_WORDS = ["box", "fox", "index", "exit", "syntax", "relax", "xylem", "complex", "max", "hexdump", "proxy", "tax"]


def make_block(seed: int = 20240601) -> tuple[bytes, int]:
    """A reproducible block of text lines; returns (block, lines containing 'x')."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice(_LETTERS) for _ in range(rng.randint(1, 10))) for _ in range(2000)]
    lines: list[str] = []
    size = 0
    with_x = 0
    while size < BLOCK_BYTES:
        words = rng.choices(vocab, k=rng.randint(0, 14))
        if rng.random() < 1 / 7:
            words.insert(rng.randint(0, len(words)), rng.choice(_X_WORDS))
            with_x += 1
        line = " ".join(words) + "\n"
        lines.append(line)
        size += len(line)
    return "".join(lines).encode("ascii"), with_x


def ensure_file(cache_dir: Path, size_mb: int) -> tuple[Path, int, int]:
    """Return (path, size in bytes, expected count), generating the file if needed."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"lines-v{FORMAT_VERSION}-{size_mb}mb.txt"
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
        if path.stat().st_size == meta["size"]:
            return path, meta["size"], meta["count"]
    except (OSError, ValueError, KeyError):
        pass
    print(f"generating {path} ({size_mb} MiB) ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    block, per_block = make_block()
    nblocks = max(1, -(-size_mb * (1 << 20) // len(block)))  # ceil: file ends on a line boundary
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb", buffering=0) as f:
        big = block * 16  # write 64 MiB at a time
        full, rest = divmod(nblocks, 16)
        for _ in range(full):
            f.write(big)
        f.write(block * rest)
    os.replace(tmp, path)
    meta = {"size": nblocks * len(block), "count": nblocks * per_block, "format": FORMAT_VERSION}
    meta_path.write_text(json.dumps(meta) + "\n")
    print(f"  done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return path, meta["size"], meta["count"]


def count_check(expected: int) -> t.Check:
    def check(proc: subprocess.CompletedProcess[bytes]) -> str | None:
        out = proc.stdout.decode(errors="replace").split()
        if len(out) != 1 or not out[0].isdigit():
            return f"expected a count, got {proc.stdout[:200]!r}"
        if int(out[0]) != expected:
            return f"count {out[0]} != expected {expected}"
        return None

    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=5, warmup=1)
    parser.add_argument("--size-mb", type=int, default=None, help="file size in MiB (default 512; 64 with --quick)")
    parser.add_argument(
        "--cache-dir", type=Path, default=t.BENCH_DIR / ".cache", help="where the file is kept (default bench/.cache)"
    )
    args = parser.parse_args(argv)
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs = args.runs if args.runs is not None else (3 if args.quick else 5)
    warmup = args.warmup if args.warmup is not None else 1
    size_mb = args.size_mb if args.size_mb is not None else (64 if args.quick else 512)
    if size_mb < 1:
        parser.error("--size-mb must be at least 1")

    path, size, expected = ensure_file(args.cache_dir, size_mb)
    cmd = f"cat {shlex.quote(str(path))} | grep x | wc -l"

    details = [f"file:    {path} ({size / (1 << 20):.0f} MiB, {expected} lines with an x)"]
    c_fmsh, c_bash = t.fmsh_against_bash(
        "pipeline", fmsh, args.bash, cmd, count_check(expected), details, runs, warmup, args.timeout
    )
    cases = [c_fmsh, c_bash]
    for c in cases:
        if c.ok:
            print(f"{c.label}: count {c.stdout}, {size / (1 << 20) / c.median():.0f} MiB/s (median)")
    print(t.ratio_line(c_fmsh, c_bash, TARGET, "fmsh / bash"))
    for line in t.failures(cases):
        print(line)
    t.record("pipeline", cases, size_mb=size_mb)
    if runs < 5 or size_mb < 500:
        print("\nnote: fewer than 5 runs or a file under 500 MiB; use the defaults for numbers to quote")
    return 0 if all(c.ok for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
