"""The modifiers on one machine: `timeout` (checked against coreutils' own), `retry`,
`max`, how they compose, and what bad input says. Fan-outs with modifiers are in
test_remote_modifiers.py."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK
from sshd import wait_until

# Each line runs in bash (where `timeout` is coreutils') and in fmsh (where it is syntax).
COREUTILS_CASES = [
    "timeout 0.3 sleep 3; echo $?",
    "timeout 5 true; echo $?",
    "timeout 5 sh -c 'exit 3'; echo $?",
    "timeout 0 sh -c 'exit 4'; echo $?",
    "timeout -s INT 0.3 sleep 3; echo $?",
    "timeout -s KILL 0.3 sleep 3; echo $?",
    "timeout --signal=HUP 0.3 sleep 3; echo $?",
    "timeout -k 0.3 0.3 sh -c 'trap \"\" TERM; sleep 3'; echo $?",
    "timeout --preserve-status 0.3 sleep 3; echo $?",
    "timeout 0.3s sleep 3; echo $?",
    "timeout 0.01m sleep 3; echo $?",
    "timeout 0.3 sleep 3 | cat; echo $?",
]


@pytest.mark.parametrize("line", COREUTILS_CASES)
def test_timeout_answers_as_coreutils_does(bash_and_fmsh, line: str) -> None:  # type: ignore[no-untyped-def]
    bash, fmsh = bash_and_fmsh(line)
    if "| cat" in line:
        # coreutils' timeout is the pipeline's first stage; fmsh's applies to the pipeline.
        assert (bash.out, fmsh.out) == ("0\n", "124\n")
        return
    assert fmsh.out == bash.out
    assert fmsh.status == bash.status == 0


def test_timeout_bounds_blocks_functions_and_loops(fmsh) -> None:  # type: ignore[no-untyped-def]
    script = """
        timeout 0.3 { sleep 3; echo not here; }; echo block=$?
        f() { sleep 3; }
        timeout 0.3 f; echo function=$?
        timeout 0.3 while true; do :; done; echo loop=$?
        timeout 0.3 { while :; do sleep 0.05; done; }; echo nested=$?
        x=$(timeout 0.2 sleep 2; echo inside); echo "cmdsub=$? $x"
        timeout 2 { echo fast; }; echo fast=$?
    """
    start = time.monotonic()
    r = fmsh(script)
    elapsed = time.monotonic() - start
    assert r.out.split() == [
        "block=124",
        "function=124",
        "loop=124",
        "nested=124",
        "cmdsub=0",
        "inside",
        "fast",
        "fast=0",
    ]
    assert elapsed < 4
    assert TRACEBACK not in r.err


def test_the_timeout_stops_every_process_it_started(fmsh, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = f"{os.getpid()}.{time.monotonic_ns() % 1000}"
    r = fmsh(f"timeout 0.5 sh -c 'sleep 7{marker} & sleep 7{marker}; wait' | cat; echo $?")
    assert r.out == "124\n"
    time.sleep(0.2)
    left = subprocess.run(["pgrep", "-f", f"sleep 7{marker}"], capture_output=True, text=True).stdout
    assert left == ""


def test_the_outermost_passed_deadline_wins(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("timeout 0.3 { timeout 5 sleep 3; echo inner=$?; }; echo outer=$?")
    assert r.out == "outer=124\n"
    r = fmsh("timeout 5 { timeout 0.3 sleep 3; echo inner=$?; }; echo outer=$?")
    assert r.out == "inner=124\nouter=0\n"


def test_set_e_sees_the_timeout(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("set -e; timeout 0.2 sleep 2; echo not here")
    assert (r.out, r.status) == ("", 124)


def test_ctrl_c_reaches_commands_under_a_timeout(tmp_path: Path) -> None:
    """Under a deadline the commands run in process groups of their own; SIGINT to the
    shell is passed on to them, as the terminal would have sent it."""
    proc = subprocess.Popen(
        [*FMSH_ARGV, "-c", "timeout 30 sleep 20; echo status=$?"], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert wait_until(
        lambda: subprocess.run(["pgrep", "-P", str(proc.pid), "sleep"], capture_output=True).returncode == 0
    )
    start = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert time.monotonic() - start < 3
    assert proc.returncode == -signal.SIGINT and out == ""  # as bash: the shell dies of it too


# --- retry -------------------------------------------------------------------------------


def test_retry_tries_until_success_with_exponential_backoff(fmsh, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    r = fmsh("n=0; retry 4 backoff 100ms { n=$((n+1)); echo try $n; [ $n -ge 3 ]; }; echo status=$? n=$n")
    elapsed = time.monotonic() - start
    assert r.out.splitlines() == ["try 1", "try 2", "try 3", "status=0 n=3"]
    assert r.err.splitlines() == [
        "fmsh: retry: attempt 1 of 4 failed (status 1); trying again in 100ms",
        "fmsh: retry: attempt 2 of 4 failed (status 1); trying again in 200ms",
    ]
    assert elapsed >= 0.3


def test_retry_gives_up_with_the_last_status(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("n=0; retry 3 backoff 10ms..20ms { n=$((n+1)); st() { return $((n+4)); }; st; }; echo $? $n")
    assert r.out == "7 3\n"
    assert "trying again in 20ms" in r.err.splitlines()[1]


def test_retry_on_retries_only_the_listed_statuses(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("n=0; retry 3 backoff 10ms on 75 { n=$((n+1)); false; }; echo $? $n")
    assert (r.out, r.err) == ("1 1\n", "")
    r = fmsh("n=0; retry 3 backoff 10ms on 75,76 { n=$((n+1)); (exit 75); }; echo $? $n")
    assert r.out == "75 3\n"


def test_retry_and_timeout_compose_outermost_first(fmsh) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    r = fmsh("retry 2 backoff 10ms timeout 0.2 sleep 2; echo each=$?")
    assert r.out == "each=124\n" and r.err.count("failed (status 124)") == 1
    r = fmsh("timeout 0.5 retry 50 backoff 10ms..50ms false; echo all=$?")
    assert r.out == "all=124\n"
    assert time.monotonic() - start < 3


def test_retry_under_set_e_goes_on_after_a_failed_attempt(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("set -e; n=0; retry 3 backoff 10ms { n=$((n+1)); [ $n -ge 2 ]; }; echo ok $n")
    assert r.out == "ok 2\n"
    r = fmsh("set -e; retry 2 backoff 10ms false; echo not here")
    assert (r.out, r.status) == ("", 1)


def test_jitter_keeps_waits_within_the_backoff(fmsh) -> None:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    r = fmsh("retry 3 backoff 200ms jitter false")
    elapsed = time.monotonic() - start
    assert r.status == 1
    assert 0.3 <= elapsed < 1.5  # waits of 100..200ms then 200..400ms


# --- max ---------------------------------------------------------------------------------


def test_max_bounds_a_loop(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("i=0; max 3 while true; do i=$((i+1)); done; echo status=$? i=$i")
    assert r.out == "status=124 i=3\n"
    assert r.err == "fmsh: -c:1:6: the loop ran its `max 3' rounds; stopped\n"
    r = fmsh("i=0; max 5 until [ $i -ge 2 ]; do i=$((i+1)); done; echo status=$? i=$i")
    assert (r.out, r.err) == ("status=0 i=2\n", "")
    r = fmsh("max 2 for ((i=0;;i++)); do echo $i; done; echo $?")
    assert r.out == "0\n1\n124\n"


def test_max_applies_to_the_loop_it_is_written_on_only(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("n=0; max 2 while [ $n -lt 2 ]; do n=$((n+1)); for k in 1 2 3 4; do :; done; done; echo $? $n $k")
    assert r.out == "0 2 4\n"


# --- words that stay commands ------------------------------------------------------------


def test_modifier_words_remain_usable_as_names(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("retry() { echo called $1; }; retry now; need() { echo need $*; }; need more; max=3; echo $max")
    assert r.out == "called now\nneed more\n3\n"
    r = fmsh("echo timeout retry need max await")
    assert r.out == "timeout retry need max await\n"
    # `retry ID --from STEP` is the task builtin: an option (or nothing) follows its number
    r = fmsh("retry 999999 --from 1; echo st=$?")
    assert r.out == "st=1\n" and r.err.startswith("fmsh: retry: ") and "must follow" not in r.err


# --- bad input ---------------------------------------------------------------------------

BAD = [
    ("timeout abc sleep 1", 9, "`abc': not a duration"),
    ("retry -1 true", 7, "`-1': not a number of attempts"),
    ("retry 3 backoff 5s..1s true", 17, "backoff 5s..1s: the shortest wait comes first"),
    ("retry 3 backoff 1s..x true", 21, "`x': not a duration"),
    ("retry 2 on 300 true", 12, "not a list of exit statuses"),
    ("need 120% @h true", 6, "not a number of hosts or a percentage"),
    ("max 3 echo hi", 1, "`max N' bounds a loop"),
    ("timeout -s NOPE 5 true", 12, "`NOPE': not a signal"),
    ("timeout 5", 1, "a command must follow `timeout'"),
    ("retry 3 backoff 1s", 1, "a command must follow"),
    ("await foo bar", 7, "await `foo': not a kind of wait"),
    ("await port db:5432 every soon", 26, "`soon': not a duration"),
    ("await http http://x status 999", 28, "not an HTTP status"),
]


@pytest.mark.parametrize(("line", "col", "message"), BAD)
def test_bad_modifiers_are_positioned_errors(tmp_path: Path, line: str, col: int, message: str) -> None:
    script = tmp_path / "bad.fmsh"
    script.write_text(f"echo first\n{line}\n")
    r = subprocess.run([*FMSH_ARGV, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""  # nothing ran: the script is parsed whole first
    first, shown, caret = r.stderr.splitlines()[:3]
    assert first.startswith(f"fmsh: {script}:2:{col}: ") and message in first, r.stderr
    assert shown.strip() == line
    assert caret.index("^") - caret.index(caret.strip()[0]) >= 0


def test_bad_values_from_variables_are_reported_when_run(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("t=soon; timeout $t true; echo $?; n=x; retry $n true; echo $?")
    assert r.out == "2\n2\n"
    assert "timeout: `soon': not a duration" in r.err
    assert "retry `x': not a whole number, 1 or more" in r.err
    assert TRACEBACK not in r.err


def test_modifiers_after_bang_and_time(fmsh) -> None:  # type: ignore[no-untyped-def]
    """`! retry 3 cmd` negates the modified pipeline (it is not the task command `retry`)."""
    r = fmsh("! retry 2 backoff 10ms false; echo $?; ! timeout 1s true | cat; echo $?; time -p timeout 1s true")
    assert r.out == "0\n1\n", r.err
    assert r.err.count("retry: attempt 1 of 2 failed") == 1 and "real" in r.err
