#!/usr/bin/env python3
"""Fan-out: `true` on N logical hosts with fmsh and its peers, side by side in one run.

The hosts are real sshd processes on loopback (tests/sshd.py): 127.0.0.2, .3, ... (then
127.0.1.0 ... past 249) all on one port, one sshd per 16 addresses, sessions under
/bin/sh. Every tool gets the same ssh settings (one config file: key, known_hosts, and
KexAlgorithms curve25519-sha256, so that OpenSSH's post-quantum exchange does not tax the
ssh-based tools), the same width (32), and is timed from start to exit: wall time, the
CPU of the tool and everything it started (its ssh processes) on the client side, and
its peak memory.

    pssh          Debian's parallel-ssh (one ssh process per host)
    pdsh          pdsh -R ssh
    clush         ClusterShell's clush (ssh processes, an event loop in Python)
    xargs+ssh     xargs -P32 ssh
    parallel-ssh  PyPI's parallel-ssh library (libssh2, no ssh processes)
    ansible       ansible ad-hoc, -m raw (no Python module sent; ControlPersist off)
    fmsh          fmsh -c '@127.0.0.[2-N] true' (a task: journaled, as it is for a user, in
                  a journal of the lab's own)

Peak memory is that of the whole client-side process tree: the tool and every process it
started (its ssh processes), found by their parent pid in /proc and summed (RSS, from
/proc/PID/statm) every 20 ms; the peak of that sum over the run, never below the largest
single process's own peak (getrusage's ru_maxrss, which catches a process too short for
the sampling). RSS counts the pages shared between processes (the ssh binary, libc) once
per process, as `ps` and `top` do; the "private" column (RSS less the shared file-backed
pages) counts each process's own memory only. Both are medians over the runs, in MiB;
"procs" is the most processes the tree had at once.

Then the same fan-out twice in one fmsh shell: the second run reuses the connections.
Targets: fmsh wall <= 1.1x the best peer's, client CPU <= 1.2x the best peer's; the second
run >= 10x faster than the first. Informational: fmsh against each peer, wall and peak
memory (ratios of medians). Run bench/setup first for the peers.

    bench/fanout.py --hosts 10 50 100 200 500 --runs 3

A lab of 500 hosts is 32 sshd processes, and fmsh keeps a connection to every host for
the life of its shell: the bench raises its soft limit on open files to the hard one
(sshd and the tools inherit it). On a small machine the sshd side (a key exchange and a
session per host) takes most of the CPU: every tool shares that cost.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import _timing as t

sys.path.insert(0, str(t.REPO_ROOT / "tests"))
from sshd import SSHLab, sshd_available  # noqa: E402

WIDTH = 32
SAMPLE_EVERY = 0.02  # seconds between two looks at the process tree
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20


# --- the hosts, as each tool names them ---------------------------------------------------


def nodeset(names: Sequence[str]) -> str:
    """The lab's addresses as a folded nodeset that fmsh, pdsh and clush all read:
    `127.0.0.[2-249],127.0.1.[0-249],127.0.2.[0-1]`."""
    groups: dict[str, list[int]] = {}
    for name in names:
        prefix, last = name.rsplit(".", 1)
        groups.setdefault(prefix, []).append(int(last))
    parts = []
    for prefix, numbers in groups.items():
        numbers.sort()
        ranges: list[list[int]] = []
        for n in numbers:
            if ranges and n == ranges[-1][1] + 1:
                ranges[-1][1] = n
            else:
                ranges.append([n, n])
        inner = ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges)
        parts.append(f"{prefix}.[{inner}]" if len(ranges) > 1 or ranges[0][0] != ranges[0][1] else f"{prefix}.{inner}")
    return ",".join(parts)


def peers(lab: SSHLab, bench_python: str | None) -> list[t.Case]:
    """The peer tools that are installed, each set to the lab's hosts and ssh config."""
    config = str(lab.ssh_config)
    names = lab.names
    hosts_file = lab.root / "hosts.txt"
    hosts_file.write_text("\n".join(names) + "\n")
    folded = nodeset(names)
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
        cases.append(t.Case("pdsh", ["pdsh", "-R", "ssh", "-f", str(WIDTH), "-w", folded, "true"], env=pdsh_env))
    clush = shutil.which("clush", path=os.path.dirname(sys.executable)) or shutil.which("clush")
    if clush:
        cases.append(t.Case("clush", [clush, "-f", str(WIDTH), "-o", f"-F {config}", "-w", folded, "true"], env=env))
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
    return t.Case("fmsh", [fmsh, "-c", f"@{nodeset(lab.names)} true"], env=fmsh_env(lab))


