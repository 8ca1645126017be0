"""The builtins that declare and change variables and options: `export`, `readonly`,
`unset`, `local`, `declare`/`typeset`, `shift`, `set`, `shopt`.

Cases run the same text in bash and fmsh and require equal stdout and status; each also
states the stdout a user expects.
"""

from __future__ import annotations

from typing import Any

import pytest
from shell_cases import Table, check_case

Runner = Any  # the bash_and_fmsh / fmsh fixtures


# --- export ----------------------------------------------------------------------------------

EXPORT = Table(
    ("assign-and-export", "export A=1; sh -c 'echo $A'", "1\n"),
    ("several", "export A=1 B; B=2; sh -c 'echo $A$B'", "12\n"),
    ("later-assignment-exported", "A=1; export A; A=2; sh -c 'echo $A'", "2\n"),
    ("n-unexports", 'A=1; export A; export -n A; sh -c \'echo "[$A]"\'; echo "$A"', "[]\n1\n"),
    ("n-missing-ok", "export -n NOPE; echo $?", "0\n"),
    ("unset-value-not-in-env", "unset X; export X; sh -c 'echo \"[${X-unset}]\"'", "[unset]\n"),
    ("p-lists", "export B=2; export -p | grep ' B='", 'declare -x B="2"\n'),
    ("no-args-lists", "export V='a \"q\"'; export | grep ' V='", 'declare -x V="a \\"q\\""\n'),
    ("prefix-assignment-only-for-child", "X=1 sh -c 'echo $X'; echo \"[$X]\"", "1\n[]\n"),
    ("from-function-is-global", "f(){ export IN=1; }; f; sh -c 'echo $IN'", "1\n"),
    ("environment-inherited", "sh -c 'echo $HOME' | grep -c /", "1\n"),
    (
        "env-of-child-exactly",
        "env -i PATH=\"$PATH\" X=5 sh -c 'export Y=6; env' | grep -E '^(X|Y)=' | sort",
        "X=5\nY=6\n",
    ),
)


