"""Fuzzing the whole command as a user runs it: `fmsh -n -c TEXT` (read and check, run
nothing: never a random program for real) on a sample of the parser fuzzer's inputs.

Property: an exit status of 0 or 2, and on stderr never a traceback; a syntax error is
one report, `fmsh: -c:LINE:COL: message`, its line and a caret.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fuzzing import count
from hypothesis import example, given, settings
from strategies import shell_texts

BIN = Path(sys.executable).parent
FMSH_ARGV = [str(BIN / "fmsh")] if (BIN / "fmsh").exists() else [sys.executable, "-m", "fmsh"]
EXAMPLES = int(os.environ.get("FMSH_FUZZ_CLI_EXAMPLES") or 40)  # a process each: a sample
REPORT = re.compile(r"fmsh: -c:(\d+):(\d+): .+")


@settings(max_examples=EXAMPLES)
@given(shell_texts())
@example("(" * 10_000)
@example("echo $((" + "(" * 5_000 + "1" + ")" * 5_000 + "))")
@example("@web[1-10000000] uptime")
@example("echo `echo ${`")
def test_fmsh_n_never_a_traceback(text: str) -> None:
    text = text.replace("\x00", "")  # an argument cannot hold one
    count("cli")
    proc = subprocess.run(
        [*FMSH_ARGV, "-n", "-c", text],
        capture_output=True,
        timeout=60,
        env={**os.environ, "FMSH_JOURNAL": "none"},
    )
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 2), (proc.returncode, err)
    if proc.returncode == 2:
        first, *rest = err.rstrip("\n").split("\n")
        found = REPORT.fullmatch(first)
        assert found, err
        assert len(rest) == 2 and rest[1].strip(" \t") == "^", err
