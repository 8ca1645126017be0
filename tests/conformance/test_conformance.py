"""Runs the whole Oils spec corpus under bash and fmsh and checks fmsh's score.

fmsh must pass at least 90% as many cases as bash (summed over all files) and
never print a Python traceback.  Skipped when ../shared/conformance is absent.
Run ``pytest -s tests/conformance/test_conformance.py`` to see the table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

MIN_RATIO = 0.90


def test_fmsh_conformance() -> None:
    directory = run.corpus_dir()
    if not directory.is_dir():
        pytest.skip(f"../shared/conformance not found ({directory}); set FMSH_CONFORMANCE_DIR")
    shells = run.default_shells()
    names = [sh.name for sh in shells]
    results = run.run_all(run.load_cases(directory), shells)
    summary = run.summarize(results, names)
    print()
    print(run.format_table(summary))

    # The first few failures are enough to start from; run.py --verbose has all.
    detail = "\n".join(run.failure_reports(results, names)[:10])
    assert summary.tracebacks["fmsh"] == 0, f"fmsh printed Python tracebacks:\n{detail}"
    assert summary.ratio("fmsh") >= MIN_RATIO, f"fmsh/bash {summary.ratio('fmsh'):.3f} < {MIN_RATIO}:\n{detail}"
