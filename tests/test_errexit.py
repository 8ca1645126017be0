"""`set -e` (errexit) and its corners, as bash has them: where a failure ends the shell
and where it does not (conditions, non-final && || elements, `!`), functions called in a
condition, subshells, command substitution, pipefail, `set +e`, and the ERR trap.

Every case runs in bash and in fmsh and requires the same stdout and exit status, and
states what they are.
"""

from __future__ import annotations

from typing import Any

import pytest
from shell_cases import Table, check, check_case

Runner = Any  # the bash_and_fmsh / fmsh fixtures


EXITS = Table(
    ("simple-command", "set -e; echo a; false; echo b", "a\n", 1),
    ("long-option", "set -o errexit; false; echo after", "", 1),
    ("status-kept", "set -e; (exit 3); echo after", "", 3),
    ("newline-separated", "set -e\nfalse\necho after", "", 1),
    ("external-command", "set -e; ls /nonexist 2>/dev/null; echo after", "", 2),
    ("command-not-found", "set -e; cmd_not_found_xyz 2>/dev/null; echo after", "", 127),
    ("prefix-assignment", "set -e; x=1 false; echo after", "", 1),
    ("assignment-with-failing-substitution", "set -e; x=$(false); echo after", "", 1),
    ("test-builtin", "set -e; [ 1 = 2 ]; echo after", "", 1),
    ("double-brackets", "set -e; [[ 1 = 2 ]]; echo after", "", 1),
    ("arithmetic-command", "set -e; ((0)); echo after", "", 1),
    ("let", "set -e; let 0; echo after", "", 1),
    ("eval", "set -e; eval false; echo after", "", 1),
    ("function-call", "set -e; f(){ false; echo in-f; }; f; echo after", "", 1),
    ("function-return", "set -e; f(){ return 1; }; f; echo after", "", 1),
    ("function-and-list-last", "set -e; f(){ false && true; }; f; echo after", "", 1),
    ("function-test-and-last", "set -e; f(){ [ -n '' ] && echo x; }; f; echo after", "", 1),
    ("group", "set -e; { false; echo in-group; }; echo after", "", 1),
    ("for-body", "set -e; for i in 1; do false; done; echo after", "", 1),
    ("while-body", "set -e; while true; do false; break; done; echo after", "", 1),
    ("if-body", "set -e; if true; then false; fi; echo after", "", 1),
    ("case-body", "set -e; case x in x) false;; esac; echo after", "", 1),
    ("final-and-element", "set -e; true && false; echo after", "", 1),
    ("final-or-element", "set -e; false || false; echo after", "", 1),
    ("pipeline-last-stage", "set -e; true | false; echo after", "", 1),
    ("wait-for-failed-job", "set -e; false & wait $!; echo after", "", 1),
    ("redirect-failure", "set -e; echo x > /nonexist/f 2>/dev/null; echo after", "", 1),
    ("subshell", "set -e; (false); echo after", "", 1),
    ("subshell-stops-inside", "set -e; (false; echo inner); echo after", "", 1),
    ("status-not-printed", "set -e; false; echo $?", "", 1),
)


