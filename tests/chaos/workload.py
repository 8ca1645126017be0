"""Task scripts for the chaos driver, generated from a seeded `random.Random`.

A workload mixes: fan-outs to all hosts under `retry N backoff ... timeout ...`; single-host
steps, some holding a `lock`; host-to-host streams (`@a gen | @b put`, the receiver checks
a checksum); `await` of a port, of a file the driver creates, of a signal the driver sends;
slow output (lines with sleeps between them); and plain local steps (echo, a capture, a
durable sleep).

Every remote command appends records to its host's ledger (`LEDGER/HOST`):
`begin|tick|end MARKER HOST NAME PID TIME`, MARKER being FMSH_ATTEMPT (TASK.SEQ.ATTEMPT.NONCE),
so that the driver can count executions from the remote side and tell which try of which
step each was. Every remote command line holds the ledger's path: that is how a process
left running is found (`ps`).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

# $0 the ledger directory, $1 the element's name, $2 lines, $3 seconds between lines.
RECORD = (
    'L=$0; f="$L/$LAB_HOST"; r="${FMSH_ATTEMPT:-none} $LAB_HOST $1 $$"; '
    'echo "begin $r $(date +%s.%N)" >> "$f"; i=0; '
    'while [ $i -lt $2 ]; do echo "$1 $LAB_HOST line $i"; echo "tick $r $(date +%s.%N)" >> "$f"; '
    '[ -e "$L/slow" ] && sleep 0.3; sleep $3; i=$((i + 1)); done; '
    'echo "end $r $(date +%s.%N)" >> "$f"'
)
# A silent command ($2 ticks of 0.2 s, nothing printed), as a long `systemctl restart` or
# `pg_dump > file` is: the one kind that outlives its ssh session when fmsh dies (a command
# that prints dies of SIGPIPE once sshd closes the session).
QUIET = (
    'L=$0; f="$L/$LAB_HOST"; r="${FMSH_ATTEMPT:-none} $LAB_HOST $1 $$"; '
    'echo "begin $r $(date +%s.%N)" >> "$f"; i=0; '
    'while [ $i -lt $2 ]; do echo "tick $r $(date +%s.%N)" >> "$f"; sleep 0.2; i=$((i + 1)); done; '
    'echo "end $r $(date +%s.%N)" >> "$f"'
)
# A stream's source: $2 lines of payload.
GENERATE = (
    'L=$0; f="$L/$LAB_HOST"; r="${FMSH_ATTEMPT:-none} $LAB_HOST $1 $$"; '
    'echo "begin $r $(date +%s.%N)" >> "$f"; i=0; '
    'while [ $i -lt $2 ]; do echo "$1 payload $i"; i=$((i + 1)); done; '
    'echo "end $r $(date +%s.%N)" >> "$f"'
)
# A stream's sink: what comes in goes to LEDGER/HOST.NAME; exit 1 unless its md5 is $2.
PUT = (
    'L=$0; f="$L/$LAB_HOST"; r="${FMSH_ATTEMPT:-none} $LAB_HOST $1 $$"; '
    'echo "begin $r $(date +%s.%N)" >> "$f"; cat > "$L/$LAB_HOST.$1"; '
    'got=$(md5sum < "$L/$LAB_HOST.$1" | cut -d" " -f1); '
    'echo "end $r $(date +%s.%N)" >> "$f"; '
    '[ "$got" = "$2" ] || { echo "$1: checksum $got, not $2" >&2; exit 1; }'
)


def payload(name: str, lines: int) -> bytes:
    return "".join(f"{name} payload {i}\n" for i in range(lines)).encode()


@dataclass
class Stream:
    name: str
    sink: str  # the host that keeps the file
    lines: int

    @property
    def md5(self) -> str:
        return hashlib.md5(payload(self.name, self.lines)).hexdigest()


@dataclass
class Workload:
    text: str
    elements: list[str] = field(default_factory=list)  # what each element is, for reports
    signals: list[tuple[str, float]] = field(default_factory=list)  # (name, send after seconds)
    files: list[tuple[str, float]] = field(default_factory=list)  # (ledger file name, create after)
    streams: list[Stream] = field(default_factory=list)


def generate(rng: random.Random, hosts: list[str], ports: dict[str, tuple[str, int]]) -> Workload:
    """A script of 5 to 8 elements; its argument $1 is the ledger directory."""
    lines = [
        "# a chaos workload; $1: the ledger directory",
        "L=$1",
        f"rec='{RECORD}'",
        f"gen='{GENERATE}'",
        f"put='{PUT}'",
        f"quiet='{QUIET}'",
    ]
    work = Workload("")
    all_hosts = f"@{_nodeset(hosts)}"
    kinds = ["fanout", "fanout", "single", "stream", "await", "slow", "local", "lock", "quiet", "quiet"]
    for n in range(rng.randint(5, 8)):
        kind = rng.choice(kinds)
        name = f"e{n}"
        host = rng.choice(hosts)
        if kind == "fanout":
            tries, seconds = rng.randint(2, 4), rng.choice([4, 5, 6])
            lines.append(
                f'retry {tries} backoff 0.2s..1s timeout {seconds}s {all_hosts} sh -c "$rec" "$L" {name} '
                f"{rng.randint(1, 4)} 0.{rng.randint(1, 3)} || echo '{name} incomplete'"
            )
        elif kind == "single":
            lines.append(f'retry 3 backoff 0.2s..1s timeout 8s @{host} sh -c "$rec" "$L" {name} 3 0.2')
        elif kind == "lock":
            # `lock NAME CMD` runs CMD as a command, not a remote stage: hold it around one
            lines += [f"lock chaos-{name} 30s", f'@{host} sh -c "$rec" "$L" {name} 2 0.2', f"unlock chaos-{name}"]
        elif kind == "quiet":
            target = rng.choice([f"@{host}", all_hosts])
            lines.append(f'timeout 30s {target} sh -c "$quiet" "$L" {name} {rng.randint(8, 20)}')
        elif kind == "slow":
            lines.append(f'timeout 30s @{host} sh -c "$rec" "$L" {name} {rng.randint(6, 12)} 0.3')
        elif kind == "stream":
            sink = rng.choice([h for h in hosts if h != host])
            stream = Stream(name, sink, rng.randint(50, 3000))
            work.streams.append(stream)
            lines.append(
                f'timeout 20s @{host} sh -c "$gen" "$L" {name} {stream.lines} | '
                f'@{sink} sh -c "$put" "$L" {name} {stream.md5}'
            )
        elif kind == "await":
            what = rng.choice(["port", "file", "signal"])
            if what == "port":
                address, port = ports[host]
                lines.append(f"await port {address}:{port} timeout 30s")
            elif what == "file":
                work.files.append((f"flag-{name}", rng.uniform(0.2, 4.0)))
                lines.append(f'await file "$L/flag-{name}" on @{host} timeout 40s')
            else:
                work.signals.append((f"go-{name}", rng.uniform(0.2, 4.0)))
                lines.append(f"await signal go-{name} timeout 40s")
            kind = f"await-{what}"
        else:
            lines.append(
                rng.choice(
                    [f'echo "{name} local"', f"v{n}=$(echo {name}-captured)", "sleep 0.3", f"echo {name} > /dev/null"]
                )
            )
        work.elements.append(f"{name}:{kind}")
    lines.append('echo "workload done"')
    work.text = "\n".join(lines) + "\n"
    return work


def _nodeset(hosts: list[str]) -> str:
    """host01..host10 -> host[01-10] (the lab's names are one prefix and a number)."""
    prefix = hosts[0].rstrip("0123456789")
    numbers = [h[len(prefix) :] for h in hosts]
    return f"{prefix}[{numbers[0]}-{numbers[-1]}]"
