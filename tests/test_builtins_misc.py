"""The remaining builtins: `test`/`[`, `cd`, `pwd`, `type`, `hash`, `alias`/`unalias`,
`wait`, `jobs`, `kill`, `trap`, `umask`, `getopts`, `times`.

Cases run the same text in bash and fmsh and require equal stdout and status; each also
states the stdout a user expects. Scripts that print directories print them relative to
where they started (`${PWD#$start}`), because bash and fmsh run in different scratch
directories.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from shell_cases import Table, check, check_case

Runner = Any  # the bash_and_fmsh / fmsh fixtures


# --- test / [ ----------------------------------------------------------------------------------

FILES = (
    "touch empty; echo data > full; mkdir dir; ln -s full link; ln -s nowhere dangling; mkfifo fifo;"
    " touch exe; chmod +x exe; touch suid; chmod u+s suid; touch sgid; chmod g+s sgid;"
    " mkdir sticky; chmod +t sticky; touch -d 2000-01-01 old; ln full hard"
)

# (expression, status)
TEST_EXPRESSIONS = [
    ("-a full", 0),
    ("-a nope", 1),
    ("-b /dev/null", 1),
    ("-b full", 1),
    ("-c /dev/null", 0),
    ("-c full", 1),
    ("-d dir", 0),
    ("-d full", 1),
    ("-d nope", 1),
    ("-e full", 0),
    ("-e dir", 0),
    ("-e nope", 1),
    ("-e dangling", 1),
    ("-f full", 0),
    ("-f dir", 1),
    ("-f link", 0),
    ("-f fifo", 1),
    ("-g sgid", 0),
    ("-g full", 1),
    ("-h link", 0),
    ("-h dangling", 0),
    ("-h full", 1),
    ("-L link", 0),
    ("-L full", 1),
    ("-k sticky", 0),
    ("-k dir", 1),
    ("-p fifo", 0),
    ("-p full", 1),
    ("-r full", 0),
    ("-r nope", 1),
    ("-s full", 0),
    ("-s empty", 1),
    ("-s nope", 1),
    ("-S full", 1),
    ("-t 0", 1),
    ("-t 99", 1),
    ("-u suid", 0),
    ("-u full", 1),
    ("-w full", 0),
    ("-w nope", 1),
    ("-x exe", 0),
    ("-x full", 1),
    ("-x dir", 0),
    ("-O full", 0),
    ("-O nope", 1),
    ("-G full", 0),
    ("-G nope", 1),
    ("-z ''", 0),
    ("-z x", 1),
    ("-n x", 0),
    ("-n ''", 1),
    ("x", 0),
    ("''", 1),
    ("-o errexit", 1),
    ("-o nosuch", 1),
    ("-v HOME", 0),
    ("-v nosuchvar", 1),
    ("a = a", 0),
    ("a == a", 0),
    ("a = b", 1),
    ("a != b", 0),
    ("a != a", 1),
    ("a '<' b", 0),
    ("b '<' a", 1),
    ("b '>' a", 0),
    ("1 -eq 1", 0),
    ("1 -eq 2", 1),
    ("1 -ne 2", 0),
    ("1 -ne 1", 1),
    ("1 -lt 2", 0),
    ("2 -lt 1", 1),
    ("2 -le 2", 0),
    ("3 -le 2", 1),
    ("3 -gt 2", 0),
    ("2 -gt 3", 1),
    ("3 -ge 3", 0),
    ("2 -ge 3", 1),
    ("-5 -lt 3", 0),
    ("' 7 ' -eq 7", 0),
    ("010 -eq 10", 0),
    ("full -nt old", 0),
    ("old -nt full", 1),
    ("full -nt nope", 0),
    ("old -ot full", 0),
    ("full -ot old", 1),
    ("nope -ot full", 0),
    ("full -ef hard", 0),
    ("full -ef link", 0),
    ("full -ef empty", 1),
    ("! -f full", 1),
    ("! -f nope", 0),
    ("! ''", 0),
    ("! x", 1),
    ("-f full -a -d dir", 0),
    ("-f full -a -d full", 1),
    ("-f nope -o -d dir", 0),
    ("-f nope -o -d nope", 1),
    ("'(' -f full ')'", 0),
    ("! '(' -f nope -o -d nope ')'", 0),
    ("'(' a = a -o a = b ')' -a b = b", 0),
    ("a = a -o b = c -a d = e", 0),  # -a binds tighter than -o
    ("-n a -a -n ''", 1),
    ("x -a ''", 1),
    ("= = =", 0),
    ("-n", 0),
    ("-a", 0),
    ("! -n", 1),
    ("-z -z", 1),
    ("'(' = '('", 0),
]


TEST = Table(
    *[(e, f'cd "$SETUP" && test {e}; echo $?; [ {e} ]; echo $?', f"{s}\n{s}\n") for e, s in TEST_EXPRESSIONS],
    setup=FILES,
)


@pytest.mark.parametrize("table, case", TEST.params())
def test_test_expression(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every operator, through both `test` and `[`, on a file of each kind."""
    check_case(table, case, tmp_path_factory)


