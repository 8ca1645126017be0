#!/usr/bin/env python3
"""Fan-out: `true` on N logical hosts with fmsh and its peers, side by side in one run.

The hosts are real sshd processes on loopback (tests/sshd.py): 127.0.0.2, .3, ... all on
one port, one sshd per 16 addresses, sessions under /bin/sh. Every tool gets the same ssh
settings (one config file: key, known_hosts, and KexAlgorithms curve25519-sha256, so that
OpenSSH's post-quantum exchange does not tax the ssh-based tools), the same width (32),
and is timed from start to exit: wall time, and the CPU of the tool and everything it
started (its ssh processes) on the client side.

    pssh          Debian's parallel-ssh (one ssh process per host)
    pdsh          pdsh -R ssh
    clush         ClusterShell's clush (ssh processes, an event loop in Python)
    xargs+ssh     xargs -P32 ssh
    parallel-ssh  PyPI's parallel-ssh library (libssh2, no ssh processes)
    ansible       ansible ad-hoc, -m raw (no Python module sent; ControlPersist off)
    fmsh          fmsh -c '@127.0.0.[2-N] true' (a task: journaled, as it is for a user, in
                  a journal of the lab's own)

Then the same fan-out twice in one fmsh shell: the second run reuses the connections.
Targets: fmsh wall <= 1.1x the best peer's, client CPU <= 1.2x the best peer's; the second
run >= 10x faster than the first. Run bench/setup first for the peers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _timing as t

sys.path.insert(0, str(t.REPO_ROOT / "tests"))
from sshd import SSHLab, sshd_available  # noqa: E402

WIDTH = 32


def _ok(proc: subprocess.CompletedProcess[bytes]) -> str | None:
    return None


def peers(lab: SSHLab, bench_python: str | None) -> list[t.Case]:
    """The peer tools that are installed, each set to the lab's hosts and ssh config."""
    config = str(lab.ssh_config)
    names = lab.names
    hosts_file = lab.root / "hosts.txt"
    hosts_file.write_text("\n".join(names) + "\n")
    first, last = names[0].rsplit(".", 1)[1], names[-1].rsplit(".", 1)[1]
    nodeset = f"127.0.0.[{first}-{last}]" if len(names) < 250 else ",".join(names)
    env = os.environ | {"SSH_AUTH_SOCK": ""}
    cases: list[t.Case] = []
    if shutil.which("parallel-ssh"):
        cases.append(
            t.Case(
                "pssh",
                ["parallel-ssh", "-p", str(WIDTH), "-h", str(hosts_file), "-x", f"-F {config}", "true"],
                env=env,
            )
        )
    if shutil.which("pdsh"):
        pdsh_env = env | {"PDSH_SSH_ARGS": f"-F {config} -o BatchMode=yes -l%u %h", "PDSH_RCMD_TYPE": "ssh"}
        cases.append(t.Case("pdsh", ["pdsh", "-R", "ssh", "-f", str(WIDTH), "-w", nodeset, "true"], env=pdsh_env))
    clush = shutil.which("clush", path=os.path.dirname(sys.executable)) or shutil.which("clush")
    if clush:
        cases.append(t.Case("clush", [clush, "-f", str(WIDTH), "-o", f"-F {config}", "-w", nodeset, "true"], env=env))
    xargs = f"xargs -P{WIDTH} -I{{}} ssh -F {config} -o BatchMode=yes {{}} true < {hosts_file}"
    cases.append(t.Case("xargs+ssh", ["sh", "-c", xargs], env=env))
    if bench_python:
        port = lab.port
        script = (
            "from pssh.clients import ParallelSSHClient\n"
            f"hosts = open({str(hosts_file)!r}).read().split()\n"
            f"client = ParallelSSHClient(hosts, port={port}, user={lab.user!r}, pkey={str(lab.client_key)!r},"
            f" pool_size={WIDTH}, num_retries=1)\n"
            "output = client.run_command('true')\n"
            "client.join(output)\n"
            "bad = [o.host for o in output if o.exit_code != 0]\n"
            "raise SystemExit(1 if bad else 0)\n"
        )
        cases.append(t.Case("parallel-ssh", [bench_python, "-c", script], env=env))
        ansible = Path(bench_python).parent / "ansible"
        if ansible.exists():
            inventory = lab.root / "ansible.ini"
            inventory.write_text("[all]\n" + "\n".join(names) + "\n")
            ansible_env = env | {
                "ANSIBLE_SSH_ARGS": f"-F {config} -o ControlMaster=no",
                "ANSIBLE_HOST_KEY_CHECKING": "True",
                "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
                "ANSIBLE_LOCAL_TEMP": str(lab.root / "ansible-tmp"),
            }
            argv = [str(ansible), "all", "-i", str(inventory), "-f", str(WIDTH), "-m", "raw", "-a", "true"]
            cases.append(t.Case("ansible", argv, env=ansible_env))
    return cases


