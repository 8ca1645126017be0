"""Builtins of control flow and command execution: `true` `false` `:` `break` `continue`
`return` `exit` `eval` `source`/`.` `exec` `command` `builtin` `let`.

Cases run the same text in bash and fmsh and require equal stdout and status; each also
states the stdout a user expects.
"""

from __future__ import annotations

from typing import Any

import pytest
from shell_cases import Table, check_case

Runner = Any  # the bash_and_fmsh / fmsh fixtures


# --- true false : ------------------------------------------------------------------------------

SIMPLE = Table(
    ("true", "true; echo $?", "0\n"),
    ("false", "false; echo $?", "1\n"),
    ("colon", ": ignored args; echo $?", "0\n"),
    ("colon-expands-arguments", ": ${x:=assigned}; echo $x", "assigned\n"),
    ("true-ignores-args", "true --help; echo $?", "0\n"),
    ("false-ignores-args", "false --help; echo $?", "1\n"),
    ("colon-redirection-creates-file", ": > made; [ -f made ] && echo made", "made\n"),
    ("while-colon", "i=0; while :; do i=$((i+1)); [ $i = 3 ] && break; done; echo $i", "3\n"),
)


@pytest.mark.parametrize("table, case", SIMPLE.params())
def test_true_false_colon(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- break / continue ----------------------------------------------------------------------------

LOOPS = Table(
    ("break", "for i in 1 2 3; do [ $i = 2 ] && break; echo $i; done; echo end", "1\nend\n"),
    ("continue", "for i in 1 2 3; do [ $i = 2 ] && continue; echo $i; done", "1\n3\n"),
    ("break-while", "while :; do break; done; echo ok", "ok\n"),
    ("continue-until", "i=0; until [ $i -ge 3 ]; do i=$((i+1)); [ $i = 2 ] && continue; echo $i; done", "1\n3\n"),
    (
        "break-2",
        "for i in 1 2; do for j in 1 2; do for k in 1 2; do echo $i$j$k; break 2; done; done; done",
        "111\n211\n",
    ),
    ("continue-2", "for i in a b; do for j in 1 2; do continue 2; echo no; done; echo no2; done; echo done", "done\n"),
    (
        "mixed-levels",
        (
            "for i in 1 2 3; do for j in a b; do [ $j = b ] && continue 2; [ $i = 3 ] && break 2;"
            " echo $i$j; done; done; echo end"
        ),
        "1a\n2a\nend\n",
    ),
    ("break-more-than-depth", 'for i in 1 2 3; do break 5; done; echo "i=$i"', "i=1\n"),
    ("break-in-case", "for i in 1 2; do case $i in 1) break;; esac; done; echo $i", "1\n"),
    ("break-in-subshell-is-local", "for i in 1 2; do (break); echo $i; done", "1\n2\n"),
    ("break-in-function-does-not-break-caller", "f(){ break; }; for i in 1 2; do f; echo $i; done", "1\n2\n"),
    ("loop-status-after-break", "for i in 1; do false; break; done; echo $?", "0\n"),
)


@pytest.mark.parametrize("table, case", LOOPS.params())
def test_break_continue(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_break_outside_loop(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("break; echo $?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("0\n", 0)
    assert "only meaningful in a `for', `while', or `until' loop" in fmsh.err


def test_break_bad_count_is_fatal(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("for i in 1; do break x; done; echo after")
    assert fmsh.out == bash.out == ""
    assert fmsh.status != 0
    assert "numeric argument required" in fmsh.err


# --- return ------------------------------------------------------------------------------------

RETURN = Table(
    ("value", "f(){ return 3; }; f; echo $?", "3\n"),
    ("default-is-last-status", "f(){ false; return; }; f; echo $?", "1\n"),
    ("default-after-subshell", "f(){ (exit 7); return; }; f; echo $?", "7\n"),
    ("no-return-last-command", "f(){ echo x; false; }; f; echo $?", "x\n1\n"),
    ("stops-function", "f(){ echo a; return; echo b; }; f", "a\n"),
    ("modulo-256", "f(){ return 300; }; f; echo $?", "44\n"),
    ("negative", "f(){ return -1; }; f; echo $?", "255\n"),
    ("from-loop-in-function", "f(){ for i in 1 2 3; do [ $i = 2 ] && return 9; echo $i; done; }; f; echo $?", "1\n9\n"),
    ("in-if-condition", "f(){ return 1; }; if f; then echo yes; else echo no; fi", "no\n"),
    ("nested-functions", 'g(){ return 4; }; f(){ g; echo "g=$?"; return 5; }; f; echo $?', "g=4\n5\n"),
    ("from-eval-in-function", "f(){ eval 'return 5'; echo no; }; f; echo $?", "5\n"),
)


@pytest.mark.parametrize("table, case", RETURN.params())
def test_return(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_return_non_numeric(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("f(){ return abc; }; f; echo $?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("2\n", 0)
    assert "numeric argument required" in fmsh.err


# --- exit --------------------------------------------------------------------------------------

EXIT = Table(
    ("value", "exit 3; echo no", "", 3),
    ("default-is-last-status", "false; exit", "", 1),
    ("zero", "echo a; exit 0; echo b", "a\n", 0),
    ("modulo-256", "exit 256", "", 0),
    ("negative", "(exit -1); echo $?", "255\n", 0),
    ("in-subshell-only-leaves-subshell", '(exit 4); echo "after $?"', "after 4\n", 0),
    ("in-function-leaves-shell", "f(){ exit 6; }; f; echo no", "", 6),
    ("runs-exit-trap", "trap 'echo bye' EXIT; exit 2", "bye\n", 2),
    ("in-command-substitution", 'x=$(echo in; exit 3; echo no); echo "$x $?"', "in 3\n", 0),
    ("too-many-arguments", "exit 1 2; echo $?", "", 1),
    batch=False,
)


@pytest.mark.parametrize("table, case", EXIT.params())
def test_exit(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_exit_non_numeric(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("exit abc; echo no")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("", 2)
    assert "numeric argument required" in fmsh.err


# --- eval --------------------------------------------------------------------------------------

EVAL = Table(
    ("simple", "eval 'x=5; echo $x'", "5\n"),
    ("joins-arguments", "eval echo a '\"b  c\"'", "a b  c\n"),
    ("joins-with-space", 'eval echo a "b  c"', "a b c\n"),
    ("status", "eval false; echo $?", "1\n"),
    ("no-args", "eval; echo $?", "0\n"),
    ("empty", "eval ''; echo $?", "0\n"),
    ("several-commands", "cmd='echo one; echo two'; eval \"$cmd\"", "one\ntwo\n"),
    ("indirect-assignment", 'x=3; name=y; eval "$name=\\$x"; echo $y', "3\n"),
    ("defines-function", "eval 'f(){ echo func; }'; f", "func\n"),
    ("loop", "eval 'for i in 1 2; do echo $i; done'", "1\n2\n"),
    ("arithmetic", "eval 'echo $((1+2))'", "3\n"),
    ("positional", "set -- 'a b' c; eval 'echo \"$1\"'", "a b\n"),
    ("exit", "eval 'exit 4'; echo no", "", 4),
    ("double-dash", "eval -- echo ok", "ok\n"),
    ("quoting-round-trip", 'v="it\'s \\"q\\""; eval "w=${v@Q}"; [ "$v" = "$w" ] && echo same', "same\n"),
)


@pytest.mark.parametrize("table, case", EVAL.params())
def test_eval(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_eval_syntax_error(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("eval 'if'; echo \"rc=$?\"")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("rc=2\n", 0)
    assert fmsh.err


# --- source / . ----------------------------------------------------------------------------------

SOURCE = Table(
    ("dot", "echo 'echo sourced' > s.sh; . ./s.sh", "sourced\n"),
    ("source", "echo 'echo sourced' > s.sh; source ./s.sh", "sourced\n"),
    ("defines-in-current-shell", "printf 'f(){ echo in-f; }\\nV=1\\n' > lib.sh; . ./lib.sh; f; echo $V", "in-f\n1\n"),
    ("args", "echo 'echo \"$#: $*\"' > s.sh; source ./s.sh a b", "2: a b\n"),
    ("args-restored", 'echo \'echo "$#: $*"\' > s.sh; set -- a b c; . ./s.sh x; echo "$#: $*"', "1: x\n3: a b c\n"),
    ("no-args-sees-callers", "echo 'echo \"$1\"' > s.sh; set -- outer; . ./s.sh", "outer\n"),
    (
        "shift-without-args-is-callers",
        "echo 'shift; echo $*' > s.sh; set -- a b c; . ./s.sh; echo \"$*\"",
        "b c\nb c\n",
    ),
    ("status-of-last-command", "echo false > s.sh; . ./s.sh; echo $?", "1\n"),
    ("return-stops-file", "printf 'x=1\\nreturn 4\\nx=2\\n' > s.sh; . ./s.sh; echo \"$? $x\"", "4 1\n"),
    ("return-default-status", "echo return > s.sh; false; . ./s.sh; echo $?", "1\n"),
    ("return-in-function-source", "echo 'return 3' > s.sh; f(){ . ./s.sh; echo \"in f $?\"; }; f", "in f 3\n"),
    ("exit-leaves-shell", "echo 'exit 7' > s.sh; . ./s.sh; echo never", "", 7),
    ("path-search", "mkdir d; echo 'echo found' > d/lib.sh; PATH=$PWD/d:$PATH; . lib.sh", "found\n"),
    ("current-dir-fallback", "echo 'echo local' > lib.sh; PATH=/nonexist; . lib.sh", "local\n"),
    ("in-function-sets-globals", "echo v=from_source > s.sh; f(){ . ./s.sh; }; f; echo $v", "from_source\n"),
    ("nested", "echo '. ./b.sh; echo a' > a.sh; echo 'echo b' > b.sh; . ./a.sh", "b\na\n"),
)


@pytest.mark.parametrize("table, case", SOURCE.params())
def test_source(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_source_missing_file(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("source nofile.sh; echo rc=$?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("rc=1\n", 0)
    assert "nofile.sh: No such file or directory" in fmsh.err


def test_source_without_filename(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("source; echo $?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("2\n", 0)
    assert "filename argument required" in fmsh.err


# --- exec --------------------------------------------------------------------------------------

EXEC = Table(
    ("replaces-shell", "exec echo replaced; echo never", "replaced\n"),
    ("status-is-programs", "exec sh -c 'exit 5'; echo never", "", 5),
    ("same-process", "echo $$ > pid; exec sh -c 'read p < pid; [ $$ = $p ] && echo same'", "same\n"),
    ("a-argv0", "exec -a myname sh -c 'echo $0'", "myname\n"),
    ("c-empty-env", "X=1 exec -c env | wc -l", "0\n"),
    ("prefix-assignment-exported", "X=1 exec env | grep '^X='", "X=1\n"),
    ("no-command", "exec; echo $?", "0\n"),
    ("stdout-permanent", "exec 4>&1; exec >out; echo one; ls -d /; exec >&4; echo back; cat out", "back\none\n/\n"),
    ("stderr-permanent", "exec 2>/dev/null; ls /nonexist; echo $?", "2\n"),
    ("fd3-permanent", "exec 3>f3; echo x >&3; echo y >&3; cat f3", "x\ny\n"),
    ("fd3-inherited-by-children", "exec 3>f3; echo x >&3; sh -c 'echo child >&3'; cat f3", "x\nchild\n"),
    ("fd3-closed", "exec 3>f3; echo via3 >&3; exec 3>&-; cat f3; echo again >&3; echo rc=$?", "via3\nrc=1\n"),
    ("input-permanent", "printf '1\\n2\\n' > f; exec <f; read a; read b; echo $a$b", "12\n"),
    ("bad-redirect-not-fatal", "exec 3</nonexist; echo after", "after\n"),
    ("command-exec-bad-redirect", "command exec 3</nonexist; echo after $?", "after 1\n"),
    batch=False,
)


@pytest.mark.parametrize("table, case", EXEC.params())
def test_exec(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_exec_not_found(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("exec nosuchcmd_xyz; echo after")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("", 127)
    assert "nosuchcmd_xyz" in fmsh.err and "not found" in fmsh.err


def test_exec_stdout_to_file(fmsh: Runner, tmp_path: Any) -> None:
    r = fmsh("exec >out; echo one; ls -d /")
    assert r.out == ""
    assert (tmp_path / "out").read_text() == "one\n/\n"


# --- command -----------------------------------------------------------------------------------

COMMAND = Table(
    ("skips-function", "ls(){ echo fn; }; command ls -d /", "/\n"),
    ("runs-builtin-past-function", 'echo(){ builtin echo "fn $*"; }; echo hi; command echo hi', "fn hi\nhi\n"),
    ("function-shadowing-cd", "cd(){ echo shadow; }; command cd /; pwd", "/\n"),
    ("status", "command false; echo $?", "1\n"),
    ("not-found", "command nosuch_xyz 2>/dev/null; echo $?", "127\n"),
    ("no-args", "command; echo $?", "0\n"),
    ("v-builtin", "command -v echo", "echo\n"),
    ("v-file", "command -v ls", "/usr/bin/ls\n"),
    ("v-keyword", "command -v if", "if\n"),
    ("v-function", "f(){ :; }; command -v f", "f\n"),
    ("v-path", "command -v /bin/ls", "/bin/ls\n"),
    ("v-missing", "command -v nosuch_xyz; echo $?", "1\n"),
    ("v-double-dash", "command -v -- echo", "echo\n"),
    ("v-several", "command -v cd true", "cd\ntrue\n"),
    ("V-builtin", "command -V cd", "cd is a shell builtin\n"),
    ("V-file", "command -V ls", "ls is /usr/bin/ls\n"),
    ("V-keyword", "command -V while", "while is a shell keyword\n"),
    ("p-default-path", "PATH=/nonexist; command -p ls -d /", "/\n"),
    ("runs-type", "command type -t command", "builtin\n"),
)


@pytest.mark.parametrize("table, case", COMMAND.params())
def test_command(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_command_V_missing(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("command -V nosuch_xyz; echo rc=$?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("rc=1\n", 0)
    assert "nosuch_xyz: not found" in fmsh.err


def test_command_V_function(fmsh: Runner) -> None:
    r = fmsh("f(){ :; }; command -V f")
    assert r.out.startswith("f is a function\n")


# --- builtin -----------------------------------------------------------------------------------

BUILTIN = Table(
    ("runs-shadowed-builtin", "echo(){ :; }; builtin echo hi", "hi\n"),
    ("cd", "builtin cd /; pwd", "/\n"),
    ("status", "builtin false; echo $?", "1\n"),
    ("no-args", "builtin; echo $?", "0\n"),
    ("function-wrapper", 'cd(){ builtin cd "$@" && echo "now $PWD"; }; cd /', "now /\n"),
)


@pytest.mark.parametrize("table, case", BUILTIN.params())
def test_builtin(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_builtin_not_a_builtin(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("builtin ls; echo $?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("1\n", 0)
    assert "ls: not a shell builtin" in fmsh.err


# --- let ---------------------------------------------------------------------------------------

LET = Table(
    ("assign", "let x=2+3 'y=x*2'; echo $x $y", "5 10\n"),
    ("status-zero-is-failure", "let 0; echo $?; let 5; echo $?", "1\n0\n"),
    ("status-of-last", "let 1 0; echo $?; let 0 1; echo $?", "1\n0\n"),
    ("comma", "let 'a = 1 , b = 2'; echo $a$b", "12\n"),
    ("post-increment-status", "let x++; echo $? $x", "1 1\n"),
    ("increments", "let x=5 x++; echo $x $?", "6 0\n"),
    ("bases", "let 'y=010+0x10+2#11'; echo $y", "27\n"),
    ("variables-by-name", "a=4; let 'b = a * a'; echo $b", "16\n"),
    ("comparison", "let '3 > 2' && echo yes", "yes\n"),
)


@pytest.mark.parametrize("table, case", LET.params())
def test_let(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


@pytest.mark.parametrize(
    "script, message",
    [
        pytest.param('let x=1/0; echo "rc=$?"', "division by 0", id="division-by-zero"),
        pytest.param("let '1 +'; echo \"rc=$?\"", "1 +", id="syntax-error"),
        pytest.param('let; echo "rc=$?"', "expression expected", id="no-arguments"),
    ],
)
def test_let_errors(bash_and_fmsh: Runner, script: str, message: str) -> None:
    """An arithmetic error in `let` is the command's failure (status 1), not the shell's end."""
    bash, fmsh = bash_and_fmsh(script)
    assert message in fmsh.err
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("rc=1\n", 0)
