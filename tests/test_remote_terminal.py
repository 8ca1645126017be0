"""A fan-out on a terminal: `host: ` prefixes, the progress line, the failure summary."""

from __future__ import annotations

import os

import pexpect  # type: ignore[import-untyped]
from conftest import FMSH_ARGV


def _spawn(lab, script: str) -> pexpect.spawn:  # type: ignore[no-untyped-def]
    env = os.environ | lab.env() | {"TERM": "dumb"}
    return pexpect.spawn(FMSH_ARGV[0], [*FMSH_ARGV[1:], "-c", script], env=env, encoding="utf-8", timeout=20)


def test_lines_are_prefixed_on_a_terminal(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    child = _spawn(ssh_lab, "@host[01-03] echo hi")
    child.expect(pexpect.EOF)
    lines = sorted(line.strip() for line in child.before.splitlines() if line.strip())
    assert lines == ["host01: hi", "host02: hi", "host03: hi"]


def test_progress_line_for_a_fanout_over_a_second(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    child = _spawn(ssh_lab, "@host[01-04] sleep 1.5; echo done")
    child.expect(r"[0-4]/4 [0-4] ok · 0 failed · 0 timed out")
    child.expect_exact("done")
    child.expect(pexpect.EOF)


def test_failures_are_summarised_on_a_terminal(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    child = _spawn(ssh_lab, "@host[01-03] sh -c 'exit 3'")
    child.expect_exact("3 of 3 hosts failed: host[01-03] exit 3 (3)")
    child.expect(pexpect.EOF)