def test_test_N_modified_since_read(bash_and_fmsh: Runner) -> None:
    check(
        bash_and_fmsh,
        "touch f; touch -m -d 2001-01-01 f; touch -a -d 2000-01-01 f; test -N f; echo $?;"
        " touch -a -d 2002-01-01 f; test -N f; echo $?",
        "0\n1\n",
    )


def test_test_N_same_times(bash_and_fmsh: Runner) -> None:
    """Access and modification at the same instant: not modified since read (bash 5.2
    compares mtime > atime)."""
    check(bash_and_fmsh, "touch -d '2001-01-01 00:00' f; test -N f; echo $?", "1\n")


def test_test_no_arguments(bash_and_fmsh: Runner) -> None:
    check(bash_and_fmsh, "test; echo $?; [ ]; echo $?", "1\n1\n")


@pytest.mark.parametrize(
    "script, message",
    [
        pytest.param("test 1 -eq a", "integer expression expected", id="not-integer"),
        pytest.param("[ 99999999999999999999 -gt 1 ]", "integer expression expected", id="integer-too-big"),
        pytest.param("[ 1 = 1", "missing `]'", id="missing-bracket"),
        pytest.param("test a b", "unary operator expected", id="two-words"),
        pytest.param("test -z a b", "binary operator expected", id="three-words"),
        pytest.param("test '(' a", "unary operator expected", id="unclosed-paren"),
        pytest.param("test 1 -eq 1 -a", "argument expected", id="dangling-and"),
    ],
)
def test_test_errors_status_2(bash_and_fmsh: Runner, script: str, message: str) -> None:
    bash, fmsh = bash_and_fmsh(f"{script}; echo $?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("2\n", 0)
    assert message in fmsh.err


# --- cd / pwd ----------------------------------------------------------------------------------

CD = Table(
    ("relative", "start=$PWD; mkdir -p a/b; cd a/b; echo ${PWD#$start}; cd ..; echo ${PWD#$start}", "/a/b\n/a\n"),
    ("oldpwd", "start=$PWD; mkdir -p a/b; cd a/b; cd ..; echo ${OLDPWD#$start}", "/a/b\n"),
    ("pwd-variable-and-command", 'start=$PWD; mkdir d; cd d; pwd | sed "s|^$start||"; echo ${PWD#$start}', "/d\n/d\n"),
    ("home", "start=$PWD; mkdir h; HOME=$start/h; cd; echo ${PWD#$start}; cd /; cd ~; echo ${PWD#$start}", "/h\n/h\n"),
    (
        "dash-prints-and-swaps",
        (
            'start=$PWD; mkdir a; cd a; cd - > "$start/out"; sed "s|^$start|S|" out;'
            ' echo "[${PWD#$start}] [${OLDPWD#$start}]"'
        ),
        "S\n[] [/a]\n",
    ),
    ("dash-twice", "cd /; cd /tmp; cd -; cd -", "/\n/tmp\n"),
    ("dotdot-is-textual", "cd /usr/bin/../lib; pwd", "/usr/lib\n"),
    ("trailing-slash", "cd /tmp/; echo $PWD", "/tmp\n"),
    (
        "cdpath",
        (
            'start=$PWD; mkdir -p p/q; CDPATH=$start/p; cd / ; cd q | sed "s|^$start|S|";'
            " cd q >/dev/null; echo ${PWD#$start}"
        ),
        "S/p/q\n/p/q\n",
    ),
    ("cdpath-empty-entry-is-dot", "start=$PWD; mkdir -p p/q q; CDPATH=:$start/p; cd q; echo ${PWD#$start}", "/q\n"),
    ("cdpath-ignored-for-dot-slash", "start=$PWD; mkdir -p p/q; CDPATH=$start/p; cd ./q 2>/dev/null; echo $?", "1\n"),
    (
        "logical-symlink",
        ('start=$PWD; mkdir real; ln -s real link; cd link; echo ${PWD#$start}; cd ..; echo "[${PWD#$start}]"'),
        "/link\n[]\n",
    ),
    ("P-physical", "start=$PWD; mkdir real; ln -s real link; cd -P link; echo ${PWD#$start}", "/real\n"),
    (
        "P-dotdot-after-symlink",
        ("start=$PWD; mkdir -p real/sub; ln -s real/sub link; cd -P link/..; echo ${PWD#$start}"),
        "/real\n",
    ),
    (
        "L-dotdot-after-symlink",
        ('start=$PWD; mkdir -p real/sub; ln -s real/sub link; cd -L link/..; echo "[${PWD#$start}]"'),
        "[]\n",
    ),
    ("child-sees-pwd", "start=$PWD; mkdir d; cd d; sh -c 'echo $PWD' | sed \"s|^$start||\"", "/d\n"),
    ("empty-argument", "cd ''; echo $?", "0\n"),
    ("in-subshell-only", 'start=$PWD; (cd /); echo "[${PWD#$start}]"', "[]\n"),
)


@pytest.mark.parametrize("table, case", CD.params())
def test_cd(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


@pytest.mark.parametrize(
    "script, message",
    [
        pytest.param("cd /nonexistent", "cd: /nonexistent: No such file or directory", id="missing"),
        pytest.param("touch file; cd file", "cd: file: Not a directory", id="not-a-directory"),
        pytest.param("cd a b", "cd: too many arguments", id="too-many"),
        pytest.param("unset HOME; cd", "cd: HOME not set", id="home-unset"),
        pytest.param("unset OLDPWD; cd -", "cd: OLDPWD not set", id="oldpwd-unset"),
    ],
)
def test_cd_errors(bash_and_fmsh: Runner, script: str, message: str) -> None:
    bash, fmsh = bash_and_fmsh(f'start=$PWD; {script}; echo "rc=$? [${{PWD#$start}}]"')
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("rc=1 []\n", 0)
    assert message in fmsh.err


PWD = Table(
    ("plain", "cd /usr/bin; pwd", "/usr/bin\n"),
    ("L-keeps-symlink", 'start=$PWD; mkdir real; ln -s real link; cd link; pwd -L | sed "s|^$start||"', "/link\n"),
    ("P-resolves", 'start=$PWD; mkdir real; ln -s real link; cd link; pwd -P | sed "s|^$start||"', "/real\n"),
    ("default-is-L", 'start=$PWD; mkdir real; ln -s real link; cd link; pwd | sed "s|^$start||"', "/link\n"),
    ("bogus-PWD-ignored", 'start=$PWD; PWD=/bogus; pwd -L | sed "s|^$start|S|"', "S\n"),
)


@pytest.mark.parametrize("table, case", PWD.params())
def test_pwd(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- type / hash -------------------------------------------------------------------------------

TYPE = Table(
    ("builtin", "type echo", "echo is a shell builtin\n"),
    ("file", "type ls", "ls is /usr/bin/ls\n"),
    ("keyword", "type if", "if is a shell keyword\n"),
    (
        "keywords",
        "type for while '[[' | cut -d' ' -f2-",
        ("is a shell keyword\nis a shell keyword\nis a shell keyword\n"),
    ),
    ("function-header", "f(){ :; }; type f | head -1", "f is a function\n"),
    ("t-kinds", "f(){ :; }; type -t f cd ls if; echo $?", "function\nbuiltin\nfile\nkeyword\n0\n"),
    ("t-missing", "type -t nosuch_xyz; echo $?", "1\n"),
    ("t-function-before-builtin", "echo(){ :; }; type -t echo", "function\n"),
    ("p-file", "type -p ls", "/usr/bin/ls\n"),
    ("p-builtin-prints-nothing", "type -p echo; echo rc=$?", "rc=0\n"),
    (
        "p-own-command",
        (
            "start=$PWD; mkdir bin; printf '#!/bin/sh\\n' > bin/tool; chmod +x bin/tool;"
            ' PATH=$start/bin:$PATH; type -p tool | sed "s|^$start||"'
        ),
        "/bin/tool\n",
    ),
    ("P-forces-path", "type -P echo", "/usr/bin/echo\n"),
    ("a-all", "type -a echo", "echo is a shell builtin\necho is /usr/bin/echo\necho is /bin/echo\n"),
    (
        "a-own-commands",
        (
            "start=$PWD; mkdir b1 b2; printf '#!/bin/sh\\n' > b1/c; cp b1/c b2/c; chmod +x b1/c b2/c;"
            ' PATH=$start/b1:$start/b2:$PATH; type -a c | sed "s|$start||"'
        ),
        "c is /b1/c\nc is /b2/c\n",
    ),
    ("a-function-first", "echo(){ :; }; type -a echo | sed -n '1p;$p'", "echo is a function\necho is /bin/echo\n"),
    ("path-not-executable", "printf x > notexec; type ./notexec 2>/dev/null; echo $?", "1\n"),
    ("alias", "shopt -s expand_aliases; alias l='ls -a'; type l; type -t l", "l is aliased to `ls -a'\nalias\n"),
)


@pytest.mark.parametrize("table, case", TYPE.params())
def test_type(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_type_not_found(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("type nosuch_xyz; echo rc=$?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("rc=1\n", 0)
    assert "type: nosuch_xyz: not found" in fmsh.err


def test_type_function_shows_body(fmsh: Runner) -> None:
    r = fmsh("f(){ echo body; }; type f")
    assert r.out.startswith("f is a function\n")
    assert "echo body" in r.out


HASH = Table(
    ("empty", "hash", "hash: hash table empty\n"),
    ("r-clears", "hash ls; hash -r; hash", "hash: hash table empty\n"),
    ("r-after-running", "ls >/dev/null; hash -r; hash", "hash: hash table empty\n"),
    ("path-assignment-clears", "hash ls; PATH=$PATH; hash", "hash: hash table empty\n"),
    ("not-found", "hash nosuch_xyz 2>/dev/null; echo $?", "1\n"),
    ("t-path", "hash ls; hash -t ls", "/usr/bin/ls\n"),
    ("remembers-after-run", "ls >/dev/null; hash -t ls", "/usr/bin/ls\n"),
    (
        "new-path-found-after-r",
        (
            "start=$PWD; mkdir d1 d2; printf '#!/bin/sh\\necho one\\n' > d1/c; chmod +x d1/c;"
            " PATH=$start/d1:$start/d2:$PATH; c; mv d1/c d2/c; hash -r; c"
        ),
        "one\none\n",
    ),
    (
        "path-change-takes-effect",
        (
            "start=$PWD; mkdir d1 d2; printf '#!/bin/sh\\necho one\\n' > d1/c; printf '#!/bin/sh\\necho two\\n' > d2/c;"
            " chmod +x d1/c d2/c; PATH=$start/d2:$PATH; c; PATH=$start/d1:$PATH; c"
        ),
        "two\none\n",
    ),
    batch=False,
)


@pytest.mark.parametrize("table, case", HASH.params())
def test_hash(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_hash_lists_remembered_paths(fmsh: Runner) -> None:
    r = fmsh("hash ls; hash")
    assert "/usr/bin/ls" in r.out


# --- alias / unalias ---------------------------------------------------------------------------

ALIAS = Table(
    ("define-and-show", "alias hi='echo hello'; alias hi", "alias hi='echo hello'\n"),
    ("list-sorted", "alias b=2 a='y z'; alias", "alias a='y z'\nalias b='2'\n"),
    ("p-lists", "alias x=y; alias -p", "alias x='y'\n"),
    ("empty-value", "alias q=''; alias q", "alias q=''\n"),
    ("quote-in-value", 'alias x="it\'s"; alias x', "alias x='it'\\''s'\n"),
    ("missing", "alias nosuch 2>/dev/null; echo $?", "1\n"),
    ("some-missing", "alias a=1 nosuch b=2 2>/dev/null; echo $?; alias", "1\nalias a='1'\nalias b='2'\n"),
    ("unalias", "alias x=1; unalias x; alias x 2>/dev/null; echo $?", "1\n"),
    ("unalias-missing", "unalias nosuch 2>/dev/null; echo $?", "1\n"),
    ("unalias-a", "alias x=1 y=2; unalias -a; alias; echo rc=$?", "rc=0\n"),
    ("expands-with-expand_aliases", "shopt -s expand_aliases\nalias greet='echo hello'\ngreet world", "hello world\n"),
    (
        "not-after-unalias",
        ("shopt -s expand_aliases\nalias greet='echo hello'\nunalias greet\ngreet 2>/dev/null; echo $?"),
        "127\n",
    ),
    ("in-function-body", "shopt -s expand_aliases\nalias ll='echo long'\nf(){ ll; }\nf", "long\n"),
    ("trailing-space-chains", "shopt -s expand_aliases\nalias e='echo '\nalias w=world\ne w", "world\n"),
    ("not-expanded-by-default-in-scripts", "alias hi='echo hello'\nhi 2>/dev/null; echo $?", "127\n"),
    batch=False,
)


@pytest.mark.parametrize("table, case", ALIAS.params())
def test_alias(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- wait / jobs / kill ------------------------------------------------------------------------

WAIT = Table(
    ("bang-status", "(exit 3) & wait $!; echo $?", "3\n"),
    ("pid-variable", "sleep 0.1 & p=$!; wait $p; echo $?", "0\n"),
    ("bang-is-number", "sleep 0.1 & case $! in *[!0-9]*|'') echo bad;; *) echo pid;; esac; wait", "pid\n"),
    ("no-args-waits-all", '(sleep 0.2; echo late) & (exit 5) & wait; echo "all $?"', "late\nall 0\n"),
    ("no-children", "wait; echo $?", "0\n"),
    ("last-of-several", "(exit 2) & (sleep 0.1; exit 3) & wait $!; echo $?", "3\n"),
    ("several-pids", "(exit 2) & a=$!; (exit 4) & b=$!; wait $a $b; echo $?", "4\n"),
    ("jobspec", "(exit 6) & wait %1; echo $?", "6\n"),
    ("n-any", "sleep 5 & (exit 7) & wait -n; echo $?; kill %1", "7\n"),
    ("already-finished", "(exit 9) & sleep 0.2; wait $!; echo $?", "9\n"),
    ("background-output", "echo bg & wait; echo fg", "bg\nfg\n"),
    ("background-runs-concurrently", "(sleep 0.2; echo second) & echo first; wait", "first\nsecond\n"),
    batch=False,
)


@pytest.mark.parametrize("table, case", WAIT.params())
def test_wait(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_wait_not_a_child(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("wait 99999; echo $?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("127\n", 0)
    assert "pid 99999 is not a child of this shell" in fmsh.err


def test_background_does_not_block(fmsh: Runner) -> None:
    start = time.monotonic()
    r = fmsh("sleep 3 & p=$!; echo started; kill $p; wait $p; echo $?")
    assert r.out == "started\n143\n"
    assert time.monotonic() - start < 2.5


JOBS = Table(
    ("running", "sleep 5 & jobs; kill %1", "[1]+  Running                 sleep 5 &\n"),
    ("two", "sleep 5 & sleep 5 & jobs > f; kill %1 %2; cut -c1-4 f", "[1]-\n[2]+\n"),
    ("p-pid", 'sleep 5 & p=$!; jobs -p > f; kill $p; [ "$(cat f)" = "$p" ] && echo same', "same\n"),
    ("p-in-command-substitution", 'sleep 5 & p=$!; j=$(jobs -p); kill $p; [ "$j" = "$p" ] && echo same', "same\n"),
    ("l-shows-pid", 'sleep 5 & p=$!; jobs -l > f; kill $p; grep -c "$p" f', "1\n"),
    ("jobspec", "sleep 5 & sleep 5 & jobs %1 > f; kill %1 %2; cut -c1-12 f", "[1]-  Runnin\n"),
    ("no-jobs", "jobs; echo $?", "0\n"),
    batch=False,
)


@pytest.mark.parametrize("table, case", JOBS.params())
def test_jobs(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_jobs_no_such_job(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("sleep 5 & jobs %2; echo $?; kill %1")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("1\n", 0)
    assert "%2: no such job" in fmsh.err


KILL = Table(
    ("default-term", "sleep 5 & p=$!; kill $p; wait $p; echo $?", "143\n"),
    ("s-name", "sleep 5 & kill -s KILL $!; wait $! 2>/dev/null; echo $?", "137\n"),
    ("dash-number", "sleep 5 & kill -9 $!; wait $! 2>/dev/null; echo $?", "137\n"),
    ("dash-name", "sleep 5 & kill -TERM $!; wait $!; echo $?", "143\n"),
    ("dash-sig-name", "sleep 5 & kill -SIGTERM $!; wait $!; echo $?", "143\n"),
    ("n-number", "sleep 5 & kill -n 15 $!; wait $!; echo $?", "143\n"),
    ("jobspec", "sleep 5 & kill %1; wait %1; echo $?", "143\n"),
    ("zero-probe", "kill -0 $$; echo $?", "0\n"),
    ("self-with-trap", "trap 'echo caught' USR1; kill -s USR1 $$; echo after", "caught\nafter\n"),
    ("l-number", "kill -l 9", "KILL\n"),
    ("l-status", "kill -l 143", "TERM\n"),
    ("l-name", "kill -l TERM; kill -l SIGINT", "15\n2\n"),
    ("l-several", "kill -l 15 SIGKILL 137", "TERM\n9\nKILL\n"),
    ("l-lists", "kill -l | grep -c SIGKILL", "1\n"),
    ("l-layout", "kill -l | head -1", " 1) SIGHUP\t 2) SIGINT\t 3) SIGQUIT\t 4) SIGILL\t 5) SIGTRAP\n"),
    batch=False,
)


@pytest.mark.parametrize("table, case", KILL.params())
def test_kill(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


@pytest.mark.parametrize(
    "script, status, message",
    [
        pytest.param("kill -s NOPE 1", 1, "NOPE: invalid signal specification", id="bad-signal"),
        pytest.param("kill", 2, "usage", id="no-args"),
        pytest.param("kill 999999", 1, "(999999) - No such process", id="no-process"),
        pytest.param("kill %5", 1, "%5: no such job", id="no-job"),
        pytest.param("kill abc", 1, "arguments must be process or job IDs", id="not-a-pid"),
    ],
)
def test_kill_errors(bash_and_fmsh: Runner, script: str, status: int, message: str) -> None:
    bash, fmsh = bash_and_fmsh(f"{script}; echo $?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == (f"{status}\n", 0)
    assert message in fmsh.err


# --- trap --------------------------------------------------------------------------------------

TRAP = Table(
    ("exit", "trap 'echo bye' EXIT; echo hi", "hi\nbye\n"),
    ("exit-zero", "trap 'echo bye' 0; exit 3", "bye\n", 3),
    ("exit-sees-status", "trap 'echo \"status $?\"' EXIT; (exit 3)", "status 3\n", 3),
    ("exit-once-in-main-not-subshell", "trap 'echo main-exit' EXIT; (echo sub); echo main", "sub\nmain\nmain-exit\n"),
    ("exit-in-subshell", "(trap 'echo sub-exit' EXIT; echo sub); echo main", "sub\nsub-exit\nmain\n"),
    ("exit-in-redirected-subshell", "(trap 'echo bye' EXIT; echo in) > f; echo main; cat f", "main\nin\nbye\n"),
    ("exit-after-error-exit", "set -e; trap 'echo exit-trap' EXIT; false", "exit-trap\n", 1),
    ("signal", "trap 'echo caught' USR1; kill -USR1 $$; echo after", "caught\nafter\n"),
    ("signal-from-child", "trap 'echo caught' USR1; sh -c 'kill -USR1 $PPID'; echo after", "caught\nafter\n"),
    ("ignore", "trap '' USR1; kill -USR1 $$; echo survived", "survived\n"),
    ("ignore-inherited-by-child", "trap '' USR1; sh -c 'kill -USR1 $$; echo child-survived'", "child-survived\n"),
    ("reset-with-dash", "trap 'echo int' INT; trap - INT; trap -p INT; echo end", "end\n"),
    ("reset-by-name-only", "trap 'echo hup' HUP; trap HUP; trap -p HUP; echo x", "x\n"),
    ("reset-inside-handler", "trap 'echo one; trap - USR1' USR1; kill -USR1 $$; trap -p USR1; echo end", "one\nend\n"),
    ("p-int", "trap 'echo int' INT; trap -p INT", "trap -- 'echo int' SIGINT\n"),
    ("p-ignored", "trap '' INT; trap -p INT", "trap -- '' SIGINT\n"),
    ("p-exit", "trap 'echo e' EXIT; trap -p EXIT; trap - EXIT", "trap -- 'echo e' EXIT\n"),
    ("p-by-sig-name", "trap 'echo one' HUP; trap -p SIGHUP", "trap -- 'echo one' SIGHUP\n"),
    ("p-by-number", "trap 'echo one' 1; trap -p 1", "trap -- 'echo one' SIGHUP\n"),
    ("no-args-lists", "trap 'echo e' EXIT; trap; trap - EXIT; trap", "trap -- 'echo e' EXIT\n"),
    (
        "several-signals",
        "trap 'echo a' INT TERM; trap -p INT TERM",
        "trap -- 'echo a' SIGINT\ntrap -- 'echo a' SIGTERM\n",
    ),
    ("double-dash", "trap -- 'echo dd' EXIT", "dd\n"),
    ("err", "trap 'echo \"ERR $?\"' ERR; false; echo after", "ERR 1\nafter\n"),
    ("err-reset", "trap 'echo e' ERR; trap - ERR; false; echo ok", "ok\n"),
    ("return", "f(){ trap 'echo ret' RETURN; }; f; trap - RETURN", "ret\n"),
    batch=False,
)


@pytest.mark.parametrize("table, case", TRAP.params())
def test_trap(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_trap_invalid_signal(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("trap 'echo x' NOSIG; echo $?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("1\n", 0)
    assert "NOSIG: invalid signal specification" in fmsh.err


def test_trap_output_reusable(bash_and_fmsh: Runner) -> None:
    """The idiom `saved=$(trap -p)`: in a command substitution trap -p still shows the
    shell's traps, and what it prints sets the same traps again."""
    script = "trap 'echo \"it'\\''s\"' USR1; saved=$(trap -p USR1); trap - USR1; eval \"$saved\"; kill -USR1 $$"
    check(bash_and_fmsh, script, "it's\n")


# --- umask -------------------------------------------------------------------------------------

UMASK = Table(
    ("octal", "umask 022; umask", "0022\n"),
    ("short-octal", "umask 27; umask", "0027\n"),
    ("S", "umask 022; umask -S", "u=rwx,g=rx,o=rx\n"),
    ("p", "umask 022; umask -p", "umask 0022\n"),
    ("applies-to-files", "umask 077; touch f; ls -l f | cut -c1-10", "-rw-------\n"),
    ("applies-to-dirs", "umask 027; mkdir d; ls -ld d | cut -c1-10", "drwxr-x---\n"),
    ("symbolic-set", "umask u=rwx,g=rx,o=; umask", "0027\n"),
    ("symbolic-add", "umask 022; umask g+w; umask", "0002\n"),
    ("symbolic-remove", "umask 002; umask o-r; umask", "0006\n"),
    ("symbolic-all", "umask a=rx; umask -S", "u=rx,g=rx,o=rx\n"),
    ("subshell-only", "umask 022; (umask 077); umask", "0022\n"),
)


@pytest.mark.parametrize("table, case", UMASK.params())
def test_umask(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_umask_out_of_range(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("umask 022; umask 0999; echo $?; umask")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("1\n0022\n", 0)
    assert "octal number out of range" in fmsh.err


# --- getopts -----------------------------------------------------------------------------------

LOOP = 'while getopts "{spec}" o; do echo "$o ${{OPTARG-unset}} $OPTIND"; done; echo "end $OPTIND"'

GETOPTS = Table(
    (
        "options-and-argument",
        "set -- -a -b arg -c; " + LOOP.format(spec="ab:c") + '; shift $((OPTIND-1)); echo "[$*]"',
        "a unset 2\nb arg 4\nc unset 5\nend 5\n[]\n",
    ),
    (
        "grouped",
        ('set -- -ab -cfoo x y; while getopts abc: o; do echo "$o $OPTARG"; done; shift $((OPTIND-1)); echo "$@"'),
        "a \nb \nc foo\nx y\n",
    ),
    ("grouped-optind", 'set -- -ab; getopts ab o; echo "$o $OPTIND"; getopts ab o; echo "$o $OPTIND"', "a 1\nb 2\n"),
    ("argument-attached", 'set -- -ofile; getopts o: o; echo "$o $OPTARG $OPTIND"', "o file 2\n"),
    ("stops-at-operand", 'set -- a -b; getopts b o; echo "$? $o $OPTIND"', "1 ? 1\n"),
    ("double-dash", "set -- -a -- -b; while getopts ab o; do echo $o; done; echo $OPTIND", "a\n3\n"),
    ("explicit-args", "while getopts ab o -a -b; do echo $o; done", "a\nb\n"),
    ("end-status", 'set -- -a; getopts a o; getopts a o; echo "$? $o"', "1 ?\n"),
    ("optind-reset", "set -- -a; getopts a o; OPTIND=1; set -- -b; getopts b o; echo $o", "b\n"),
    ("silent-unknown", 'set -- -x; getopts :a o; echo "$? $o [$OPTARG]"', "0 ? [x]\n"),
    ("silent-missing-argument", 'set -- -a; getopts :a: o; echo "$? $o [$OPTARG]"', "0 : [a]\n"),
    ("in-function", 'f(){ local OPTIND o; while getopts v o; do echo "f:$o"; done; }; f -v; f -v', "f:v\nf:v\n"),
)


@pytest.mark.parametrize("table, case", GETOPTS.params())
def test_getopts(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


@pytest.mark.parametrize(
    "script, expected, message",
    [
        pytest.param(
            'set -- -x; getopts a o; echo "$? $o [${OPTARG-unset}]"',
            "0 ? [unset]\n",
            "illegal option -- x",
            id="unknown",
        ),
        pytest.param(
            'set -- -a; getopts a: o; echo "$? $o [${OPTARG-unset}]"',
            "0 ? [unset]\n",
            "option requires an argument -- a",
            id="missing-argument",
        ),
    ],
)
def test_getopts_reports(bash_and_fmsh: Runner, script: str, expected: str, message: str) -> None:
    bash, fmsh = bash_and_fmsh(script)
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == (expected, 0)
    assert message in fmsh.err


def test_getopts_usage(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("getopts; echo $?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("2\n", 0)
    assert "usage" in fmsh.err


# --- times -------------------------------------------------------------------------------------


def test_times(bash_and_fmsh: Runner) -> None:
    """Two lines (shell, children), each `NmS.SSSs NmS.SSSs`."""
    script = "times | grep -cE '^[0-9]+m[0-9]+\\.[0-9]{3}s [0-9]+m[0-9]+\\.[0-9]{3}s$'"
    check(bash_and_fmsh, script, "2\n")


def test_times_counts_children(fmsh: Runner) -> None:
    r = fmsh("i=0; sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'; times > t; tail -1 t")
    user = r.out.split()[0]
    minutes, seconds = user.rstrip("s").split("m")
    assert int(minutes) * 60 + float(seconds) > 0
