"""Pipelines and lists: real OS pipes between concurrent stages, builtins, functions and
compound commands as stages, `|&`, PIPESTATUS, `!`, pipefail, SIGPIPE, background `&`
with $! and wait, subshells, and `&&`/`||` chains.

Cases run the same text in bash and fmsh and require equal stdout and status; each also
states the stdout a user expects. fmsh runs the last stage of a pipeline in the shell
itself (lastpipe on by default), so the cases that depend on it set the option explicitly.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from shell_cases import Table, check_case

Runner = Any  # the bash_and_fmsh / fmsh fixtures


# --- real pipes --------------------------------------------------------------------------------

OS_PIPES = Table(
    ("infinite-producer", "yes | head -3", "y\ny\ny\n"),
    ("external-chain", "echo a | cat | cat | tr a A", "A\n"),
    ("sort-chain", "printf '3\\n1\\n2\\n' | sort | head -1", "1\n"),
    ("middle-stage-stdin-is-pipe", "echo x | readlink /proc/self/fd/0 | cut -c1-5", "pipe:\n"),
    ("middle-stage-stdout-is-pipe", "echo x | readlink /proc/self/fd/1 | cut -c1-5", "pipe:\n"),
    ("first-stage-stdout-is-pipe", "ls -l /proc/self/fd/1 | grep -c -- '-> pipe:'", "1\n"),
    ("group-stage-stdin-is-pipe", "echo a | { readlink /proc/self/fd/0 | cut -c1-5; }", "pipe:\n"),
    ("stderr-not-piped", "ls /nonexist 2>/dev/null | wc -l", "0\n"),
    ("large-data", "seq 1 200000 | cat | tail -1", "200000\n"),
    ("tee", "echo a | tee f | tr a b; cat f", "b\na\n"),
)


@pytest.mark.parametrize("table, case", OS_PIPES.params())
def test_os_pipes(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_stages_run_concurrently(fmsh: Runner) -> None:
    start = time.monotonic()
    r = fmsh("sleep 0.5 | sleep 0.5 | sleep 0.5; echo done")
    assert r.out == "done\n"
    assert time.monotonic() - start < 1.2


def test_pipeline_waits_for_every_stage(fmsh: Runner, tmp_path: Any) -> None:
    r = fmsh("{ sleep 0.3; echo late > f; } | true; cat f")
    assert r.out == "late\n"


# --- stages that are not programs --------------------------------------------------------------

STAGES = Table(
    ("builtin-first", "echo abc | tr a-z A-Z", "ABC\n"),
    ("builtin-last", 'shopt -s lastpipe; echo abc | read x; echo "[$x]"', "[abc]\n"),
    ("builtin-middle", "printf 'a\\nb\\n' | while read l; do echo \"w:$l\"; done | tr a-z A-Z", "W:A\nW:B\n"),
    ("function-last", "f(){ tr a-z A-Z; }; echo abc | f", "ABC\n"),
    ("function-middle", "f(){ sed 's/^/> /'; }; printf 'b\\na\\n' | f | sort", "> a\n> b\n"),
    ("group", 'echo abc | { read x; echo "[$x]"; }', "[abc]\n"),
    ("group-two-reads", "{ echo a; echo b; } | { read x; read y; echo $y$x; }", "ba\n"),
    ("subshell", "printf 'b\\na\\n' | sort | (read first; echo $first)", "a\n"),
    ("for-loop", "for i in 3 1 2; do echo $i; done | sort | tr '\\n' ' '; echo", "1 2 3 \n"),
    ("while-loop-producer", "i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done | wc -l", "3\n"),
    ("if", "if true; then echo yes; fi | tr y Y", "Yes\n"),
    ("case", "case a in a) echo matched;; esac | tr a-z A-Z", "MATCHED\n"),
    ("command-substitution-inside", "x=$(echo a | tr a b); echo $x", "b\n"),
    ("pipeline-in-command-substitution", "echo $(echo a | cat)", "a\n"),
    ("non-last-stage-is-subshell", "x=1; { x=2; } | true; echo $x", "1\n"),
    ("last-stage-in-shell-with-lastpipe", "shopt -s lastpipe; x=1; echo | { x=2; }; echo $x", "2\n"),
    ("last-stage-subshell-without-lastpipe", "shopt -u lastpipe; x=1; echo | { x=2; }; echo $x", "1\n"),
    ("lastpipe-exit-ends-shell", 'shopt -s lastpipe; cat /dev/null | exit 3; echo "still $?"', "", 3),
    ("no-lastpipe-exit-in-subshell", 'shopt -u lastpipe; cat /dev/null | exit 3; echo "still $?"', "still 3\n"),
)


@pytest.mark.parametrize("table, case", STAGES.params())
def test_stages(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_lastpipe_on_by_default(fmsh: Runner) -> None:
    """fmsh's deliberate difference from bash: the last stage runs in the shell."""
    r = fmsh("x=1; echo 2 | read x; echo $x; printf 'a\\nb\\n' | mapfile -t arr; echo ${#arr[@]}")
    assert r.out == "2\n2\n"


