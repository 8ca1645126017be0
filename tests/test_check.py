"""`fmsh check`: the boundedness check and the worst-case duration of scripts.

Each script in tests/check/ says what the check must find, in comments:

    # expect: bound 2m41s             the worst case, exactly (text and seconds)
    # expect: bound 5s + N1 × 2s      ... with rounds not known before the run
    # expect: unbounded 3:1 while     a problem at LINE:COL whose message has these words
    # expect: warning 5:1 rounds      a warning at LINE:COL, likewise
    # expect: top 12:1                the first of the dominant steps
    # env: NAME=VALUE                 a variable the check runs with
    # run: yes                        local and short: run it, and it must end within its bound

The check must find exactly the problems and warnings expected, no more.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK, Result

HERE = Path(__file__).resolve().parent / "check"
SCRIPTS = sorted(HERE.glob("*.fmsh"))
STARTUP_SLACK = 0.5  # seconds: starting fmsh, and the commands counted as instantaneous
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Expected:
    def __init__(self, path: Path) -> None:
        self.bound: str | None = None
        self.problems: list[tuple[str, int, int, str]] = []  # severity, line, col, words
        self.top: tuple[int, int] | None = None
        self.env: dict[str, str] = {}
        self.run = False
        for line in path.read_text().splitlines():
            if line.startswith("# expect: bound "):
                self.bound = line.removeprefix("# expect: bound ")
            elif line.startswith("# expect: top "):
                row, col = line.removeprefix("# expect: top ").split(":")
                self.top = (int(row), int(col))
            elif m := re.match(r"# expect: (unbounded|warning) (\d+):(\d+) (.+)$", line):
                self.problems.append((m[1], int(m[2]), int(m[3]), m[4]))
            elif line.startswith("# env: "):
                name, _, value = line.removeprefix("# env: ").partition("=")
                self.env[name] = value
            elif line == "# run: yes":
                self.run = True

    @property
    def bounded(self) -> bool:
        return not any(severity == "unbounded" for severity, *_ in self.problems)


def seconds_of(text: str) -> float | None:
    """`2m41s` -> 161.0; None for what is not a plain duration (`5s + N1 × 2s`)."""
    pieces = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text)
    if not pieces or "".join(n + u for n, u in pieces) != text:
        return None
    return sum(float(n) * _UNITS[u] for n, u in pieces)


def check_env(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a check: no config file, no default-timeout variables of the
    person running the tests."""
    env = {k: v for k, v in os.environ.items() if not (k.startswith("FMSH_") and k.endswith("_TIMEOUT"))}
    env.pop("FMSH_DEBUG", None)
    env["FMSH_CONFIG"] = str(tmp_path / "no-config.toml")
    env.update(extra or {})
    return env