@pytest.mark.parametrize("table, case", EXPORT.params())
def test_export(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_export_env_of_child_from_fmsh(fmsh: Runner) -> None:
    """What fmsh exports is exactly what a child sees: exported, not merely set."""
    r = fmsh("export E1=one; E2=two; declare -x E3=three; env | grep '^E[0-9]=' | sort")
    assert r.out == "E1=one\nE3=three\n"


def test_export_invalid_name(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("export 1x=2; echo $?")
    assert fmsh.out == bash.out == "1\n"
    assert "not a valid identifier" in fmsh.err


# --- readonly --------------------------------------------------------------------------------

READONLY = Table(
    ("value", "readonly R=1; echo $R", "1\n"),
    ("several", "readonly a=1 b=2; echo $a$b", "12\n"),
    ("p-lists", "readonly R=3; readonly -p | grep ' R='", 'declare -r R="3"\n'),
    ("no-args-lists", "readonly a=1 b=2; readonly | grep -c 'declare -r [ab]='", "2\n"),
    ("unset-fails", 'readonly R=1; unset R; echo "rc=$? R=$R"', "rc=1 R=1\n"),
    ("array", "readonly -a ra=(1 2); echo ${ra[1]}", "2\n"),
    ("f-missing-function", "readonly -f nofun; echo $?", "1\n"),
    ("f-unset-fails", "f(){ echo f; }; readonly -f f; unset -f f; echo $?; f", "1\nf\n"),
    ("f-redefine-fails", "f(){ echo f; }; readonly -f f; f(){ echo g; }; echo $?; f", "1\nf\n"),
)


@pytest.mark.parametrize("table, case", READONLY.params())
def test_readonly(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param('readonly R=1; R=2; echo "after $R"', id="assign"),
        pytest.param("readonly r; r=5; echo after", id="no-value"),
        pytest.param("declare -r c=1; c=2; echo after", id="declare-r"),
        pytest.param("readonly -a ra=(1 2); ra[0]=5; echo after", id="array-element"),
    ],
)
def test_readonly_assignment_is_an_error(bash_and_fmsh: Runner, script: str) -> None:
    """Assigning to a readonly variable is an error that ends a non-interactive shell."""
    bash, fmsh = bash_and_fmsh(script)
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("", 1)
    assert "readonly variable" in fmsh.err


# --- unset -----------------------------------------------------------------------------------

UNSET = Table(
    ("variable", 'x=1; unset x; echo "[${x-unset}]"', "[unset]\n"),
    ("missing-ok", "unset nonexistent; echo $?", "0\n"),
    ("several", 'a=1 b=2; unset a b; echo "[$a$b]"', "[]\n"),
    ("f-function", "f(){ echo f; }; unset -f f; type f >/dev/null 2>&1; echo $?", "1\n"),
    ("f-leaves-variable", "x=1; x(){ :; }; unset -f x; echo $x", "1\n"),
    ("v-leaves-function", "f(){ echo still; }; unset -v f; f", "still\n"),
    ("no-flag-variable-first", 'f=var; f(){ echo fn; }; unset f; echo "[$f]"; f', "[]\nfn\n"),
    ("no-flag-function-if-no-variable", "f(){ echo fn; }; unset f; type -t f; echo $?", "1\n"),
    ("array-element", "a=(x y z); unset 'a[1]'; echo \"${a[@]} ${#a[@]} ${!a[@]}\"", "x z 2 0 2\n"),
    ("array-negative-index", "a=(1 2 3); unset 'a[-1]'; echo ${a[@]}", "1 2\n"),
    ("assoc-element", "declare -A m=([a]=1 [b]=2); unset 'm[a]'; echo ${!m[@]}", "b\n"),
    ("whole-array", "a=(1 2); unset a; echo ${#a[@]}", "0\n"),
    ("exported-gone-from-env", "export E=1; unset E; sh -c 'echo \"[$E]\"'", "[]\n"),
    ("local-in-function", 'f(){ local x=1; unset x; echo "[${x-unset}]"; }; x=g; f; echo $x', "[unset]\ng\n"),
)


@pytest.mark.parametrize("table, case", UNSET.params())
def test_unset(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_unset_invalid_name(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("unset -v 1bad; echo $?")
    assert fmsh.out == bash.out == "1\n"
    assert "not a valid identifier" in fmsh.err


# --- local -----------------------------------------------------------------------------------

LOCAL = Table(
    ("hides-global", "x=g; f(){ local x=l; echo $x; }; f; echo $x", "l\ng\n"),
    ("dynamic-scope-read", "x=g; f(){ local x=l; g; }; g(){ echo $x; }; f; echo $x", "l\ng\n"),
    ("dynamic-scope-write", 'f(){ local x=1; g; echo $x; }; g(){ x=2; }; f; echo "[$x]"', "2\n[]\n"),
    ("no-value-is-unset", 'x=g; f(){ local x; echo "[${x-unset}]"; }; f', "[unset]\n"),
    ("assignment-after", "f(){ local x; x=2; }; x=1; f; echo $x", "1\n"),
    ("several", 'f(){ local a b=2; echo "[$a][$b]"; }; f', "[][2]\n"),
    ("redeclare", "f(){ local x=1; local x=2; echo $x; }; f", "2\n"),
    ("nested-functions", "f(){ local v=f; g; echo $v; }; g(){ local v=g; echo $v; }; f", "g\nf\n"),
    ("array", 'f(){ local -a arr=(1 2); echo ${arr[1]}; }; f; echo "[${arr[1]}]"', "2\n[]\n"),
    ("integer", "f(){ local -i n=3+4; echo $n; }; f", "7\n"),
    ("exported-only-inside", "f(){ local -x E=1; sh -c 'echo $E'; }; f; sh -c 'echo \"[$E]\"'", "1\n[]\n"),
    ("recursion", "f(){ local n=$1; [ $n -gt 0 ] && f $((n-1)); echo $n; }; f 2", "0\n1\n2\n"),
    ("no-args-ok", "f(){ local; }; f; echo $?", "0\n"),
)


@pytest.mark.parametrize("table, case", LOCAL.params())
def test_local(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_local_outside_function(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh('local x=1; echo "rc=$? [$x]"')
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("rc=1 []\n", 0)
    assert "can only be used in a function" in fmsh.err


def test_local_readonly(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("f(){ local -r r=1; r=2; echo $?; }; f; echo after")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status)
    assert "readonly variable" in fmsh.err


# --- declare / typeset -----------------------------------------------------------------------

DECLARE = Table(
    ("plain", "declare x=1; echo $x", "1\n"),
    ("a", "declare -a a=(1 2 3); echo ${a[2]} ${#a[@]}", "3 3\n"),
    ("a-sparse-p", "declare -a a; a[2]=x; declare -p a", 'declare -a a=([2]="x")\n'),
    ("a-append", "declare -a a=(1 2); declare -a a+=(3); echo ${a[@]}", "1 2 3\n"),
    ("A", "declare -A m=([k]=v [j]=w); echo ${m[k]}${m[j]}", "vw\n"),
    ("A-p", "declare -A m; m[x]=1; declare -p m", 'declare -A m=([x]="1" )\n'),
    ("i", "declare -i n=2+3; echo $n; n+=1; echo $n; n='4*2'; echo $n", "5\n6\n8\n"),
    ("i-word-is-zero", "declare -i n; n='3 + 4*2'; echo $n; n=abc; echo $n", "11\n0\n"),
    ("i-p", "declare -i n=5; declare -p n", 'declare -i n="5"\n'),
    ("plus-i", "declare -i i=1; declare +i i; i=2+2; echo $i", "2+2\n"),
    ("x", "declare -x E=7; sh -c 'echo $E'", "7\n"),
    ("plus-x", "declare -x V=1; declare +x V; sh -c 'echo \"[$V]\"'; echo $V", "[]\n1\n"),
    ("plus-x-p", "declare +x V=1; declare -p V", 'declare -- V="1"\n'),
    ("r-p", "declare -r c=1; declare -p c", 'declare -r c="1"\n'),
    ("ir", "declare -ir IR=2*3; declare -p IR", 'declare -ir IR="6"\n'),
    ("p-string", "x=hi; declare -p x", 'declare -- x="hi"\n'),
    ("p-quoting", "x='a \"b\" $c'; declare -p x", 'declare -- x="a \\"b\\" \\$c"\n'),
    ("p-array", "a=(1 '2 3'); declare -p a", 'declare -a a=([0]="1" [1]="2 3")\n'),
    ("p-exported", "export X=1; declare -p X", 'declare -x X="1"\n'),
    ("p-missing", "x=1; declare -p x y; echo $?", 'declare -- x="1"\n1\n'),
    ("p-round-trip", 'a=(x \'y z\'); s=$(declare -p a); unset a; eval "$s"; echo "${a[1]}"', "y z\n"),
    ("no-value-keeps", "declare x=1; declare x; echo $x", "1\n"),
    ("in-function-is-local", "f(){ declare x=local; }; x=global; f; echo $x", "global\n"),
    ("g-global", 'f(){ declare -g G=1; declare L=2; }; f; echo "[$G][$L]"', "[1][]\n"),
    ("f-known", "f(){ echo hi; }; declare -f f >/dev/null; echo $?", "0\n"),
    ("f-unknown", "declare -f nofunc; echo $?", "1\n"),
    ("F-all", "f(){ echo hi; }; g(){ :; }; declare -F", "declare -f f\ndeclare -f g\n"),
    ("F-name", "f(){ echo hi; }; declare -F f", "f\n"),
    ("F-unknown", "declare -F nope; echo $?", "1\n"),
    ("u-upper", "declare -u U=hello; echo $U", "HELLO\n"),
    ("l-lower", "declare -l L=HeLLo; echo $L", "hello\n"),
    ("typeset-same", "typeset t=3; typeset -i n=2*3; echo $t $n", "3 6\n"),
    ("typeset-local", 'f(){ typeset loc=1; }; f; echo "[$loc]"', "[]\n"),
)


@pytest.mark.parametrize("table, case", DECLARE.params())
def test_declare(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_declare_f_prints_a_reusable_definition(fmsh: Runner) -> None:
    r = fmsh('f(){ echo "hi $1"; }; d=$(declare -f f); unset -f f; eval "$d"; f there; echo "$d"')
    first, _, definition = r.out.partition("\n")
    assert first == "hi there"
    assert definition.startswith("f") and 'echo "hi $1"' in definition


def test_declare_readonly_assignment(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("declare -ir IR=5; IR=6; echo after")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("", 1)
    assert "readonly variable" in fmsh.err


# --- shift -----------------------------------------------------------------------------------

SHIFT = Table(
    ("one", 'set -- a b c; shift; echo "$* $#"', "b c 2\n"),
    ("count", 'set -- a b c d; shift 3; echo "$* $#"', "d 1\n"),
    ("all", 'set -- a b; shift 2; echo "[$*] $#"', "[] 0\n"),
    ("zero", 'set -- a b; shift 0; echo "$*"', "a b\n"),
    ("too-many", 'set -- a; shift 2; echo "rc=$? $# $1"', "rc=1 1 a\n"),
    ("none-left", "shift; echo $?", "1\n"),
    ("in-function", 'f(){ shift; echo "$@"; }; set -- outer; f a b c; echo $1', "b c\nouter\n"),
    ("loop", "set -- 1 2 3; while [ $# -gt 0 ]; do echo $1; shift; done", "1\n2\n3\n"),
)


@pytest.mark.parametrize("table, case", SHIFT.params())
def test_shift(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_shift_non_numeric(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh('set -- a b; shift x; echo "rc=$? $#"')
    assert "numeric argument required" in fmsh.err
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("rc=1 2\n", 0)


# --- set -------------------------------------------------------------------------------------

SET = Table(
    ("positional", "set -- x 'y z'; echo $#; echo \"$2\"", "2\ny z\n"),
    ("positional-without-dashes", "set a b; echo $1$2", "ab\n"),
    ("clear-positional", "set -- 1 2 3; set --; echo $#", "0\n"),
    ("single-dash", "set - x y; echo $1$2", "xy\n"),
    ("options-then-args", "set -e -- a b; echo $2", "b\n"),
    ("dollar-dash", "set -e; echo $- | grep -c e; set +e; echo $- | grep -c e", "1\n0\n", 1),
    ("f-noglob", "touch a; set -f; echo a*; set +f; echo a*", "a*\na\n"),
    ("o-noglob", "touch a; set -o noglob; echo a*", "a*\n"),
    ("u-defaults-still-work", 'set -u; echo ${nope-default} ${nope:-d}; x=; echo "[$x]"', "default d\n[]\n"),
    ("u-empty-array-and-at", 'set -u; a=(); echo "${a[@]}" "$@" ok', "ok\n"),
    ("C-noclobber", "set -C; echo a > f; echo b > f; echo $?; cat f", "1\na\n"),
    ("C-devnull-ok", "set -C; echo x >/dev/null; echo ok", "ok\n"),
    ("a-allexport", "set -a; Z=9; sh -c 'echo $Z'; set +a; Y=1; sh -c 'echo \"[$Y]\"'", "9\n[]\n"),
    ("n-noexec", "set -n; echo hi", ""),
    ("B-braceexpand-off", "set +B; echo {a,b}; set -B; echo {a,b}", "{a,b}\na b\n"),
    (
        "o-list",
        "set -o pipefail; set -o | grep -E '^(errexit|pipefail) '",
        "errexit        \toff\npipefail       \ton\n",
    ),
    ("plus-o-commands", "set -e; set +o | grep -E 'errexit|pipefail'", "set -o errexit\nset +o pipefail\n"),
    (
        "plus-o-restores",
        'saved=$(set +o); set -eu; eval "$saved"; case $- in *e*) echo kept;; *) echo restored;; esac',
        "restored\n",
    ),
    (
        "o-long-names",
        "set -o nounset -o errexit; set -o | grep -E '^(errexit|nounset)'",
        "errexit        \ton\nnounset        \ton\n",
    ),
    ("shellopts", "set -o pipefail; case :$SHELLOPTS: in *:pipefail:*) echo listed;; esac", "listed\n"),
    ("invalid-long-option", "set -o nosuch; echo $?", "2\n"),
    ("invalid-letter", "set -Q; echo $?", "2\n"),
    ("no-args-lists-variables", "myvar='a b'; set | grep '^myvar='", "myvar='a b'\n"),
)


@pytest.mark.parametrize("table, case", SET.params())
def test_set(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_set_x_traces_to_stderr(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh('set -x; echo "a b" $((1+1)); x=5; set +x; echo end')
    assert fmsh.out == bash.out == "a b 2\nend\n"
    assert fmsh.err == bash.err == "+ echo 'a b' 2\n+ x=5\n+ set +x\n"


def test_set_u_unbound_variable_is_fatal(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("set -u; echo $nope; echo after")
    assert fmsh.out == bash.out == ""
    assert fmsh.status != 0 and bash.status != 0
    assert "nope: unbound variable" in fmsh.err


# --- shopt -----------------------------------------------------------------------------------

SHOPT = Table(
    ("s-u", "shopt -s nullglob; echo x*y; shopt -u nullglob; echo x*y", "\nx*y\n"),
    ("p", "shopt -p nullglob; shopt -s nullglob; shopt -p nullglob", "shopt -u nullglob\nshopt -s nullglob\n"),
    ("p-several", "shopt -s nullglob dotglob; shopt -p nullglob dotglob", "shopt -s nullglob\nshopt -s dotglob\n"),
    ("q-status", "shopt -q extglob; echo $?; shopt -s extglob; shopt -q extglob; echo $?", "1\n0\n"),
    (
        "q-all-must-be-on",
        ("shopt -s nullglob; shopt -q nullglob extglob; echo $?; shopt -s extglob; shopt -q nullglob extglob; echo $?"),
        "1\n0\n",
    ),
    ("q-silent", "shopt -q nullglob", "", 1),
    ("query-off-status", "shopt nullglob; echo $?", "nullglob       \toff\n1\n"),
    ("listing", "shopt | grep -c '^nullglob'", "1\n"),
    ("invalid-name", "shopt -s nosuch; echo $?", "1\n"),
    ("o-set-options", "shopt -s -o pipefail; set -o | grep pipefail", "pipefail       \ton\n"),
    ("o-query", "shopt -o pipefail; echo $?", "pipefail       \toff\n1\n"),
    ("o-p", "shopt -o -p errexit", "set +o errexit\n", 1),  # off: status 1, as bash
    ("dotglob", "touch .h v; shopt -s dotglob; echo *", ".h v\n"),
    ("nocaseglob", "touch ABC; shopt -s nocaseglob; echo ab*", "ABC\n"),
    ("lastpipe-set-explicitly", "shopt -s lastpipe; echo x | read v; echo $v", "x\n"),
    ("lastpipe-off", 'shopt -u lastpipe; echo x | read v; echo "[$v]"', "[]\n"),
)


@pytest.mark.parametrize("table, case", SHOPT.params())
def test_shopt(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_shopt_lastpipe_on_by_default(fmsh: Runner) -> None:
    """fmsh's one deliberate difference from bash."""
    r = fmsh("shopt -p lastpipe; shopt -q lastpipe && echo on")
    assert r.out == "shopt -s lastpipe\non\n"


def test_shopt_failglob(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("shopt -s failglob; echo q*z; echo rc=$?")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status)
    assert "no match: q*z" in fmsh.err
