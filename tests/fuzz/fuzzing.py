"""What every fuzz test uses: the settings (how many inputs, which seed), counting inputs
per target, a clock per input, and the checks on a syntax error (positioned, rendered
with its line and a caret).

    FMSH_FUZZ_EXAMPLES   inputs per fuzz test (default 250: the short run CI makes, ~20 s)
    FMSH_FUZZ_LONG=1     the long run (tests/fuzz/run): not derandomized, so that the seed
                         that pytest's --hypothesis-seed gives (printed by the run) decides
    FMSH_FUZZ_COUNTS     a file to write the number of inputs each target took (JSON)

Hypothesis's example database is off: a failure is reproduced by its seed (or by the
@example it becomes once fixed), and the checkout stays clean. (This is a module, not
a conftest.py: tests/conftest.py is imported as `conftest` by the tests above.)
"""

from __future__ import annotations

import atexit
import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, settings

from fmsh.syntax.errors import ParseError

EXAMPLES = int(os.environ.get("FMSH_FUZZ_EXAMPLES") or 250)
LONG = os.environ.get("FMSH_FUZZ_LONG") == "1"

settings.register_profile(
    "fmsh-fuzz",
    max_examples=EXAMPLES,
    deadline=None,  # the machine is shared and loaded; hangs are caught by `within` instead
    derandomize=not LONG,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile("fmsh-fuzz")

COUNTS: Counter[str] = Counter()


def count(target: str) -> None:
    """One input went to `target` (what the long run reports)."""
    COUNTS[target] += 1


@atexit.register
def _write_counts() -> None:
    path = os.environ.get("FMSH_FUZZ_COUNTS")
    if path and COUNTS:
        Path(path).write_text(json.dumps(dict(COUNTS), indent=1, sort_keys=True) + "\n")


class Hang(Exception):
    """An input took longer than any input may: a hang, a failure like any other."""


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail the input with Hang when it runs longer than `seconds` (an itimer: the
    fuzzers run in the main thread). Should fmsh catch the Hang (an `except Exception`
    on the way), it is raised again when the block ends."""
    expired: list[bool] = []

    def alarm(signum: int, frame: object) -> None:
        expired.append(True)
        raise Hang(f"no answer within {seconds}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if expired:
        raise Hang(f"no answer within {seconds}s (and the Hang was caught on the way)")


def check_parse_error(error: ParseError, text: str, name: str) -> None:
    """A syntax error in `text` (read as the file `name`) is positioned within it, and its
    report is `name:line:col: message`, the line as written, and a caret under the column."""
    lines = text.split("\n")
    line, col = error.pos.line, error.pos.col
    assert error.pos.source.name == name, f"the error names {error.pos.source.name!r}, not the file"
    assert 1 <= line <= len(lines), f"line {line} is not a line of the input ({len(lines)} lines)"
    assert 1 <= col <= len(lines[line - 1]) + 1, f"column {col} is outside line {line}: {lines[line - 1]!r}"
    assert error.message and "\n" not in error.message, f"not a one-line message: {error.message!r}"
    report = error.render().split("\n")
    assert len(report) == 3, report
    assert report[0] == f"{name}:{line}:{col}: {error.message}", report[0]
    assert report[1] == "  " + lines[line - 1], f"shows {report[1]!r}, the line is {lines[line - 1]!r}"
    caret = report[2]
    assert caret.endswith("^") and len(caret) == 2 + col, f"caret at {len(caret) - 2}, column {col}"
    assert caret[:-1].strip(" \t") == "", caret
