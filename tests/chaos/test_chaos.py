"""The chaos suite's bounded run (CI): 12 runs of the seeded driver against the chaos lab,
every fault kind at least once; no invariant may be violated. The seed is printed (and in
the failure message); FMSH_CHAOS_SEED sets it. `tests/chaos/run` is the long run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chaos import faults
from chaos.driver import Driver, seed_from
from chaos.lab import ChaosLab

RUNS = 12

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the chaos lab needs root (netns, tmpfs)")


@pytest.fixture
def chaos_lab(tmp_path: Path):  # type: ignore[no-untyped-def]
    lab = ChaosLab(tmp_path / "chaos").start()
    yield lab
    lab.close()


def test_chaos_bounded(chaos_lab: ChaosLab, capsys: pytest.CaptureFixture[str]) -> None:
    seed = seed_from(os.environ.get("FMSH_CHAOS_SEED"))
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        with capsys.disabled():
            print(line, flush=True)

    reports = Driver(chaos_lab, seed, say).loop(runs=RUNS)
    kinds = {r.fault for r in reports}
    assert kinds == {k.kind for k in faults.available(chaos_lab)}, f"seed {seed}: faults {kinds}"
    assert chaos_lab.namespaces, "no host in a network namespace: the cut-off fault never ran"
    violations = [str(v) for r in reports for v in r.violations]
    assert not violations, f"seed {seed} (FMSH_CHAOS_SEED={seed} to repeat):\n" + "\n".join(violations)
