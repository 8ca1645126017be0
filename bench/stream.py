#!/usr/bin/env python3
"""Stream: `@h cat FILE` of 200 MB to /dev/null with fmsh, against `ssh h cat FILE`.

One real sshd on loopback (tests/sshd.py); both clients use the same ssh config
(curve25519 key exchange; each picks its preferred cipher: OpenSSH chacha20-poly1305,
fmsh/paramiko aes128-gcm). Throughput in MB/s per tool and the ratio.
Target: fmsh >= 0.6x OpenSSH's throughput.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import _timing as t

sys.path.insert(0, str(t.REPO_ROOT / "tests"))
from sshd import SSHLab, sshd_available  # noqa: E402

TARGET = 0.6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=5, warmup=1)
    parser.add_argument("--size-mb", type=int, default=None, help="file size in MiB (default 200; 50 with --quick)")
    args = parser.parse_args(argv)
    if not sshd_available():
        print("stream: sshd is not installed (run tests/setup)")
        return 1
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs = args.runs if args.runs is not None else (3 if args.quick else 5)
    warmup = args.warmup if args.warmup is not None else 1
    size_mb = args.size_mb if args.size_mb is not None else (50 if args.quick else 200)
    with tempfile.TemporaryDirectory(prefix="fmsh-stream-") as tmp:
        root = Path(tmp)
        lab = SSHLab(root / "lab", 1).start()
        try:
            data = root / "data"
            block = os.urandom(1 << 20)
            with open(data, "wb") as f:
                for _ in range(size_mb):
                    f.write(block)
            size = data.stat().st_size
            env = os.environ | lab.env() | {"FMSH_JOURNAL": str(root / "journal.db")}  # fmsh runs it as a task
            expected = str(size)
            ssh = " ".join(lab.ssh_argv("host01"))
            check = t.expect_stdout(expected)
            cases = [
                t.Case("fmsh @h cat", [fmsh, "-c", f"@host01 cat {data} | wc -c"], check=check, env=env),
                t.Case("ssh h cat", ["sh", "-c", f"{ssh} cat {data} | wc -c"], check=check, env=env),
            ]
            print(f"## stream: {size >> 20} MiB from one host to a local `wc -c`\n")
            t.run_interleaved(cases, runs=runs, warmup=warmup, timeout=args.timeout)
            print(t.table(cases))
            print()
            for c in cases:
                if c.ok:
                    print(f"{c.label}: {size / (1 << 20) / c.median():.0f} MiB/s (median)")
            if all(c.ok for c in cases):
                ratio = cases[1].median() / cases[0].median()
                verdict = "MET" if ratio >= TARGET else "NOT MET"
                print(f"throughput fmsh / OpenSSH (medians): {ratio:.2f}x -- target >= {TARGET}x: {verdict}")
            for line in t.failures(cases):
                print(line)
            t.record("stream", cases, size_mb=size_mb)
        finally:
            lab.stop()
    return 0 if all(c.ok for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
