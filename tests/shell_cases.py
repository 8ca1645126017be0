"""Tables of shell cases for the language tests, checked against bash.

A case is a script with the stdout and exit status a user expects; bash must produce the
same (bash is the specification), and so must fmsh. Starting fmsh costs tens of
milliseconds, so a batched table runs all its cases in one bash and one fmsh process: each
case in its own scratch directory, in a subshell, through `eval`, with its own stdout,
stderr and status files. A table whose cases need a shell of their own (signals to `$$`,
`exec`, job control, stdin) is not batched: each case runs as `bash -c` / `fmsh -c`.

Each case is still its own pytest test, so a failure names the one script that failed and
shows what bash and fmsh did.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import FMSH_ARGV, TRACEBACK, Result

BASH = shutil.which("bash")


@dataclass
class Outcome:
    """What one shell did with one case."""

    out: str
    err: str
    status: int | None  # None: the batch never finished this case

    def __repr__(self) -> str:
        return f"(status={self.status}, out={self.out!r}, err={self.err!r})"


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FMSH_DEBUG", None)
    env.update(extra)
    return env


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _run_batch(argv: list[str], scripts: list[str], root: Path, env: dict[str, str]) -> list[Outcome]:
    """Every script in a subshell of one shell process, each in root/N."""
    root.mkdir(parents=True)
    lines = []
    for i, script in enumerate(scripts):
        case = root / str(i)
        lines.append(
            f"mkdir {case} && cd {case} && ( eval {_quote(script)} ) >{case}.out 2>{case}.err </dev/null;"
            f" echo $? >{case}.rc"
        )
    proc = subprocess.run(
        [*argv, "-c", "\n".join(lines)],
        cwd=root,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        env=_environment(env),
        timeout=120,
        check=False,
    )
    outcomes = []
    for i in range(len(scripts)):
        case = root / str(i)
        try:
            status: int | None = int((root / f"{i}.rc").read_text())
        except (OSError, ValueError):
            status = None
        out = _read(Path(f"{case}.out"))
        err = _read(Path(f"{case}.err"))
        if status is None:
            err += f"\n[batch did not finish this case; batch status {proc.returncode}, stderr: {proc.stderr!r}]"
        outcomes.append(Outcome(out, err, status))
    return outcomes


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError:
        return ""


def _run_alone(argv: list[str], script: str, directory: Path, env: dict[str, str]) -> Outcome:
    directory.mkdir(parents=True)
    proc = subprocess.run(
        [*argv, "-c", script],
        cwd=directory,
        capture_output=True,
        text=True,
        input="",
        errors="surrogateescape",
        env=_environment(env),
        timeout=30,
        check=False,
    )
    return Outcome(proc.stdout, proc.stderr, proc.returncode)


_serial = itertools.count()


class Table:
    """Rows of (id, script, expected stdout[, expected status]); status defaults to 0.

    `setup` is a command run once (by sh) in a directory of its own before the cases;
    they find that directory in $SETUP.
    """

    def __init__(self, *rows: tuple[Any, ...], batch: bool = True, setup: str | None = None) -> None:
        self.rows: dict[str, tuple[str, str, int]] = {}
        for row in rows:
            case_id, script, expected, *rest = row
            assert case_id not in self.rows, f"duplicate case id {case_id}"
            self.rows[case_id] = (script, expected, rest[0] if rest else 0)
        # FMSH_TEST_BATCH=0 runs every case in a process of its own (slower; for debugging).
        self.batch = batch and os.environ.get("FMSH_TEST_BATCH", "1") != "0"
        self.setup = setup
        self._outcomes: dict[str, tuple[Outcome, Outcome]] = {}
        self._root: Path | None = None
        self._env: dict[str, str] = {}

    def params(self) -> list[Any]:
        return [pytest.param(self, case_id, id=case_id) for case_id in self.rows]

    def outcome(self, case_id: str, factory: pytest.TempPathFactory) -> tuple[Outcome, Outcome]:
        """(bash, fmsh) for one case; a batched table runs all its cases the first time."""
        assert BASH is not None
        if self._root is None:
            self._root = factory.mktemp(f"table{next(_serial)}")
            if self.setup is not None:
                setup_dir = self._root / "setup"
                setup_dir.mkdir()
                subprocess.run(["sh", "-c", self.setup], cwd=setup_dir, check=True)
                self._env = {"SETUP": str(setup_dir)}
        if case_id not in self._outcomes:
            if self.batch:
                ids = list(self.rows)
                scripts = [self.rows[i][0] for i in ids]
                bash = _run_batch([BASH], scripts, self._root / "bash", self._env)
                fmsh = _run_batch(FMSH_ARGV, scripts, self._root / "fmsh", self._env)
                self._outcomes = dict(zip(ids, zip(bash, fmsh, strict=False), strict=False))
            else:
                script = self.rows[case_id][0]
                n = len(self._outcomes)
                self._outcomes[case_id] = (
                    _run_alone([BASH], script, self._root / f"bash{n}", self._env),
                    _run_alone(FMSH_ARGV, script, self._root / f"fmsh{n}", self._env),
                )
        return self._outcomes[case_id]


def check_case(table: Table, case_id: str, factory: pytest.TempPathFactory) -> Outcome:
    """fmsh does what bash does with the case, and that is what the case expects."""
    script, expected, status = table.rows[case_id]
    bash, fmsh = table.outcome(case_id, factory)
    assert TRACEBACK not in fmsh.err, fmsh.err
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status), f"\nscript: {script}\nbash:   {bash!r}\nfmsh:   {fmsh!r}"
    assert (fmsh.out, fmsh.status) == (expected, status), f"\nscript: {script}\nbash and fmsh: {fmsh!r}"
    return fmsh


def like_bash(bash_and_fmsh: Any, script: str) -> Result:
    """Run one script in both shells (the conftest fixture); stdout and status must agree."""
    bash, fmsh = bash_and_fmsh(script)
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status), f"\nscript: {script}\nbash:   {bash!r}\nfmsh:   {fmsh!r}"
    return fmsh


def check(bash_and_fmsh: Any, script: str, expected: str, status: int = 0) -> Result:
    """One script in both shells: the same stdout and status as bash, and the expected ones."""
    fmsh = like_bash(bash_and_fmsh, script)
    assert (fmsh.out, fmsh.status) == (expected, status)
    return fmsh
