"""Word expansion: quoting, parameters and every `${...}` operator, command substitution,
arithmetic, tilde, globbing, field splitting, "$@"/"$*", brace expansion, arrays, and the
`[[ ]]`, `(( ))` and `for ((;;))` commands.

Cases run the same text in bash and fmsh and require equal stdout and status; each also
states the stdout a user expects.
"""

from __future__ import annotations

from typing import Any

import pytest
from shell_cases import Table, check, check_case

Runner = Any  # the bash_and_fmsh / fmsh fixtures


# `args` prints each of its arguments in <>, so that word boundaries show.
ARGS = "args(){ printf '<%s>' \"$@\"; echo; }; "


# --- quoting -----------------------------------------------------------------------------------

QUOTING = Table(
    ("single-quotes-literal", "x=1; echo 'a  $x \\n `no`'", "a  $x \\n `no`\n"),
    ("double-quotes-expand", 'x=1; echo "a  $x"', "a  1\n"),
    ("double-quote-escapes", 'echo "a\\"b\\\\c\\$d\\`e\\x"', 'a"b\\c$d`e\\x\n'),
    ("backslash-outside", "echo \\$x \\\\ \\a", "$x \\ a\n"),
    ("backslash-newline-joins", "echo ab\\\ncd", "abcd\n"),
    ("dollar-single", "echo $'a\\tb\\x41\\n' | od -An -c | tr -s ' '", " a \\t b A \\n \\n\n"),
    ("dollar-single-quote", "echo $'it\\'s'", "it's\n"),
    ("adjacent-concatenate", ARGS + "x=1; args a'b'\"c$x\"$'d'", "<abc1d>\n"),
    ("empty-quotes-are-an-argument", ARGS + "args '' \"\" a", "<><><a>\n"),
    ("unquoted-empty-vanishes", ARGS + 'e=; args $e a "$e"', "<a><>\n"),
    ("quoted-no-split", ARGS + "x='a  b'; args $x \"$x\" '$x'", "<a><b><a  b><$x>\n"),
    ("quoted-no-glob", "touch a1; x='a*'; echo $x \"$x\" 'a*'", "a1 a* a*\n"),
    ("hash-comment", "echo a #comment\necho b#not", "a\nb#not\n"),
    ("locale-string-plain", 'echo $"hello"', "hello\n"),
)