def reuse(fmsh: str, lab: SSHLab, runs: int) -> tuple[list[float], list[float]]:
    """First and second run of the same fan-out in one shell (seconds, per repetition)."""
    stage = f"@{nodeset(lab.names)} true"
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


# --- peak memory of a process tree ------------------------------------------------------


class TreeSampler:
    """The memory of a process and all its descendants, looked at every 20 ms in a thread
    of its own: the peak of the summed RSS (and of the summed private part), and the most
    processes at once. A descendant is found by its parent pid when it first appears in
    /proc and stays in the tree until it exits (an orphan handed to init still counts).
    Each look reads /proc's listing, the statm of the tree's members and the stat of the
    processes new since the last look only: about a millisecond, so that sampling does not
    slow the tools it measures."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.tree: set[int] = {root}
        self.others: set[int] = set()  # seen, and not descendants
        self.peak_rss = 0
        self.peak_private = 0
        self.peak_procs = 0
        self.looks = 0
        self.cost = 0.0  # CPU seconds the looks took (this thread's)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            started = time.thread_time()
            self.sample()
            self.cost += time.thread_time() - started
            self.looks += 1
            if self._stop.wait(SAMPLE_EVERY):
                return

    def sample(self) -> None:
        present = {int(e) for e in os.listdir("/proc") if e.isdigit()}
        self.others &= present  # a pid that went away may come back as another process
        self.tree &= present
        parents: dict[int, int] = {}
        for pid in sorted(present - self.tree - self.others):
            ppid = _parent(pid)
            if ppid is not None:
                parents[pid] = ppid
        grew = True
        while grew:  # a new process's parent may be new too
            grew = False
            for pid, ppid in list(parents.items()):
                if ppid in self.tree:
                    self.tree.add(pid)
                    del parents[pid]
                    grew = True
        self.others.update(parents)
        rss = private = procs = 0
        for pid in list(self.tree):
            try:
                with open(f"/proc/{pid}/statm", "rb") as f:
                    fields = f.read().split()
            except OSError:
                self.tree.discard(pid)
                continue
            resident, shared = int(fields[1]), int(fields[2])
            rss += resident
            private += resident - shared
            procs += 1 if resident else 0  # a zombie has no pages left
        self.peak_rss = max(self.peak_rss, rss * PAGE)
        self.peak_private = max(self.peak_private, private * PAGE)
        self.peak_procs = max(self.peak_procs, procs)


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(b")") + 2 :].split()[1])


@dataclass
class Memory:
    """Per run of a case: peak RSS of its tree, its private part (bytes), processes at once;
    and what the sampling cost (CPU seconds, looks) over all the runs."""

    rss: list[int] = field(default_factory=list)
    private: list[int] = field(default_factory=list)
    procs: list[int] = field(default_factory=list)
    cost: float = 0.0
    looks: int = 0


def run_measured(case: t.Case, timeout: float, memory: Memory | None = None) -> bool:
    """Run `case` once, as _timing.run_once does, sampling its process tree; on success its
    wall and CPU go to the case and its peaks to `memory` (None: a warm-up run, not kept).
    False after recording an error in the case."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(case.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=case.env)
        except OSError as exc:
            case.error = f"could not start: {exc}"
            return False
        sampler = TreeSampler(proc.pid).start()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            for pid in sampler.tree:  # the tool and what it started (ssh processes)
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, wait_status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            sampler.stop()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
        if timed_out.is_set():
            case.error = f"timed out after {timeout:g} s"
            return False
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    cpu = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        case.error = f"exit status {proc.returncode}: {stderr.decode(errors='replace').strip()[:300] or '(no stderr)'}"
        return False
    completed = subprocess.CompletedProcess(case.argv, proc.returncode, stdout, stderr)
    if case.check is not None:
        reason = case.check(completed)
        if reason is not None:
            case.error = reason
            return False
    case.stdout = stdout.decode(errors="replace").strip()
    if memory is not None:
        case.wall.append(wall)
        case.cpu.append(cpu)
        memory.rss.append(max(sampler.peak_rss, usage.ru_maxrss * 1024))  # ru_maxrss is in KiB on Linux
        memory.private.append(sampler.peak_private)
        memory.procs.append(max(sampler.peak_procs, 1))
        memory.cost += sampler.cost
        memory.looks += sampler.looks
    return True


