"""A remote command that floods fmsh with one endless line does not grow fmsh's memory,
in any output mode: fmsh runs as a child process, the flood goes through real sshd, and
the child's own peak resident size (tests/peak.py) stays under a bound far below what
flowed. What the user gets is checked too: every byte (one host; line modes, where a
line over 64 KiB is split into pieces), gather's first 1 MiB per host and its note, the
journal's capped copy.

The flood is FMSH_TEST_FLOOD bytes a host (256M by default, a few seconds through sshd on
loopback; run once with FMSH_TEST_FLOOD=1G for the full measure).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK
from peak import Measured

LINE_MAX = 64 << 10
GATHER_MAX = 1 << 20
PEAK_LIMIT = 200 << 20  # bytes of resident memory fmsh may reach while the flood flows


def _flood_size() -> int:
    text = os.environ.get("FMSH_TEST_FLOOD", "256M").strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(text[:-1] if scale != 1 else text) * scale


FLOOD = _flood_size()
# `x` FLOOD times, no newline: the line that never ends.
FLOOD_COMMAND = f"sh -c 'head -c {FLOOD} /dev/zero | tr \"\\\\0\" x'"


class Run:
    """fmsh's exit status, its peak RSS in bytes, what it wrote (counted, with the first
    and last bytes kept) and its standard error."""

    def __init__(self, status: int, peak: int, size: int, head: bytes, tail: bytes, err: str, seconds: float):
        self.status = status
        self.peak = peak
        self.size = size
        self.head = head
        self.tail = tail
        self.err = err
        self.seconds = seconds


def _run(lab, script: str, env: dict[str, str] | None = None, keep_all: bool = False) -> Run:  # type: ignore[no-untyped-def]
    """Run `fmsh -c script`, reading its output as it comes (nothing is held but the first
    and last 4 MiB, or all of it with keep_all), and its peak memory (tests/peak.py)."""
    full = dict(os.environ)
    full.pop("FMSH_DEBUG", None)
    full.update(lab.env())
    full.update(env or {})
    started = time.monotonic()
    measured = Measured(
        [*FMSH_ARGV, "-c", script], full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=lab.root,
    )  # fmt: skip
    proc = measured.proc
    assert proc.stdout is not None and proc.stderr is not None
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    size = 0
    head = bytearray()
    tail = bytearray()
    keep = 4 << 20
    while True:
        chunk = proc.stdout.read1(1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if keep_all or len(head) < keep:
            head += chunk if keep_all else chunk[: keep - len(head)]
        tail += chunk
        if len(tail) > keep:
            del tail[: len(tail) - keep]
    peak = measured.peak()
    reader.join(10)
    err = b"".join(errors).decode(errors="replace")
    assert TRACEBACK not in err, err
    return Run(proc.returncode, peak, size, bytes(head), bytes(tail), err, time.monotonic() - started)


def _assert_bounded(run: Run) -> None:
    assert run.peak < PEAK_LIMIT, f"fmsh peaked at {run.peak >> 20} MiB while {FLOOD >> 20} MiB a host flowed"


def test_one_host_to_stdout(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    """One host: its bytes as they come, all of them, no newline added."""
    run = _run(ssh_lab, f"@host01 {FLOOD_COMMAND}")
    assert run.status == 0, run.err
    assert run.size == FLOOD and run.tail.endswith(b"xxxx") and set(run.head) == {ord("x")}
    _assert_bounded(run)


@pytest.mark.parametrize("mode", ["plain", "prefix"])
def test_fan_out_lines_are_split_not_buffered(ssh_lab, mode: str) -> None:  # type: ignore[no-untyped-def]
    """Two hosts, line mode: the endless line comes out in pieces of 64 KiB, each a line
    of its own (with its host's prefix in prefix mode); every byte is there."""
    run = _run(ssh_lab, f"@host[01-02] {FLOOD_COMMAND}", env={"FMSH_OUTPUT": mode})
    assert run.status == 0, run.err
    pieces = -(-FLOOD // LINE_MAX)
    prefix_bytes = sum(len(f"{h}: ") for h in ("host01", "host02")) * pieces if mode == "prefix" else 0
    assert run.size == 2 * FLOOD + 2 * pieces + prefix_bytes
    first = run.head.split(b"\n", 1)[0]
    assert first == (first[:8] if mode == "prefix" else b"") + b"x" * LINE_MAX
    _assert_bounded(run)


def test_gather_keeps_the_first_mebibyte_and_says_how_much_more(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    run = _run(ssh_lab, f"@host[01-02] {FLOOD_COMMAND}", env={"FMSH_OUTPUT": "gather"}, keep_all=True)
    assert run.status == 0, run.err
    header, rest = run.head.split(b"x", 1)
    assert b"host[01-02] (2)" in header  # the two identical outputs share one block
    assert rest.count(b"x") == GATHER_MAX - 1
    note = f"[... {FLOOD - GATHER_MAX} more bytes not shown: gather keeps the first {GATHER_MAX} of each host]"
    assert rest.endswith(b"\n" + note.encode() + b"\n")
    _assert_bounded(run)


def test_json_lines_are_split_and_marked_partial(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    run = _run(ssh_lab, f"@host[01-02] {FLOOD_COMMAND}", env={"FMSH_OUTPUT": "json"})
    assert run.status == 0, run.err
    first = json.loads(run.head.split(b"\n", 1)[0])
    assert first["partial"] is True and first["line"] == "x" * LINE_MAX
    records = [json.loads(line) for line in run.tail.splitlines()[1:]]
    assert records[-1]["class"] == "ok"  # the last host to end
    assert any("line" in r and "partial" not in r for r in records)  # a host's last piece
    _assert_bounded(run)


def test_the_journal_keeps_its_cap_for_one_huge_line(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A remote command line is a task: its output is journaled up to FMSH_JOURNAL_OUTPUT
    (1M by default) a host, and `log` says the rest was not kept."""
    journal = tmp_path / "journal.db"
    env = {"FMSH_JOURNAL": str(journal)}
    run = _run(ssh_lab, f"@host01 {FLOOD_COMMAND} >/dev/null", env=env)
    assert run.status == 0, run.err
    _assert_bounded(run)
    shown = _run(ssh_lab, "log 1", env=env, keep_all=True)
    assert shown.head.split(b"\n", 1)[1].count(b"x") == 1 << 20
    assert f"only the first part of its {FLOOD} bytes was journaled" in shown.err
    journal_bytes = sum(p.stat().st_size for p in tmp_path.glob("journal.db*"))
    assert journal_bytes < 8 << 20


def test_a_capture_past_its_limit_is_an_error_not_a_full_memory(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`x=$(@host01 flood)`: bash would hold it all. fmsh stops reading at FMSH_CAPTURE_MAX
    (64M by default), the remote command is stopped, and the script ends with a message that
    says what to do, instead of a value cut short; nothing of it is journaled."""
    journal = tmp_path / "journal.db"
    env = {"FMSH_JOURNAL": str(journal)}
    run = _run(ssh_lab, f"x=$(@host01 {FLOOD_COMMAND}); echo not reached", env=env)
    assert run.status == 1 and run.size == 0
    assert "$(…) printed more than 64M (FMSH_CAPTURE_MAX): redirect its output to a file" in run.err
    _assert_bounded(run)
    assert sum(p.stat().st_size for p in tmp_path.glob("journal.db*")) < 8 << 20
    small = _run(ssh_lab, "FMSH_CAPTURE_MAX=4M; x=$(@host01 head -c 3M /dev/zero | tr '\\0' y); echo ${#x}")
    assert (small.status, small.head) == (0, b"3145728\n"), small.err