@pytest.mark.parametrize("table, case", QUOTING.params())
def test_quoting(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- parameters --------------------------------------------------------------------------------

PARAMETERS = Table(
    ("positional", "set -- a b c; echo $1 $3 $#", "a c 3\n"),
    ("positional-above-9", "set -- 1 2 3 4 5 6 7 8 9 10 11; echo $10 ${10} ${11}", "10 10 11\n"),
    ("status", "false; echo $?; true; echo $?", "1\n0\n"),
    ("pid", '[ "$(echo $$)" = "$$" ] && echo same', "same\n"),
    ("bang", 'true & [ "$!" -gt 0 ] && echo pid; wait', "pid\n"),
    ("braces-separate", "x=ab; echo ${x}cd $xcd.", "abcd .\n"),
    ("indirect", "v=x; n=v; echo ${!n}", "x\n"),
    ("names-by-prefix", "a1=1 a2=2; echo ${!a*}; echo ${!a@}", "a1 a2\na1 a2\n"),
    ("last-positional", "set -- a b; echo ${!#}", "b\n"),
    ("count-via-at", "echo ${#@}; set -- a b; echo ${#@} ${#*}", "0\n2 2\n"),
    ("funcname", "f(){ echo $FUNCNAME; }; f", "f\n"),
)


@pytest.mark.parametrize("table, case", PARAMETERS.params())
def test_parameters(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


BRACE_OPERATORS = Table(
    # default / assign / alternate
    ("default-colon", 'u=; echo "${u:-d} ${n:-d} [${v:-d}]"', "d d [d]\n"),
    ("default-no-colon", 'u=; echo "[${u-d}] ${n-d}"', "[] d\n"),
    ("default-not-used", "v=val; echo ${v:-d} ${v-d}", "val val\n"),
    ("default-expands-lazily", "x=abc; echo ${x:-$(echo sub)} ${y:-$(echo sub)}", "abc sub\n"),
    ("default-words-split", ARGS + "args ${x:-a b c}", "<a><b><c>\n"),
    ("default-quoted-inner", ARGS + 'args "${x:-"q w"}"', "<q w>\n"),
    ("assign-colon", 'echo "${x:=new} $x"; y=; echo "${y:=yes}[$y]"', "new new\nyes[yes]\n"),
    ("assign-no-colon", 'y=; echo "${y=no}[$y]"; unset z; echo "${z=set}[$z]"', "[]\nset[set]\n"),
    ("alternate", 'v=1; e=; echo "[${v:+alt}][${e:+alt}][${e+alt}][${n+alt}]"', "[alt][][alt][]\n"),
    ("error-not-triggered", "x=5; echo ${x:?} ${x?msg} ok", "5 5 ok\n"),
    # length
    ("length", "s=hello; echo ${#s}; e=; echo ${#e} ${#nope}", "5\n0 0\n"),
    ("length-unicode", "s=h\u00e9; echo ${#s}", "2\n"),
    # prefix / suffix removal
    ("hash", "p=/a/b/c.tar.gz; echo ${p#*/}", "a/b/c.tar.gz\n"),
    ("hash-hash", "p=/a/b/c.tar.gz; echo ${p##*/}", "c.tar.gz\n"),
    ("percent", "p=/a/b/c.tar.gz; echo ${p%.*}", "/a/b/c.tar\n"),
    ("percent-percent", "p=/a/b/c.tar.gz; echo ${p%%.*}", "/a/b/c\n"),
    ("removal-no-match", "x=abc; echo ${x#z} ${x%z}", "abc abc\n"),
    ("removal-shortest-longest", 'x=aaa; echo "[${x#a*}] [${x##a*}]"', "[aa] []\n"),
    ("removal-quoted-pattern", "x='a*b'; echo ${x%\\*b} ${x%'*b'} ${x#\"a*\"}", "a a b\n"),
    ("removal-pattern-from-variable", "x=file.txt; p='*.'; echo ${x#$p} ${x#\"$p\"}", "txt file.txt\n"),
    ("removal-bracket", "x=abc123; echo ${x%%[0-9]*}", "abc\n"),
    # substitution
    ("replace-first", "s=aXbXc; echo ${s/X/-}", "a-bXc\n"),
    ("replace-all", "s=aXbXc; echo ${s//X/-}", "a-b-c\n"),
    ("replace-anchored-start", "s=aXbXc; echo ${s/#a/S} ${s/#X/S}", "SXbXc aXbXc\n"),
    ("replace-anchored-end", "s=aXbXc; echo ${s/%c/E} ${s/%X/E}", "aXbXE aXbXc\n"),
    ("replace-delete", "s=aXbXc; echo ${s/X} ${s//X/}", "abXc abc\n"),
    ("replace-pattern", "s=hello; echo ${s//[lo]/_} ${s/l*/L}", "he___ heL\n"),
    ("replace-slash", "x=/usr/local/bin; echo ${x//\\//:}", ":usr:local:bin\n"),
    ("replace-quoted-star", "x=abc; echo ${x/b/\"*\"}; p='*'; echo ${x/b/$p}", "a*c\na*c\n"),
    ("replace-space", "x='one two'; y=${x/ /_}; echo $y", "one_two\n"),
    # substring
    ("substring", "s=abcdef; echo ${s:2} ${s:1:3}", "cdef bcd\n"),
    ("substring-negative-offset", "s=abcdef; echo ${s: -2} ${s:(-3):2}", "ef de\n"),
    ("substring-negative-length", "s=abcdef; echo ${s:2:-1} ${s:1:-2}", "cde bcd\n"),
    ("substring-past-end", 'x=ab; echo "[${x:5:1}]"', "[]\n"),
    ("substring-arithmetic", "s=abcdef; i=1; echo ${s:i+1:2}", "cd\n"),
    ("substring-not-default", 'x=abc; echo "${x:-1}" "${x: -1}"', "abc c\n"),
    ("substring-positional", "set -- a b c d; echo ${@:2} ${*:1:2} ${@: -2}", "b c d a b c d\n"),
    ("substring-array", "a=(1 2 3); echo ${a[@]:1} ${a[@]:0:2}", "2 3 1 2\n"),
    # case
    ("upper-all", "s=hello; echo ${s^^}", "HELLO\n"),
    ("upper-first", "s=hello; echo ${s^}", "Hello\n"),
    ("lower-all", "S=HELLO; echo ${S,,}", "hello\n"),
    ("lower-first", "S=HELLO; echo ${S,}", "hELLO\n"),
    ("case-pattern", "x=hello; echo ${x^^[lo]} ${x^[h]}", "heLLO Hello\n"),
    ("case-array", "a=(ab cd); echo ${a[@]^^}", "AB CD\n"),
    # others
    (
        "array-elements-pattern",
        "a=(one two); echo ${a[@]/o/0} ${a[@]#o} ${a[@]/#/pre-}",
        "0ne tw0 ne two pre-one pre-two\n",
    ),
    ("at-Q", "x=hi; y='a b'; echo ${x@Q} ${y@Q}", "'hi' 'a b'\n"),
)


@pytest.mark.parametrize("table, case", BRACE_OPERATORS.params())
def test_brace_operators(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


@pytest.mark.parametrize(
    "script, message",
    [
        pytest.param("echo ${nope:?custom msg}; echo after", "nope: custom msg", id="colon-unset"),
        pytest.param('x=; echo "${x:?empty}"; echo after', "x: empty", id="colon-empty"),
        pytest.param("echo ${nope?}; echo after", "nope: parameter not set", id="no-colon-default-message"),
    ],
)
def test_brace_error_operator(bash_and_fmsh: Runner, script: str, message: str) -> None:
    """`${x:?msg}` prints the message and ends a non-interactive shell."""
    bash, fmsh = bash_and_fmsh(script)
    assert fmsh.out == bash.out == ""
    assert fmsh.status != 0 and bash.status != 0
    assert message in fmsh.err


def test_brace_error_operator_in_subshell(bash_and_fmsh: Runner) -> None:
    check(bash_and_fmsh, '(echo ${nope:?gone}) 2>/dev/null; echo "after $?"', "after 1\n")


def test_bad_substitution(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("echo ${x;y}; echo after")
    assert fmsh.out == bash.out == ""
    assert fmsh.status != 0
    assert "bad substitution" in fmsh.err


# --- command substitution ----------------------------------------------------------------------

COMMAND_SUBSTITUTION = Table(
    ("dollar-paren", "echo $(echo hi)", "hi\n"),
    ("nested", "echo $(echo a $(echo b $(echo c)))", "a b c\n"),
    ("backticks", "echo `echo hi`", "hi\n"),
    ("backticks-nested", "echo `echo a \\`echo b\\``", "a b\n"),
    ("backticks-in-double-quotes", 'echo "`echo \\"q\\"`"', "q\n"),
    ("trailing-newlines-removed", "x=$(printf 'a\\n\\n\\n'); echo \"[$x]\"", "[a]\n"),
    ("inner-newlines-kept-quoted", "echo \"$(printf 'a\\nb')\"", "a\nb\n"),
    ("split-unquoted", ARGS + "args $(printf 'a b\\nc')", "<a><b><c>\n"),
    ("quoted-no-split", ARGS + "args \"$(echo 'in  quotes')\"", "<in  quotes>\n"),
    ("nested-quotes", 'echo "$(echo "nested \\"quotes\\"")"', 'nested "quotes"\n'),
    ("spaces-kept", "x=$(echo '  spaced  '); echo \"[$x]\"", "[  spaced  ]\n"),
    ("empty", "echo \"a$(printf '')b\"", "ab\n"),
    ("status-of-assignment", "x=$(exit 3); echo $?", "3\n"),
    ("status-not-of-echo", "echo $(exit 3); echo $?", "\n0\n"),
    ("subshell-inside", "echo $( (echo sub) )", "sub\n"),
    ("parens-in-strings", "echo $(echo '(' ')')", "( )\n"),
    ("case-inside", "echo $(case x in x) echo matched;; esac)", "matched\n"),
    ("heredoc-inside", 'x=$(cat <<EOF\nheredoc in cs\nEOF\n); echo "$x"', "heredoc in cs\n"),
    ("is-a-subshell", "v=1; echo $(v=3; echo $v) $v", "3 1\n"),
    ("in-arithmetic", "echo $(( 1 + $(echo 2) ))", "3\n"),
    ("stderr-not-captured", 'x=$(echo out; echo err >&2) 2>/dev/null; echo "[$x]"', "[out]\n"),
)


@pytest.mark.parametrize("table, case", COMMAND_SUBSTITUTION.params())
def test_command_substitution(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- arithmetic --------------------------------------------------------------------------------

ARITHMETIC = Table(
    ("precedence", "echo $((1+2*3)) $(( (1+2)*3 )) $(( 2 + 3 * 4 - 6 / 2 ))", "7 9 11\n"),
    ("division-truncates", "echo $((7/2)) $((-7/2)) $((7%3)) $((-7%3))", "3 -3 1 -1\n"),
    ("power", "echo $((2**10)) $((-2**2)) $((2**3**2))", "1024 4 512\n"),
    ("shifts-and-bits", "echo $((1<<4)) $((255>>2)) $((5&3)) $((5|3)) $((5^3)) $((~0))", "16 63 1 7 6 -1\n"),
    ("logical", "echo $((!0)) $((!5)) $((1&&0)) $((1||0)) $((0||0))", "1 0 0 1 0\n"),
    ("comparisons", "echo $((1<2)) $((2<=2)) $((3>4)) $((3>=4)) $((1==1)) $((1!=1))", "1 1 0 0 1 0\n"),
    ("unary", "echo $((-3)) $((+3)) $((- -3))", "-3 3 3\n"),
    (
        "assignment-ops",
        (
            "x=5; echo $((x+=2)) $((x-=1)) $((x*=3)) $((x/=2)) $((x%=4)) $((x<<=2)) $((x>>=1)) $((x&=6)) $((x|=1))"
            " $((x^=2)) $x"
        ),
        "7 6 18 9 1 4 2 2 3 1 1\n",
    ),
    ("increments", "i=1; echo $((i++)) $i $((++i)) $i $((i--)) $((--i))", "1 2 3 3 3 1\n"),
    ("ternary", "echo $((1?2:3)) $((0?2:3)) $((3 > 2 ? 10 : 20))", "2 3 10\n"),
    ("ternary-assignment", "echo $((x=1?4:5)) $x", "4 4\n"),
    ("comma", "echo $((1,2,3))", "3\n"),
    ("hex", "echo $((0x1f)) $((0X10)) $((0xff + 1))", "31 16 256\n"),
    ("octal", "echo $((010)) $((0777))", "8 511\n"),
    ("bases", "echo $((2#101)) $((16#ff)) $((36#z)) $((8#17))", "5 255 35 15\n"),
    ("variables-without-dollar", "a=3 b=4; echo $((a*b)) $(($a+$b))", "12 7\n"),
    ("assignment-persists", "echo $((a=a+1)) $((a=a+1)); echo $a", "1 2\n2\n"),
    ("unset-is-zero", "echo $((nope+1))", "1\n"),
    ("variable-holds-expression", "x=2+3; echo $((x*2))", "10\n"),
    ("empty-variable", "e=; echo $((e+1))", "1\n"),
    ("array-element", "a=(1 2 3); echo $((a[1]+a[2]))", "5\n"),
    ("nested-parens", "echo $(( ((1+2)) * ((3)) ))", "9\n"),
    ("spaces", "echo $((  1  +  1  ))", "2\n"),
    ("big-numbers-wrap", "echo $((2**63)) $((9223372036854775807 + 1))", "-9223372036854775808 -9223372036854775808\n"),
)


@pytest.mark.parametrize("table, case", ARITHMETIC.params())
def test_arithmetic(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


ARITHMETIC_ERRORS = [
    pytest.param("1/0", "division by 0", id="division-by-zero"),
    pytest.param("5%0", "division by 0", id="modulo-by-zero"),
    pytest.param("08", "value too great for base", id="bad-octal"),
    pytest.param("2#3", "value too great for base", id="bad-digit"),
    pytest.param("1 +", "operand expected", id="missing-operand"),
    pytest.param("1 2", "syntax error", id="two-operands"),
]


@pytest.mark.parametrize("expression, message", ARITHMETIC_ERRORS)
def test_arithmetic_errors(bash_and_fmsh: Runner, expression: str, message: str) -> None:
    """An arithmetic error is reported when the expansion runs, and ends the -c command:
    what ran before it has run, what follows does not."""
    bash, fmsh = bash_and_fmsh(f"echo before; echo $(( {expression} )); echo after")
    assert (fmsh.out, fmsh.status) == (bash.out, bash.status) == ("before\n", 1)
    assert message in fmsh.err


@pytest.mark.parametrize("expression, message", ARITHMETIC_ERRORS)
def test_arithmetic_errors_only_when_evaluated(bash_and_fmsh: Runner, expression: str, message: str) -> None:
    """A bad expression in a branch that does not run is no error at all."""
    check(bash_and_fmsh, f"echo before; if false; then echo $(( {expression} )); fi; echo after", "before\nafter\n")


# --- tilde -------------------------------------------------------------------------------------

TILDE = Table(
    ("home", "HOME=/h; echo ~ ~/x", "/h /h/x\n"),
    ("quoted-not-expanded", "HOME=/h; echo \"~\" '~' \\~", "~ ~ ~\n"),
    ("not-at-start", "HOME=/h; echo x~ a/~", "x~ a/~\n"),
    ("unknown-user", "echo ~nosuchuser_xyz", "~nosuchuser_xyz\n"),
    ("root-user", "echo ~root", "/root\n"),
    ("in-assignment", "HOME=/h; x=~/p; echo $x", "/h/p\n"),
    ("after-colon-in-assignment", "HOME=/h; P=/bin:~/bin; echo $P", "/bin:/h/bin\n"),
    ("not-in-default-word-quoted", 'HOME=/h; echo "${y:-~}"', "~\n"),
    ("plus-minus", "cd /tmp; cd /usr; echo ~+ ~-", "/usr /tmp\n"),
    ("not-from-variable", "HOME=/h; t='~'; echo $t", "~\n"),
)


@pytest.mark.parametrize("table, case", TILDE.params())
def test_tilde(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- globbing ----------------------------------------------------------------------------------

GLOB_FILES = "touch a1 a2 b1 abc .hid 'a b'; mkdir -p d/e; touch d/e/f d/g; "

GLOBBING = Table(
    ("star", GLOB_FILES + "echo a*", "a b a1 a2 abc\n"),
    ("question", GLOB_FILES + "echo ?1", "a1 b1\n"),
    ("bracket", GLOB_FILES + "echo [ab]1", "a1 b1\n"),
    ("bracket-negated", GLOB_FILES + "echo [!a]1 [^a]1", "b1 b1\n"),
    ("bracket-range", GLOB_FILES + "echo a[0-9]", "a1 a2\n"),
    ("bracket-class", GLOB_FILES + "echo [[:alpha:]]bc a[[:digit:]]", "abc a1 a2\n"),
    ("sorted", GLOB_FILES + "echo *", "a b a1 a2 abc b1 d\n"),
    ("directories", GLOB_FILES + "echo d/*/f d/*", "d/e/f d/e d/g\n"),
    ("trailing-slash-dirs-only", GLOB_FILES + "echo */", "d/\n"),
    ("no-match-kept", GLOB_FILES + "echo z* q?x [xyz]9", "z* q?x [xyz]9\n"),
    ("dot-files-hidden", GLOB_FILES + "echo *hid", "*hid\n"),
    ("dot-files-explicit", GLOB_FILES + "echo .h*", ".hid\n"),
    ("space-in-name-one-word", GLOB_FILES + 'for f in a\\ *; do echo "[$f]"; done', "[a b]\n"),
    ("quoted-not-glob", GLOB_FILES + "echo 'a*' \"a\"* \\a*", "a* a b a1 a2 abc a b a1 a2 abc\n"),
    ("variable-globs-unquoted", GLOB_FILES + "x='a?'; echo $x \"$x\"", "a1 a2 a?\n"),
    ("unmatched-bracket-literal", "touch a; echo [a", "[a\n"),
    ("nullglob", GLOB_FILES + "shopt -s nullglob; echo z* end", "end\n"),
    ("dotglob", GLOB_FILES + "shopt -s dotglob; echo *hid", ".hid\n"),
    ("in-assignment-not-expanded", GLOB_FILES + 'x=a*; echo "$x"', "a*\n"),
    ("noglob", GLOB_FILES + "set -f; echo a*", "a*\n"),
    ("globstar", GLOB_FILES + "shopt -s globstar; echo d/**", "d/ d/e d/e/f d/g\n"),
    ("extglob", "touch a.c b.h c.o; shopt -s extglob\necho *.@(c|h) !(*.o)", "a.c b.h a.c b.h\n"),
    # a host pattern left unquoted: its reversed range `1-0` matches nothing, the rest still does
    (
        "reversed-range",
        "touch web0 web2; echo web[01-03] web[3-1]; [[ 3 == [01-03] ]] && echo 3",
        "web0 web[3-1]\n3\n",
    ),  # fmt: skip
)


@pytest.mark.parametrize("table, case", GLOBBING.params())
def test_globbing(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- field splitting -----------------------------------------------------------------------------

SPLITTING = Table(
    ("whitespace-runs", ARGS + "x='a  b\tc\nd'; args $x", "<a><b><c><d>\n"),
    ("leading-trailing-dropped", ARGS + "x=' a '; args $x", "<a>\n"),
    ("colon", ARGS + "IFS=:; x='a:b::c'; args $x", "<a><b><><c>\n"),
    ("mixed", ARGS + "IFS=', '; x='a, b,c'; args $x", "<a><b><c>\n"),
    ("trailing-non-whitespace", ARGS + "IFS=:; x='a:b:'; args $x", "<a><b>\n"),
    ("leading-non-whitespace", ARGS + "IFS=:; x=':a'; args $x", "<><a>\n"),
    ("empty-ifs-no-split", ARGS + "IFS=; x='a b'; args $x", "<a b>\n"),
    ("unset-ifs-default", ARGS + "unset IFS; x='a:b c'; args $x", "<a:b><c>\n"),
    ("only-expansions-split", ARGS + "IFS=:; x=a:b; args c:d $x", "<c:d><a><b>\n"),
    ("command-substitution-split", ARGS + "IFS=:; args $(echo a:b)", "<a><b>\n"),
    ("arithmetic-split", ARGS + "IFS=0; args $((102))", "<1><2>\n"),
    ("for-loop-words", "x='1 2 3'; for i in $x; do echo $i; done", "1\n2\n3\n"),
    ("ifs-in-read-not-affected", ARGS + "IFS=:; read -r a <<< 'x:y'; args \"$a\"", "<x:y>\n"),
    ("ifs-scoped-to-function", ARGS + "f(){ local IFS=,; x='a,b'; args $x; }; f; x='a,b'; args $x", "<a><b>\n<a,b>\n"),
)


@pytest.mark.parametrize("table, case", SPLITTING.params())
def test_field_splitting(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- "$@" and "$*" -----------------------------------------------------------------------------

AT_STAR = Table(
    ("quoted-at-keeps-words", ARGS + "set -- 'a b' c; args \"$@\"", "<a b><c>\n"),
    ("quoted-star-joins", ARGS + "set -- 'a b' c; args \"$*\"", "<a b c>\n"),
    ("unquoted-at-splits", ARGS + "set -- 'a b' c; args $@", "<a><b><c>\n"),
    ("unquoted-star-splits", ARGS + "set -- 'a b' c; args $*", "<a><b><c>\n"),
    ("star-joins-with-ifs", ARGS + 'set -- a b c; IFS=-; args "$*" "${*}"', "<a-b-c><a-b-c>\n"),
    ("star-empty-ifs", ARGS + 'set -- a b c; IFS=; args "$*"', "<abc>\n"),
    ("at-ignores-ifs", ARGS + 'set -- a b c; IFS=-; args "$@"', "<a><b><c>\n"),
    ("no-params-at", ARGS + 'set --; args "$@"; args x"$@"y', "<>\n<xy>\n"),
    ("no-params-star", ARGS + 'set --; args "$*"', "<>\n"),
    ("empty-params-kept", ARGS + "set -- '' ''; args \"$@\"; args $@", "<><>\n<>\n"),
    ("prefix-suffix", ARGS + 'set -- a b; args "x$@y"', "<xa><by>\n"),
    ("for-default-is-at", "set -- 'a b' c; for a; do echo \"[$a]\"; done", "[a b]\n[c]\n"),
    ("in-function", ARGS + "f(){ args \"$@\"; echo $#; }; f 1 '2 3'", "<1><2 3>\n2\n"),
    ("array-at-vs-star", ARGS + 'a=(x \'y z\'); args "${a[@]}"; args "${a[*]}"', "<x><y z>\n<x y z>\n"),
)


@pytest.mark.parametrize("table, case", AT_STAR.params())
def test_at_and_star(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- brace expansion ---------------------------------------------------------------------------

BRACES = Table(
    ("list", "echo {a,b,c}", "a b c\n"),
    ("with-affixes", "echo x{a,b}y", "xay xby\n"),
    ("empty-member", "echo x{,y}z", "xz xyz\n"),
    ("product", "echo {a,b}{1,2}", "a1 a2 b1 b2\n"),
    ("nested", "echo {x,{y,z}}", "x y z\n"),
    ("range", "echo {1..5}", "1 2 3 4 5\n"),
    ("range-down", "echo {5..1}", "5 4 3 2 1\n"),
    ("range-zero-padded", "echo {01..10}", "01 02 03 04 05 06 07 08 09 10\n"),
    ("range-step", "echo {1..10..3}", "1 4 7 10\n"),
    ("range-negative", "echo {-2..2}", "-2 -1 0 1 2\n"),
    ("letters", "echo {a..e}", "a b c d e\n"),
    ("letters-step", "echo {a..e..2}", "a c e\n"),
    ("range-with-list", "echo {1..3}{a,b}", "1a 1b 2a 2b 3a 3b\n"),
    ("range-affixes", "echo pre{1..3}post", "pre1post pre2post pre3post\n"),
    ("single-not-expanded", "echo {a} {} a{b", "{a} {} a{b\n"),
    ("quoted-not-expanded", "echo \"{a,b}\" \\{a,b\\} '{a,b}'", "{a,b} {a,b} {a,b}\n"),
    ("variable-not-range", "x=1; echo {$x..3}", "{1..3}\n"),
    ("before-variable-expansion", "a=1 b=2; echo {$a,$b}", "1 2\n"),
    ("mkdir-idiom", "mkdir -p d/{x,y}; ls d", "x\ny\n"),
    ("not-in-assignment", 'x={a,b}; echo "$x"', "{a,b}\n"),
)


@pytest.mark.parametrize("table, case", BRACES.params())
def test_brace_expansion(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- arrays ------------------------------------------------------------------------------------

ARRAYS = Table(
    ("assign-and-index", "a=(x 'y z' w); echo ${#a[@]} \"${a[1]}\" ${a[-1]} ${a[2]}", "3 y z w w\n"),
    ("at-and-star", ARGS + 'a=(x \'y z\'); args "${a[@]}" "${a[*]}"', "<x><y z><x y z>\n"),
    ("bare-name-is-element-0", "a=(a b); echo $a ${a[0]}", "a a\n"),
    ("scalar-as-array", "a=x; echo ${a[0]} ${#a[@]}", "x 1\n"),
    ("element-assignment", "a=(); a[5]=f; echo ${!a[@]} ${a[5]}", "5 f\n"),
    ("append-array", "a=(1); a[5]=f; a+=(g h); echo ${!a[@]}; echo ${a[@]}", "0 5 6 7\n1 f g h\n"),
    ("append-element", "a=(1 2); a[1]+=x; echo ${a[@]}", "1 2x\n"),
    ("append-scalar-to-0", "a=(1 2); a+=x; echo ${a[@]}", "1x 2\n"),
    ("explicit-indices", "a=([3]=c [1]=a); echo ${!a[@]} ${a[@]}", "1 3 a c\n"),
    ("index-arithmetic", "a=(1 2 3); i=1; echo ${a[i+1]} ${a[$i]}", "3 2\n"),
    ("length-of-element", "a=(abc de); echo ${#a[0]} ${#a[1]}", "3 2\n"),
    ("unset-element-sparse", "a=(a b c d); unset 'a[0]'; echo ${a[@]} ${!a[@]} ${#a[@]}", "b c d 1 2 3 3\n"),
    ("unset-whole", "a=(1 2); unset a; echo ${#a[@]}", "0\n"),
    ("missing-element", 'a=([0]=x); a[2]=z; echo "${#a[@]} ${a[1]-unset}"', "2 unset\n"),
    ("copy", 'a=(1 \'2 3\'); b=("${a[@]}"); echo ${#b[@]} "${b[1]}"', "2 2 3\n"),
    ("loop", 'a=(x \'y z\'); for e in "${a[@]}"; do echo "[$e]"; done', "[x]\n[y z]\n"),
    ("from-glob", "touch f1 f2; a=(f*); echo ${#a[@]}", "2\n"),
    ("empty-array", ARGS + 'a=(); args "${a[@]}"; echo ${#a[@]}', "<>\n0\n"),
    ("assoc-assign", "declare -A m; m[one]=1; m[two]=2; echo ${m[one]}${m[two]} ${#m[@]}", "12 2\n"),
    ("assoc-literal", "declare -A m=([k]=v [j]=w); echo ${m[k]}${m[j]}", "vw\n"),
    (
        "assoc-keys",
        'declare -A m=([a]=1 [b]=2 [c]=3); for k in "${!m[@]}"; do echo "$k=${m[$k]}"; done | sort',
        "a=1\nb=2\nc=3\n",
    ),
    ("assoc-append", "declare -A m=([a]=1); m+=([b]=2); m[a]+=x; echo ${#m[@]} ${m[a]}", "2 1x\n"),
    ("assoc-key-with-space", "declare -A m; m['a b']=1; k='a b'; echo ${m[$k]} \"${m[a b]}\"", "1 1\n"),
    ("assoc-literal-key-with-space", "declare -A m=(['a b']=1); echo \"${m[a b]}\"", "1\n"),
    ("assoc-unset", "declare -A m=([x]=1 [y]=2); unset 'm[x]'; echo ${!m[@]}", "y\n"),
    ("assoc-missing-default", 'declare -A m=([k]=v); echo "${m[nope]:-default}"', "default\n"),
    ("assoc-values-sorted", "declare -A m=([a]=3 [b]=1 [c]=2); printf '%s\\n' \"${m[@]}\" | sort", "1\n2\n3\n"),
)


@pytest.mark.parametrize("table, case", ARRAYS.params())
def test_arrays(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- [[ ]] -------------------------------------------------------------------------------------

DOUBLE_BRACKETS = Table(
    ("glob-pattern", "[[ abc == a* ]] && echo yes", "yes\n"),
    ("quoted-pattern-literal", '[[ abc == "a*" ]] || echo no; [[ \'a*\' == "a*" ]] && echo lit', "no\nlit\n"),
    (
        "pattern-from-variable",
        "p='a*'; [[ abc == $p ]] && echo glob; [[ abc == \"$p\" ]] || echo literal",
        "glob\nliteral\n",
    ),
    ("single-equals", "[[ abc = a?c ]] && echo yes", "yes\n"),
    ("not-equal", "[[ abc != x* ]] && echo ne", "ne\n"),
    ("bracket-pattern", "[[ a == [abc] ]] && echo br", "br\n"),
    ("string-order", "[[ b < c ]] && echo lt; [[ c > b ]] && echo gt; [[ 10 < 9 ]] && echo strcmp", "lt\ngt\nstrcmp\n"),
    ("numeric", "[[ 10 -lt 9 ]] || echo numeric; [[ 1+1 -eq 2 ]] && echo arith", "numeric\narith\n"),
    (
        "regex-groups",
        (
            '[[ foo123 =~ ^([a-z]+)([0-9]+)$ ]] && echo "${BASH_REMATCH[0]} ${BASH_REMATCH[1]}'
            ' ${BASH_REMATCH[2]} ${#BASH_REMATCH[@]}"'
        ),
        "foo123 foo 123 3\n",
    ),
    ("regex-from-variable", "re='^a.c$'; [[ abc =~ $re ]] && echo m", "m\n"),
    (
        "regex-quoted-is-literal",
        '[[ abc =~ "a.c" ]] || echo literal; [[ a.c =~ "a.c" ]] && echo match',
        "literal\nmatch\n",
    ),
    ("regex-partial-match", "[[ xabcx =~ b ]] && echo found", "found\n"),
    ("regex-no-match-status", "[[ abc =~ ^z ]]; echo $?", "1\n"),
    ("regex-rematch-cleared", '[[ ab =~ (a) ]]; [[ ab =~ z ]]; echo "[${BASH_REMATCH[0]}]"', "[]\n"),
    (
        "v-set",
        "v=1; e=; [[ -v v ]] && echo set; [[ -v e ]] && echo empty-set; [[ -v nope ]] || echo unset",
        "set\nempty-set\nunset\n",
    ),
    ("v-array-element", "a=(1); [[ -v a[0] ]] && echo el; [[ -v a[3] ]] || echo noel", "el\nnoel\n"),
    (
        "and-or-not",
        "[[ -n x && -z '' ]] && echo and; [[ -z x || -n x ]] && echo or; [[ ! -z x ]] && echo not",
        "and\nor\nnot\n",
    ),
    ("grouping", "[[ ( 1 -eq 1 ) && ( 2 -gt 1 ) ]] && echo par; [[ ! ( a == b ) ]] && echo negpar", "par\nnegpar\n"),
    ("no-word-splitting", "x='a b'; [[ $x == 'a b' ]] && echo nosplit", "nosplit\n"),
    ("no-globbing", "touch a1; x='a*'; [[ $x == 'a*' ]] && echo noglob", "noglob\n"),
    ("empty-and-nonempty", "[[ '' ]]; echo $?; [[ x ]]; echo $?", "1\n0\n"),
    ("file-tests", "[[ -f /etc/passwd && -d / && -e /etc ]] && echo files", "files\n"),
    ("short-circuit", "[[ -n '' && $(echo called >&2) ]]; echo $?", "1\n"),
    ("extglob-in-pattern", "shopt -s extglob\n[[ foo.c == *.@(c|h) ]] && echo ext", "ext\n"),
)


@pytest.mark.parametrize("table, case", DOUBLE_BRACKETS.params())
def test_double_brackets(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- (( )) and for ((;;)) ----------------------------------------------------------------------

ARITH_COMMANDS = Table(
    ("true", "(( 3 > 2 )) && echo yes", "yes\n"),
    ("zero-is-false", "(( 0 )); echo $?", "1\n"),
    ("assignment", "(( x = 5 + 2 )); echo $x", "7\n"),
    ("increment", "x=7; ((x++)); echo $x", "8\n"),
    ("post-increment-of-zero-fails", 'x=0; ((x++)); echo "$? $x"', "1 1\n"),
    ("in-if", "x=5; if ((x > 3)); then echo big; fi", "big\n"),
    ("in-while", "i=0; while ((i < 3)); do ((i++)); done; echo $i", "3\n"),
    ("division-by-zero-is-status", "(( 1/0 )) 2>/dev/null; echo $?", "1\n"),
    ("syntax-error-is-status", "((1 +)) 2>/dev/null; echo $?", "1\n"),
    ("for-basic", "for ((i=0; i<3; i++)); do echo $i; done", "0\n1\n2\n"),
    ("for-two-variables", "for ((i=0, j=10; i<j; i+=4, j--)); do echo $i $j; done", "0 10\n4 9\n"),
    ("for-infinite", "for ((;;)); do echo once; break; done", "once\n"),
    ("for-brace-body", "for ((i=3; i; i--)) { echo $i; }", "3\n2\n1\n"),
    ("for-continue", "n=0; for ((i=0;i<5;i++)); do ((i==2)) && continue; ((n+=i)); done; echo $n", "8\n"),
    ("for-variable-after", "for ((i=0; i<3; i++)); do :; done; echo $i", "3\n"),
    ("for-empty-body-status", "for ((i=0; i<0; i++)); do false; done; echo $?", "0\n"),
)


@pytest.mark.parametrize("table, case", ARITH_COMMANDS.params())
def test_arithmetic_commands(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)