def fmsh(*args: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> Result:
    proc = subprocess.run(
        [*FMSH_ARGV, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout, stdin=subprocess.DEVNULL
    )
    assert TRACEBACK not in proc.stderr, proc.stderr
    return Result(proc)


def check_json(path: Path, tmp_path: Path, extra: dict[str, str] | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = fmsh("--check", "--json", path.name, cwd=path.parent, env=check_env(tmp_path, extra))
    assert r.err == "", r
    return r.status, json.loads(r.out)


def test_there_are_scripts_of_each_kind() -> None:
    expectations = [Expected(p) for p in SCRIPTS]
    assert len(SCRIPTS) >= 15
    assert sum(e.bounded for e in expectations) >= 8
    assert sum(not e.bounded for e in expectations) >= 8
    assert sum(e.run for e in expectations) >= 5
    for path, e in zip(SCRIPTS, expectations, strict=True):
        assert e.bound is not None or not e.bounded, f"{path.name}: no `# expect: bound'"


# --- each script: what the check finds --------------------------------------------------


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_check_finds_what_is_expected(path: Path, tmp_path: Path) -> None:
    expected = Expected(path)
    status, report = check_json(path, tmp_path, expected.env)
    assert status == (0 if expected.bounded else 1), report
    assert report["file"] == path.name
    assert report["bounded"] is expected.bounded
    found = {(d["severity"], d["line"], d["col"]): d["message"] for d in report["diagnostics"]}
    wanted = {(severity, line, col): words for severity, line, col, words in expected.problems}
    assert sorted(found) == sorted(wanted), report["diagnostics"]
    for key, words in wanted.items():
        assert words in found[key], (key, found[key])
    if expected.bounded:
        assert report["worst_case"] == expected.bound
        seconds = seconds_of(expected.bound)  # type: ignore[arg-type]
        if seconds is None:
            assert report["worst_case_seconds"] is None
            assert report["unknown_rounds"]
        else:
            assert report["worst_case_seconds"] == pytest.approx(seconds, abs=1e-9)
        assert all(d["severity"] == "warning" for d in report["diagnostics"])
    else:
        assert report["worst_case_seconds"] is None
        assert report["worst_case"] == "unbounded"
        assert report["dominant"] == []
    if expected.top is not None:
        first = report["dominant"][0]
        assert (first["line"], first["col"]) == expected.top, report["dominant"]


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_check_text_report(path: Path, tmp_path: Path) -> None:
    """`fmsh check FILE` (the word form): FILE:LINE:COL lines, then the worst case."""
    expected = Expected(path)
    r = fmsh("check", path.name, cwd=path.parent, env=check_env(tmp_path, expected.env))
    assert r.status == (0 if expected.bounded else 1), r
    assert r.err == ""
    lines = r.out.splitlines()
    problems = [line for line in lines if re.match(rf"{re.escape(path.name)}:\d+:\d+: ", line)]
    assert len(problems) == len(expected.problems), r.out
    for severity, line, col, words in expected.problems:
        prefix = f"{path.name}:{line}:{col}: {severity}: "
        assert any(p.startswith(prefix) and words in p for p in problems), (prefix, words, r.out)
    # Every problem says how to fix it.
    assert all(p.rstrip().endswith(")") for p in problems if ": unbounded: " in p), problems
    summary = lines[len(problems)]
    if expected.bounded:
        assert summary == f"{path.name}: worst case {expected.bound}"
        if expected.top is not None:
            row, col = expected.top
            assert re.match(rf"\s+{row}:{col}\s+\S", lines[len(problems) + 1]), r.out
    else:
        count = sum(severity == "unbounded" for severity, *_ in expected.problems)
        assert summary == f"{path.name}: worst case unbounded ({count} problem{'s' if count != 1 else ''})"


# --- running the short local scripts: they end within their bound --------------------


RUNNABLE = [p for p in SCRIPTS if Expected(p).run]


@pytest.mark.parametrize("path", RUNNABLE, ids=[p.stem for p in RUNNABLE])
def test_script_ends_within_its_bound(path: Path, tmp_path: Path) -> None:
    _, report = check_json(path, tmp_path)
    bound = report["worst_case_seconds"]
    assert bound is not None and bound < 5, report
    start = time.monotonic()
    r = fmsh(str(path), cwd=tmp_path, env=check_env(tmp_path), timeout=30)
    elapsed = time.monotonic() - start
    assert "internal error" not in r.err, r
    assert "syntax error" not in r.err and "not found" not in r.err, r
    assert elapsed <= bound + STARTUP_SLACK, f"{path.name}: ran {elapsed:.2f}s, bound {bound}s"


# --- the report's shape ------------------------------------------------------------------


def test_json_shape(tmp_path: Path) -> None:
    _, bounded = check_json(HERE / "deploy.fmsh", tmp_path)
    assert set(bounded) == {
        "file", "bounded", "worst_case_seconds", "worst_case", "assumed_instant", "diagnostics", "dominant",
        "unknown_rounds",
    }  # fmt: skip
    assert bounded["bounded"] is True
    assert isinstance(bounded["worst_case_seconds"], float)
    assert bounded["dominant"]
    for step in bounded["dominant"]:
        assert set(step) == {"line", "col", "seconds", "duration", "times", "text"}
        assert isinstance(step["line"], int) and isinstance(step["col"], int)
        assert isinstance(step["seconds"], float) and isinstance(step["text"], str)
    seconds = [s["seconds"] for s in bounded["dominant"]]
    assert seconds == sorted(seconds, reverse=True)
    _, unbounded = check_json(HERE / "while_no_max.fmsh", tmp_path)
    assert unbounded["bounded"] is False and unbounded["worst_case_seconds"] is None
    for problem in unbounded["diagnostics"]:
        assert set(problem) == {"line", "col", "severity", "message"}


def test_dominant_steps_text(tmp_path: Path) -> None:
    r = fmsh("--check", "deploy.fmsh", cwd=HERE, env=check_env(tmp_path))
    assert r.status == 0, r
    assert r.out.splitlines() == [
        "deploy.fmsh: worst case 9m43s",
        "  12:1  5m     await signal approved timeout 5m",
        "  9:14  1m50s  timeout 10s @web01 ./healthy  (×11)",
        "   8:1  1m03s  retry 3 backoff 1s..30s timeout 20s @web[01-20] ./deploy",
        "   7:1  1m     await port db1:5432 timeout 1m",
        "  10:2  50s    sleep 5  (×10)",
    ]


def test_local_commands_are_said_to_count_as_instantaneous(tmp_path: Path) -> None:
    script = tmp_path / "s.fmsh"
    script.write_text("curl -fsS http://web1/\nsleep 2\n")
    r = fmsh("--check", str(script), cwd=tmp_path, env=check_env(tmp_path))
    assert r.status == 0, r
    assert "worst case 2s" in r.out
    assert "local commands outside a timeout are counted as instantaneous" in r.out
    script.write_text("timeout 1m curl -fsS http://web1/\nsleep 2\n")
    r = fmsh("--check", str(script), cwd=tmp_path, env=check_env(tmp_path))
    assert "worst case 1m02s" in r.out
    assert "instantaneous" not in r.out


# --- default timeouts: variables, then the config file ---------------------------------


def test_default_timeouts_come_from_variables_then_config(tmp_path: Path) -> None:
    script = HERE / "awaits.fmsh"  # one await without a timeout: 16m45s with the 10m default
    _, report = check_json(script, tmp_path, {"FMSH_AWAIT_TIMEOUT": "30s"})
    assert report["worst_case"] == "7m15s"
    config = tmp_path / "config.toml"
    config.write_text('[timeouts]\nawait = "1m"\n')
    _, report = check_json(script, tmp_path, {"FMSH_CONFIG": str(config)})
    assert report["worst_case"] == "7m45s"
    status, report = check_json(script, tmp_path, {"FMSH_AWAIT_TIMEOUT": "0"})
    assert status == 1 and report["diagnostics"][0]["line"] == 8
    r = fmsh("--check", script.name, cwd=HERE, env=check_env(tmp_path, {"FMSH_STEP_TIMEOUT": "soon"}))
    assert r.status == 2 and "FMSH_STEP_TIMEOUT" in r.err, r


# --- errors -----------------------------------------------------------------------------


def test_syntax_error_is_positioned_and_status_2(tmp_path: Path) -> None:
    (tmp_path / "bad.fmsh").write_text("sleep 1\nif true; then\n  echo )\nfi\n")
    for args in (("--check", "bad.fmsh"), ("check", "bad.fmsh"), ("-c", "check bad.fmsh")):
        r = fmsh(*args, cwd=tmp_path, env=check_env(tmp_path))
        assert r.status == 2, (args, r)
        assert r.out == ""
        lines = r.err.splitlines()
        assert re.match(r"fmsh: bad\.fmsh:3:8: \S", lines[0]), r.err
        assert lines[1] == "    echo )"
        assert lines[2] == "         ^"


def test_unreadable_file_and_usage(tmp_path: Path) -> None:
    env = check_env(tmp_path)
    r = fmsh("--check", "missing.fmsh", cwd=tmp_path, env=env)
    assert r.status == 2 and "missing.fmsh" in r.err and r.out == "", r
    r = fmsh("--check", cwd=tmp_path, env=env)
    assert r.status == 2 and "usage" in r.err, r
    r = fmsh("--check", "--bogus", "x.fmsh", cwd=tmp_path, env=env)
    assert r.status == 2 and "--bogus" in r.err, r
    r = fmsh("--check", "--help", cwd=tmp_path, env=env)
    assert r.status == 0 and "--json" in r.out, r


def test_several_files_worst_status(tmp_path: Path) -> None:
    r = fmsh("--check", "seq_sleeps.fmsh", "until_no_max.fmsh", cwd=HERE, env=check_env(tmp_path))
    assert r.status == 1, r
    assert "seq_sleeps.fmsh: worst case 1s" in r.out
    assert "until_no_max.fmsh: worst case unbounded (1 problem)" in r.out


# --- the command-line forms and the builtin --------------------------------------------


def test_check_word_runs_a_file_named_check(tmp_path: Path) -> None:
    """`fmsh FILE` runs any FILE: with ./check present, `fmsh check x` runs it."""
    (tmp_path / "check").write_text('echo "ran check with $1"\n')
    (tmp_path / "x.fmsh").write_text("sleep 1\n")
    env = check_env(tmp_path)
    r = fmsh("check", "x.fmsh", cwd=tmp_path, env=env)
    assert (r.status, r.out) == (0, "ran check with x.fmsh\n"), r
    r = fmsh("--check", "x.fmsh", cwd=tmp_path, env=env)
    assert (r.status, r.out.splitlines()[0]) == (0, "x.fmsh: worst case 1s"), r
    (tmp_path / "check").unlink()
    (tmp_path / "check").mkdir()  # a directory is not a script: the word checks again
    r = fmsh("check", "x.fmsh", cwd=tmp_path, env=env)
    assert (r.status, r.out.splitlines()[0]) == (0, "x.fmsh: worst case 1s"), r


def test_builtin_gives_the_same_report(tmp_path: Path) -> None:
    env = check_env(tmp_path)
    for name, status in (("deploy.fmsh", 0), ("nonliteral.fmsh", 1)):
        command = fmsh("--check", name, cwd=HERE, env=env)
        builtin = fmsh("-c", f'check {name}; echo "status $?"', cwd=HERE, env=env)
        assert command.status == status
        assert builtin.out == command.out + f"status {status}\n", builtin
        as_json = fmsh("-c", f"check --json {name} > {tmp_path}/out.json", cwd=HERE, env=env)
        assert as_json.status == status
        assert json.loads((tmp_path / "out.json").read_text())["file"] == name
    r = fmsh("-c", 'check missing.fmsh; echo "status $?"', cwd=tmp_path, env=env)
    assert r.out == "status 2\n" and "missing.fmsh" in r.err, r
    r = fmsh("-c", "FMSH_AWAIT_TIMEOUT=30s check --json awaits.fmsh", cwd=HERE, env=env)
    assert json.loads(r.out)["worst_case"] == "7m15s", r


def test_help_mentions_check(tmp_path: Path) -> None:
    r = fmsh("--help", cwd=tmp_path, env=check_env(tmp_path))
    assert r.status == 0
    text = " ".join(r.out.split())  # click wraps the text
    assert "--check" in text and "fmsh check FILE" in text


def test_shell_start_does_not_import_the_check(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fmsh", "-c", "echo hi"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
    )
    assert proc.stdout == "hi\n", proc.stderr
    names = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.count("|") == 2}
    assert "fmsh" in names
    assert not {n for n in names if n.startswith("fmsh.check")}


# --- the Python API ---------------------------------------------------------------------


def test_api_check_program_and_check_file(tmp_path: Path) -> None:
    from fmsh.check import Defaults, check_file, check_program
    from fmsh.syntax.parser import parse_text

    report = check_program(parse_text("sleep 1\nwhile :; do sleep 1; done\n", "t.fmsh"), "t.fmsh", Defaults())
    assert report.bound is None and not report.bounded
    [(pos, message)] = report.diagnostics
    assert (pos.line, pos.col) == (2, 1) and "while loop" in message
    report = check_program(parse_text("retry 3 timeout 10s @web1 uptime\n", "t"), "t", Defaults(step=60, connect=5))
    assert report.bounded and report.bound == 33.0  # 3 × 10s + waits 1s + 2s
    assert [(s.pos.line, s.pos.col, s.poly.constant) for s in report.dominant] == [(1, 1, 33.0)]
    report = check_program(parse_text("@web1 uptime\n", "t"), "t", Defaults(step=60, connect=5))
    assert report.bound == 65.0
    script = tmp_path / "s.fmsh"
    script.write_text("for x in $(ls); do sleep 2; done\n")
    report = check_file(str(script), Defaults())
    assert report.bounded and report.bound is None and report.expression == "N1 × 2s"
    assert [(p.line, p.col) for p, _ in report.warnings] == [(1, 1)]