# --- |& ----------------------------------------------------------------------------------------

BOTH = Table(
    ("external", "ls /nonexist |& grep -c 'No such'", "1\n"),
    ("function", "f(){ echo out; echo err >&2; }; f |& sort", "err\nout\n"),
    ("stdout-too", "echo a |& cat", "a\n"),
    ("same-as-2-and-1", "ls /nonexist 2>&1 | wc -l; ls /nonexist |& wc -l", "1\n1\n"),
)


@pytest.mark.parametrize("table, case", BOTH.params())
def test_pipe_both(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- statuses ----------------------------------------------------------------------------------

STATUSES = Table(
    ("status-of-last", "false | true; echo $?; true | false; echo $?", "0\n1\n"),
    ("pipestatus", "true | false | true; echo ${PIPESTATUS[@]}", "0 1 0\n"),
    ("pipestatus-subshells", '(exit 2) | (exit 3); echo "${PIPESTATUS[@]} $?"', "2 3 3\n"),
    ("pipestatus-count", "true | true | true; echo ${#PIPESTATUS[@]}", "3\n"),
    ("pipestatus-simple-command", "false; echo ${PIPESTATUS[@]}", "1\n"),
    ("pipestatus-replaced", "false | false; true; echo ${PIPESTATUS[@]}", "0\n"),
    ("pipestatus-first", "(exit 3) | true; echo ${PIPESTATUS[0]}", "3\n"),
    ("negate-true", "! true; echo $?", "1\n"),
    ("negate-false", "! false; echo $?", "0\n"),
    ("negate-pipeline", "! true | false; echo $?; ! false | true; echo $?", "0\n1\n"),
    ("negate-group", "! { false; }; echo $?", "0\n"),
    ("pipefail-off", "false | true; echo $?", "0\n"),
    ("pipefail-rightmost-failure", "set -o pipefail; (exit 2) | (exit 3) | true; echo $?", "3\n"),
    ("pipefail-one-failure", "set -o pipefail; false | true; echo $?; true | false | true; echo $?", "1\n1\n"),
    ("pipefail-all-ok", "set -o pipefail; true | true; echo $?", "0\n"),
    ("pipefail-negated", "set -o pipefail; ! false | true; echo $?", "0\n"),
    ("pipefail-pipestatus-unchanged", "set -o pipefail; false | true; echo ${PIPESTATUS[@]}", "1 0\n"),
    ("sigpipe-external", "yes | head -1 > /dev/null; echo ${PIPESTATUS[@]}", "141 0\n"),
    ("sigpipe-slow-reader", "yes | (sleep 0.1; head -1) > /dev/null; echo ${PIPESTATUS[0]}", "141\n"),
    ("sigpipe-three-stages", "yes | head -1 | cat; echo ${PIPESTATUS[@]}", "y\n141 0 0\n"),
    ("sigpipe-builtin-loop", "while :; do echo y; done | head -1; echo ${PIPESTATUS[@]}", "y\n141 0\n"),
    ("sigpipe-function", "f(){ while :; do echo y; done; }; f | head -1; echo ${PIPESTATUS[@]}", "y\n141 0\n"),
    ("sigpipe-with-pipefail", "set -o pipefail; yes | head -1 >/dev/null; echo $?", "141\n"),
    ("sigpipe-no-message", "seq 1 100000 | head -1 2>&1", "1\n"),
)


@pytest.mark.parametrize("table, case", STATUSES.params())
def test_statuses(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_sigpipe_is_silent(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("yes | head -1; while :; do echo y; done | head -1")
    assert fmsh.out == bash.out == "y\ny\n"
    assert fmsh.err == bash.err == ""


# --- background --------------------------------------------------------------------------------

BACKGROUND = Table(
    ("bang-and-wait", "sleep 0.1 & p=$!; wait $p; echo $?", "0\n"),
    ("status-via-wait", "(exit 3) & wait $!; echo $?", "3\n"),
    ("pipeline-in-background", "echo a | tr a b > f & wait; cat f", "b\n"),
    ("bang-is-last-stage", "sleep 0.1 | (exit 4) & wait $!; echo $?", "4\n"),
    ("group-in-background", "{ echo in-bg > f; } & wait; cat f", "in-bg\n"),
    ("does-not-change-parent", "x=1; { x=2; } & wait; echo $x", "1\n"),
    ("list-continues", "sleep 0.2 & echo now; wait", "now\n"),
    ("status-is-zero", "false & echo $?; wait", "0\n"),
    ("and-list-in-background", "true && echo bg > f & wait; cat f", "bg\n"),
    ("stdin-from-devnull", "readlink /proc/self/fd/0 & wait", "/dev/null\n"),
    batch=False,
)


@pytest.mark.parametrize("table, case", BACKGROUND.params())
def test_background(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_background_does_not_block(fmsh: Runner) -> None:
    start = time.monotonic()
    r = fmsh("sleep 3 & p=$!; echo started; kill $p; wait $p; echo $?")
    assert r.out == "started\n143\n"
    assert time.monotonic() - start < 2.5


# --- subshells ---------------------------------------------------------------------------------

SUBSHELLS = Table(
    ("variables", 'x=1; (x=2; echo "in $x"); echo "out $x"', "in 2\nout 1\n"),
    ("cd", 'start=$PWD; (cd /; echo "$PWD"); [ "$PWD" = "$start" ] && echo kept', "/\nkept\n"),
    ("functions", "(f(){ :; }); type -t f || echo no-f", "no-f\n"),
    ("options", "(set -e; set -o pipefail); case $- in *e*) echo e;; *) echo no-e;; esac", "no-e\n"),
    ("exit-status", "(exit 4); echo $?", "4\n"),
    ("exit-only-subshell", 'echo start; (echo sub; exit 1); echo "after $?"', "start\nsub\nafter 1\n"),
    ("traps", "(trap 'echo sub-exit' EXIT; echo sub); echo main", "sub\nsub-exit\nmain\n"),
    ("umask", "umask 022; (umask 077); umask", "0022\n"),
    ("positional", "set -- a b; (set -- x; echo $1); echo $1", "x\na\n"),
    ("nested", "x=1; (x=2; (x=3; echo $x); echo $x); echo $x", "3\n2\n1\n"),
    ("sees-parent-variables", "x=1; (echo $x)", "1\n"),
    ("output-order", "echo 1; (echo 2); echo 3", "1\n2\n3\n"),
    ("redirected", "(echo a; echo b) | wc -l", "2\n"),
    ("pid-differs-bashpid", "p=$BASHPID; (q=$BASHPID; [ $p != $q ] && echo differs)", "differs\n"),
    ("dollar-dollar-same", "p=$$; (q=$$; [ $p = $q ] && echo same)", "same\n"),
    batch=False,
)


@pytest.mark.parametrize("table, case", SUBSHELLS.params())
def test_subshells(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- && and || ---------------------------------------------------------------------------------

AND_OR = Table(
    ("and-runs", "true && echo yes", "yes\n"),
    ("and-skips", "false && echo yes; echo $?", "1\n"),
    ("or-runs", "false || echo rescued", "rescued\n"),
    ("or-skips", "true || echo no; echo $?", "0\n"),
    ("chain", "true && echo a || echo b; false && echo c || echo d", "a\nd\n"),
    ("left-associative", "false || false && echo e; true || echo f && echo g", "g\n"),
    ("false-or-true-and", "false || true && echo e", "e\n"),
    ("status-of-last-run", "false && true; echo $?; true || false; echo $?", "1\n0\n"),
    ("with-pipelines", "echo a | grep -q a && echo found | tr f F", "Found\n"),
    ("multiline", "true &&\necho next ||\necho no", "next\n"),
    ("with-groups", "false || { echo g1; echo g2; }", "g1\ng2\n"),
    ("with-negation", "! false && echo neg", "neg\n"),
    ("status-after-or-chain", "false || false; echo $?", "1\n"),
)


@pytest.mark.parametrize("table, case", AND_OR.params())
def test_and_or(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_time_reports_in_bash_and_posix_formats(fmsh) -> None:  # type: ignore[no-untyped-def]
    import re

    r = fmsh("time -p sleep 0.1; time true")
    posix = r"real 0\.1\d\nuser \d+\.\d\d\nsys \d+\.\d\d\n"
    bash = r"\nreal\t0m0\.\d{3}s\nuser\t0m0\.\d{3}s\nsys\t0m0\.\d{3}s\n"
    assert re.fullmatch(posix + bash, r.err), r.err
