"""The host-count limit: a pattern that names more hosts than `max-hosts` (10000 unless
FMSH_MAX_HOSTS or `set -o max-hosts=N` says otherwise) is refused before it is expanded,
at once and without the memory its names would take; a range over the limit still
filters an intersection or an exclusion.

Each case runs the real `fmsh` and measures its time and its own peak memory
(tests/peak.py), as a user would notice them.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from conftest import FMSH_ARGV, TRACEBACK
from peak import Measured


class Run:
    def __init__(self, status: int, err: str, seconds: float, peak_kb: int) -> None:
        self.status, self.err, self.seconds, self.peak_kb = status, err, seconds, peak_kb


def fmsh_measured(command: str, **env: str) -> Run:
    """`fmsh -c COMMAND` in a process of its own: status, stderr, wall time, peak RSS
    (its own, from tests/peak.py)."""
    import tempfile

    with tempfile.TemporaryFile() as err:
        started = time.monotonic()
        measured = Measured(
            [*FMSH_ARGV, "-c", command],
            {**os.environ, "FMSH_JOURNAL": "none", "FMSH_INVENTORY": "/nonexistent", **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        peak = measured.peak()
        seconds = time.monotonic() - started
        err.seek(0)
        text = err.read().decode()
    return Run(measured.proc.returncode, text, seconds, peak >> 10)


BASELINE: dict[str, int] = {}


def baseline_kb() -> int:
    """The peak memory of a refused two-host stage (the shell's own footprint)."""
    if "kb" not in BASELINE:
        BASELINE["kb"] = fmsh_measured("@web[1-2] true", FMSH_MAX_HOSTS="1").peak_kb
    return BASELINE["kb"]


@pytest.mark.parametrize(
    "command, refused",
    [
        ("@web[1-10000000] uptime", "web[1-10000000]: 10000000 hosts is over the limit of 10000"),
        ("@web[1-10000000]!web7 uptime", "web[1-10000000]: 10000000 hosts is over the limit of 10000"),
        ("@db1,web[0000001-9999999] uptime", "web[0000001-9999999]: 9999999 hosts is over the limit of 10000"),
        ("@n9[1-100000] uptime", "n9[1-100000]: 9099910 hosts is over the limit of 10000"),
        ("@web[1-5000],db[1-5001] uptime", "10001 hosts is over the limit of 10000"),
    ],
)
def test_a_pattern_over_the_limit_is_refused_at_once(command: str, refused: str) -> None:
    run = fmsh_measured(command)
    assert run.status == 1
    assert refused in run.err and "set -o max-hosts=N or FMSH_MAX_HOSTS=N" in run.err
    assert TRACEBACK not in run.err and run.err.count("\n") == 1
    assert run.seconds < 5  # counted, not expanded (10**7 names take ~10 s and ~1 GB)
    assert run.peak_kb < baseline_kb() + 50_000, (run.peak_kb, baseline_kb())


def test_an_intersection_filters_with_a_range_over_the_limit() -> None:
    """`web[1-100000]&web[1-2]` is two hosts: the big range is matched, never expanded."""
    run = fmsh_measured("@web[1-100000]&web[1-2] true; @web[1-2]!web[2-100000] true")
    assert TRACEBACK not in run.err
    assert "over the limit" not in run.err
    # web1 and web2 (then web1 alone) were tried: they do not resolve here.
    assert run.err.count("web1: resolve") == 2 and run.err.count("web2: resolve") == 1, run.err
    assert run.peak_kb < baseline_kb() + 50_000


def test_the_limit_is_a_setting() -> None:
    run = fmsh_measured("set -o max-hosts=3; @web[1-4] true")
    assert run.status == 1 and "web[1-4]: 4 hosts is over the limit of 3" in run.err
    run = fmsh_measured("@web[1-4] true", FMSH_MAX_HOSTS="3")
    assert run.status == 1 and "web[1-4]: 4 hosts is over the limit of 3" in run.err
    run = fmsh_measured("set -o max-hosts=3; set +o max-hosts; @web[1-4] true")
    assert "over the limit" not in run.err and run.err.count(": resolve") == 4


def test_a_bad_limit_is_an_error_of_its_own() -> None:
    run = fmsh_measured("set -o max-hosts=lots")
    assert run.status == 2 and "max-hosts: `lots': not a number of hosts" in run.err
    run = fmsh_measured("@web1 true", FMSH_MAX_HOSTS="-1")
    assert run.status == 1 and "FMSH_MAX_HOSTS: `-1': not a number of hosts" in run.err


def test_set_o_shows_the_limit() -> None:
    proc = subprocess.run(
        [*FMSH_ARGV, "-c", "set -o max-hosts=250; set -o; set +o"],
        capture_output=True,
        text=True,
        env={**os.environ, "FMSH_JOURNAL": "none"},
    )
    assert "max-hosts      \t250\n" in proc.stdout
    assert "set -o max-hosts=250\n" in proc.stdout


def test_an_inventory_range_over_the_limit_names_its_line(tmp_path: os.PathLike[str]) -> None:
    inventory = os.path.join(tmp_path, "hosts.ini")
    with open(inventory, "w") as f:
        f.write("[web]\nweb[1:3]\nbig[1:10000000] ansible_user=x\n")
    run = fmsh_measured("@web true", FMSH_INVENTORY=inventory)
    assert run.status != 0
    assert f"inventory {inventory}:3: big[1:10000000]: 10000000 hosts is over the limit of 10000" in run.err
    assert run.seconds < 5