def run_interleaved(cases: Sequence[t.Case], runs: int, warmup: int, timeout: float) -> dict[str, Memory]:
    """_timing.run_interleaved, each run measured by run_measured: the cases' memory."""
    memory = {case.label: Memory() for case in cases}

    def run(case: t.Case, limit: float, kept: bool) -> None:
        run_measured(case, limit, memory[case.label] if kept else None)

    t.run_interleaved(cases, runs, warmup, timeout, run=run)
    return memory


def fmt_mib(size: float) -> str:
    return f"{size / MIB:.1f} MiB"


def table(cases: Sequence[t.Case], memory: dict[str, Memory]) -> str:
    """_timing.table with the memory columns (medians over the runs)."""
    rows = [["command", "runs", "min", "median", "max", "cpu (median)", "peak RSS", "private", "procs"]]
    for c in cases:
        mem = memory[c.label]
        if c.ok and mem.rss:
            rows.append(
                [
                    f"`{c.label}`",
                    str(len(c.wall)),
                    t.fmt_time(min(c.wall)),
                    t.fmt_time(c.median()),
                    t.fmt_time(max(c.wall)),
                    t.fmt_time(statistics.median(c.cpu)),
                    fmt_mib(statistics.median(mem.rss)),
                    fmt_mib(statistics.median(mem.private)),
                    str(max(mem.procs)),
                ]
            )
        else:
            rows.append([f"`{c.label}`", str(len(c.wall)), "FAILED", "-", "-", "-", "-", "-", "-"])
    return t.markdown_table(rows)


def against_peers(ours: t.Case, rivals: Sequence[t.Case], memory: dict[str, Memory]) -> list[str]:
    """fmsh against each peer: wall, CPU and peak memory, ratios of medians (< 1: fmsh less)."""
    lines = []
    mine = memory[ours.label]
    for rival in rivals:
        theirs = memory[rival.label]
        wall = ours.median() / rival.median()
        cpu = statistics.median(ours.cpu) / statistics.median(rival.cpu)
        rss = statistics.median(mine.rss) / statistics.median(theirs.rss)
        private = statistics.median(mine.private) / max(1.0, statistics.median(theirs.private))
        lines.append(
            f"fmsh / {rival.label}: wall {wall:.2f}x, cpu {cpu:.2f}x, peak RSS {rss:.2f}x, private {private:.2f}x"
        )
    return lines


def raise_file_limit() -> int:
    """The soft limit on open files up to the hard one (sshd and the tools inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 16) if soft != resource.RLIM_INFINITY else soft
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


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
    files = raise_file_limit()
    if files != resource.RLIM_INFINITY and files < 4 * max(counts) + 256:
        print(f"(open files limited to {files}: a fan-out to {max(counts)} hosts may run short)\n")
    status = 0
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="fmsh-fanout-") as tmp:
            lab = SSHLab(Path(tmp), count, by_address=True).start()
            try:
                cases = [fmsh_case(fmsh, lab), *peers(lab, bench_python)]
                print(f"## fanout: `true` on {count} hosts (width {WIDTH})\n")
                if bench_python is None:
                    print("(parallel-ssh and ansible are not installed: run bench/setup)\n")
                memory = run_interleaved(cases, runs=runs, warmup=warmup, timeout=args.timeout)
                print(table(cases, memory))
                looks = sum(m.looks for m in memory.values())
                if looks:
                    cost = sum(m.cost for m in memory.values()) / looks
                    print(
                        f"\n(memory: a look at the process tree every {SAMPLE_EVERY * 1000:g} ms took "
                        f"{cost * 1000:.2f} ms of CPU on average, in the bench's own process)"
                    )
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
                    for line in against_peers(ours, rivals, memory):
                        print(line)
                firsts, seconds = reuse(fmsh, lab, max(runs, 3))
                first, second = statistics.median(firsts), statistics.median(seconds)
                verdict = "MET" if first / second >= 10 else "NOT MET"
                print(
                    f"same fan-out twice in one fmsh: first {t.fmt_time(first)}, second {t.fmt_time(second)}"
                    f" -> {first / second:.1f}x faster -- target >= 10x: {verdict}\n"
                )
                peak_rss = {c.label: int(statistics.median(memory[c.label].rss)) for c in cases if memory[c.label].rss}
                t.record("fanout", cases, hosts=count, peak_rss=peak_rss)
                for line in t.failures(cases):
                    print(line)
                    status = 1
            finally:
                lab.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
