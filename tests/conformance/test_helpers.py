"""The helper programs in bin/ print exactly what the corpus expects."""

from __future__ import annotations

import subprocess
from pathlib import Path

BIN = Path(__file__).resolve().parent / "bin"


def sh(script: str) -> bytes:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    return subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, check=True).stdout


def test_argv_prints_python2_style_list() -> None:
    out = sh("argv.py a 'b c' \"it's\" 'μ' '\\' \"$(printf '\\t')\" ''")
    assert out == b"""['a', 'b c', "it's", '\\xce\\xbc', '\\\\', '\\t', '']\n"""


def test_printenv_and_stdout_stderr() -> None:
    assert sh("X=1 printenv.py X NOPE") == b"1\nNone\n"
    assert sh("stdout_stderr.py 2>&1") == b"STDERR\nSTDOUT\n"
    assert sh("stdout_stderr.py o e 3 2>/dev/null; echo $?") == b"o\n3\n"


def test_read_from_fd() -> None:
    assert sh("printf 'x\\n' | read_from_fd.py 0 3 3</dev/null") == b"0: x\n3: "