@pytest.mark.parametrize("table, case", EXITS.params())
def test_failure_exits(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


DOES_NOT_EXIT = Table(
    ("if-condition", "set -e; if false; then echo t; else echo f; fi; echo after", "f\nafter\n", 0),
    (
        "elif-condition",
        "set -e; if false; then :; elif false; then :; else echo else; fi; echo after",
        "else\nafter\n",
        0,
    ),
    ("while-condition", "set -e; while false; do :; done; echo after", "after\n", 0),
    ("until-condition", "set -e; until true; do :; done; echo after", "after\n", 0),
    ("until-false-condition", "set -e; until false; do break; done; echo after", "after\n", 0),
    ("while-or-condition", "set -e; while false || false; do :; done; echo after", "after\n", 0),
    ("and-first-element", "set -e; false && echo x; echo after", "after\n", 0),
    ("or-first-element", "set -e; false || echo rescued; echo after", "rescued\nafter\n", 0),
    ("test-and", "set -e; [ -n '' ] && echo x; echo after", "after\n", 0),
    ("negated-true", "set -e; ! true; echo after", "after\n", 0),
    ("negated-false", "set -e; ! false; echo after", "after\n", 0),
    ("pipeline-not-last", "set -e; false | true; echo after", "after\n", 0),
    ("pipeline-not-last-status", 'set -e; false | false | true; echo "after $?"', "after 0\n", 0),
    ("group-in-or", "set -e; { false; } || echo alt; echo after", "alt\nafter\n", 0),
    ("background", "set -e; false & echo after; wait", "after\n", 0),
    ("declare-masks", "set -e; declare x=$(false); echo declare-masks", "declare-masks\n", 0),
    ("local-masks", "set -e; f(){ local y=$(false); echo local-masks; }; f", "local-masks\n", 0),
    ("echo-of-failing-substitution", "set -e; echo $(false); echo after", "\nafter\n", 0),
    ("substitution-in-condition", "set -e; v=$(false) && echo no || echo yes", "yes\n", 0),
    ("substitution-status-caught", 'set -e; x=$(exit 5) || echo "caught $?"; echo after', "caught 5\nafter\n", 0),
)


@pytest.mark.parametrize("table, case", DOES_NOT_EXIT.params())
def test_failure_does_not_exit(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


FUNCTIONS_IN_CONDITIONS = Table(
    ("if", "set -e; f(){ false; echo in-f; }; if f; then echo ok; fi; echo after", "in-f\nok\nafter\n", 0),
    ("or", "set -e; f(){ false; echo in-f; }; f || echo caught; echo after", "in-f\nafter\n", 0),
    ("and", "set -e; f(){ false; }; g(){ f; echo in-g; }; g && echo ok; echo after", "in-g\nok\nafter\n", 0),
    ("negated", "set -e; f(){ false; echo in-f; }; ! f; echo after", "in-f\nafter\n", 0),
    ("while", "set -e; f(){ false; echo in-f; return 1; }; while f; do :; done; echo after", "in-f\nafter\n", 0),
    ("subshell-in-if", "set -e; if (false; echo in-sub); then echo t; fi", "in-sub\nt\n", 0),
    ("set-e-inside-subshell-in-or", "set -e; (set -e; false; echo x) || echo y; echo after", "x\nafter\n", 0),
)


@pytest.mark.parametrize("table, case", FUNCTIONS_IN_CONDITIONS.params())
def test_ignored_inside_condition_context(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Inside a function or subshell run as a condition, errexit is ignored throughout."""
    check_case(table, case, tmp_path_factory)


COMMAND_SUBSTITUTION = Table(
    ("not-inherited", 'set -e; x=$(false; echo cs); echo "x=$x"', "x=cs\n", 0),
    ("not-inherited-in-echo", 'set -e; echo "$(false; echo cs)"; echo after', "cs\nafter\n", 0),
    ("set-e-inside", 'set -e; x=$(set -e; false; echo cs); echo "x=$x"', "", 1),
    ("inherit_errexit", 'set -e; shopt -s inherit_errexit; x=$(false; echo cs); echo "x=$x"', "", 1),
)


@pytest.mark.parametrize("table, case", COMMAND_SUBSTITUTION.params())
def test_command_substitution(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """bash clears errexit in a command substitution unless inherit_errexit is set."""
    check_case(table, case, tmp_path_factory)


PIPEFAIL = Table(
    ("first-stage-fails", "set -eo pipefail; false | true; echo after", "", 1),
    ("middle-stage-fails", "set -e -o pipefail; true | false | true; echo after", "", 1),
    ("status-is-rightmost-failure", "set -eo pipefail; (exit 2) | (exit 3) | true; echo after", "", 3),
    ("in-condition", "set -eo pipefail; if false | true; then echo t; else echo f; fi", "f\n", 0),
    ("negated", "set -eo pipefail; ! false | true; echo after", "after\n", 0),
    ("all-succeed", "set -eo pipefail; true | true; echo after", "after\n", 0),
    ("sigpipe-counts", "set -eo pipefail; yes | head -1 >/dev/null; echo after", "", 141),
)


@pytest.mark.parametrize("table, case", PIPEFAIL.params())
def test_pipefail(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


SET_PLUS_E = Table(
    ("turned-off", "set -e; set +e; false; echo after", "after\n", 0),
    ("too-late", "set -e; false; set +e; echo after", "", 1),
    ("turned-on-later", "false; echo one; set -e; false; echo two", "one\n", 1),
    ("off-inside-function", "set -e; f(){ set +e; false; echo in-f; }; f; echo after", "in-f\nafter\n", 0),
    ("on-in-subshell-only", '(set -e; false; echo no); echo "after $?"', "after 1\n", 0),
    ("plus-o", "set -e; set +o errexit; false; echo after", "after\n", 0),
)


@pytest.mark.parametrize("table, case", SET_PLUS_E.params())
def test_set_plus_e(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


ERR_TRAP = Table(
    ("runs-before-exit", "set -e; trap 'echo ERR-trap' ERR; false; echo after", "ERR-trap\n", 1),
    ("sees-status", "set -e; trap 'echo \"ERR $?\"' ERR; f(){ return 3; }; f", "ERR 3\n", 3),
    (
        "not-in-conditions",
        "set -e; trap 'echo ERR' ERR; if false; then :; fi; false || true; ! false; echo after",
        "after\n",
        0,
    ),
    ("exit-trap-too", "set -e; trap 'echo err' ERR; trap 'echo exit' EXIT; false", "err\nexit\n", 1),
    ("without-set-e", "trap 'echo ERR-trap' ERR; false; echo after", "ERR-trap\nafter\n", 0),
    (
        "without-set-e-each-failure",
        "trap 'echo \"ERR $?\"' ERR; false; (exit 2); true; echo done",
        "ERR 1\nERR 2\ndone\n",
        0,
    ),
    ("without-set-e-not-for-and-list", "trap 'echo ERR' ERR; false && true; echo after", "after\n", 0),
    batch=False,
)


@pytest.mark.parametrize("table, case", ERR_TRAP.params())
def test_err_trap(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_exit_trap_after_errexit(bash_and_fmsh: Runner) -> None:
    check(bash_and_fmsh, "set -e; trap 'echo \"exit-trap $?\"' EXIT; false", "exit-trap 1\n", 1)


def test_errexit_reported_in_dollar_dash(bash_and_fmsh: Runner) -> None:
    check(
        bash_and_fmsh,
        "set -e; case $- in *e*) echo on;; esac; set +e; case $- in *e*) ;; *) echo off;; esac",
        "on\noff\n",
        0,
    )