def fmsh_env(lab: SSHLab) -> dict[str, str]:
    """The lab's hosts, and a journal of the lab's own for the tasks the runs are."""
    return os.environ | lab.env() | {"FMSH_JOURNAL": str(lab.root / "journal.db")}


def fmsh_case(fmsh: str, lab: SSHLab) -> t.Case:
    names = lab.names
    first, last = names[0].rsplit(".", 1)[1], names[-1].rsplit(".", 1)[1]
    return t.Case("fmsh", [fmsh, "-c", f"@127.0.0.[{first}-{last}] true"], env=fmsh_env(lab))


def reuse(fmsh: str, lab: SSHLab, runs: int) -> tuple[list[float], list[float]]:
    """First and second run of the same fan-out in one shell (seconds, per repetition)."""
    names = lab.names
    first, last = names[0].rsplit(".", 1)[1], names[-1].rsplit(".", 1)[1]
    stage = f"@127.0.0.[{first}-{last}] true"
    script = f"a=$EPOCHREALTIME; {stage}; b=$EPOCHREALTIME; {stage}; c=$EPOCHREALTIME; echo $a $b $c"
    firsts, seconds = [], []
    for _ in range(runs):
        proc = subprocess.run([fmsh, "-c", script], capture_output=True, text=True, env=fmsh_env(lab))
        if proc.returncode != 0:
            raise SystemExit(f"fmsh reuse run failed: {proc.stderr}")
        a, b, c = map(float, proc.stdout.split())
        firsts.append(b - a)
        seconds.append(c - b)
    return firsts, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=5, warmup=1)
    parser.add_argument("--hosts", type=int, nargs="*", default=None, help="host counts (default 10 100)")
    parser.add_argument("--bench-python", default=str(t.BENCH_DIR / ".venv" / "bin" / "python"))
    args = parser.parse_args(argv)
    if not sshd_available():
        print("fanout: sshd is not installed (run tests/setup)")
        return 1
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs = args.runs if args.runs is not None else (2 if args.quick else 5)
    warmup = args.warmup if args.warmup is not None else 1
    counts = args.hosts or ([10, 50] if args.quick else [10, 100])
    bench_python = args.bench_python if os.path.exists(args.bench_python) else None
    status = 0
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="fmsh-fanout-") as tmp:
            lab = SSHLab(Path(tmp), count, by_address=True).start()
            try:
                cases = [fmsh_case(fmsh, lab), *peers(lab, bench_python)]
                print(f"## fanout: `true` on {count} hosts (width {WIDTH})\n")
                if bench_python is None:
                    print("(parallel-ssh and ansible are not installed: run bench/setup)\n")
                t.run_interleaved(cases, runs=runs, warmup=warmup, timeout=args.timeout)
                print(t.table(cases))
                print()
                ours = cases[0]
                rivals = [c for c in cases[1:] if c.ok]
                if ours.ok and rivals:
                    best_wall = min(rivals, key=lambda c: c.median())
                    best_cpu = min(rivals, key=lambda c: statistics.median(c.cpu))
                    print(t.ratio_line(ours, best_wall, 1.1, f"fmsh / {best_wall.label} (best wall)"))
                    cpu_ratio = statistics.median(ours.cpu) / statistics.median(best_cpu.cpu)
                    verdict = "MET" if cpu_ratio <= 1.2 else "NOT MET"
                    label = f"client CPU fmsh / {best_cpu.label} (best CPU, medians)"
                    print(f"{label}: {cpu_ratio:.2f}x -- target <= 1.2x: {verdict}")
                firsts, seconds = reuse(fmsh, lab, max(runs, 3))
                first, second = statistics.median(firsts), statistics.median(seconds)
                verdict = "MET" if first / second >= 10 else "NOT MET"
                print(
                    f"same fan-out twice in one fmsh: first {t.fmt_time(first)}, second {t.fmt_time(second)}"
                    f" -> {first / second:.1f}x faster -- target >= 10x: {verdict}\n"
                )
                for line in t.failures(cases):
                    print(line)
                    status = 1
            finally:
                lab.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
