"""The builtins that read and write: `echo`, `printf`, `read`, `mapfile`/`readarray`.

Most cases run the same text in bash and in fmsh and require the same output and status
(bash is the specification); each case also states the output a user expects, so a
reader sees the behaviour without running bash.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from conftest import FMSH_ARGV
from shell_cases import Table, check_case, like_bash

Runner = Any  # the bash_and_fmsh / fmsh fixtures


# --- echo ----------------------------------------------------------------------------------

ECHO = Table(
    ("plain", "echo a  b   c", "a b c\n"),
    ("no-args", "echo", "\n"),
    ("n", "echo -n a; echo b", "ab\n"),
    ("no-escapes-by-default", r"echo 'a\tb\n'", "a\\tb\\n\n"),
    ("e-tab-newline", r"echo -e 'a\tb\nc'", "a\tb\nc\n"),
    ("E-disables", r"echo -E 'a\tb'", "a\\tb\n"),
    ("last-flag-wins", r"echo -e -E 'a\nb'", "a\\nb\n"),
    ("combined-en", r"echo -en 'x\ty'; echo", "x\ty\n"),
    ("e-octal", r"echo -e '\0101\0102'", "AB\n"),
    ("e-hex", r"echo -e '\x41\x4a'", "AJ\n"),
    ("e-unicode", r"echo -e '\u00e9\U0001F600'", "\u00e9\U0001f600\n"),
    ("e-backslash", r"echo -e 'a\\b'", "a\\b\n"),
    ("e-c-stops", r"echo -e 'ab\cde'; echo z", "abz\n"),
    ("e-escape-char", r"echo -e '\e[0m' | od -An -c | tr -s ' '", " 033 [ 0 m \\n\n"),
    ("e-controls", r"echo -e '\a\b\f\v\r' | od -An -c | tr -s ' '", " \\a \\b \\f \\v \\r \\n\n"),
    ("e-unknown-kept", r"echo -e '\q'", "\\q\n"),
    ("double-dash-printed", "echo -- -n", "-- -n\n"),
    ("not-an-option", "echo -nx a", "-nx a\n"),
    ("lone-dash", "echo - a", "- a\n"),
    ("option-after-word", "echo a -n", "a -n\n"),
)


@pytest.mark.parametrize("table, case", ECHO.params())
def test_echo(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


# --- printf --------------------------------------------------------------------------------

PRINTF = Table(
    ("s", "printf '%s|' a 'b c'; echo", "a|b c|\n"),
    ("d", "printf '%d\\n' 42", "42\n"),
    ("i", "printf '%i\\n' -7", "-7\n"),
    ("o", "printf '%o\\n' 8", "10\n"),
    ("x", "printf '%x\\n' 255", "ff\n"),
    ("X", "printf '%X\\n' 255", "FF\n"),
    ("u", "printf '%u\\n' 3", "3\n"),
    ("u-negative", "printf '%u\\n' -1", "18446744073709551615\n"),
    ("x-negative", "printf '%x\\n' -1", "ffffffffffffffff\n"),
    ("c", "printf '%c\\n' word", "w\n"),
    ("e", "printf '%e\\n' 1234.5", "1.234500e+03\n"),
    ("E", "printf '%E\\n' 0.000123", "1.230000E-04\n"),
    ("f", "printf '%f\\n' 3.14159", "3.141590\n"),
    ("g", "printf '%g %g %g\\n' 0.0001 100000 1000000", "0.0001 100000 1e+06\n"),
    ("G", "printf '%G\\n' 1e20", "1E+20\n"),
    ("b-escapes", r"printf '%b\n' 'a\tb\0101'", "a\tbA\n"),
    ("b-c-stops-everything", r"printf '%b|' 'a\cb' c; echo", "a\n"),
    ("s-no-escapes", r"printf '%s\n' 'a\tb'", "a\\tb\n"),
    ("percent", "printf '%d%%\\n' 50", "50%\n"),
    ("q-space", "printf '%q\\n' 'a b'", "a\\ b\n"),
    ("q-quote", "printf '%q\\n' \"it's\"", "it\\'s\n"),
    ("q-dollar", "printf '%q\\n' '$x'", "\\$x\n"),
    ("q-empty", "printf '%q\\n' ''", "''\n"),
    ("q-round-trip", 'v=\'a "b" $c\'; eval "w=$(printf %q "$v")"; [ "$v" = "$w" ] && echo same', "same\n"),
    ("width", "printf '[%5s][%-5s]\\n' ab ab", "[   ab][ab   ]\n"),
    ("precision-string", "printf '[%.2s][%5.1s]\\n' abc xyz", "[ab][    x]\n"),
    ("zero-pad", "printf '[%05d][%08.3f]\\n' 42 -3.14159", "[00042][-003.142]\n"),
    ("plus-space", "printf '[%+d][% d][%-+5d]\\n' 5 5 3", "[+5][ 5][+3   ]\n"),
    ("int-precision", "printf '%.3d\\n' 7", "007\n"),
    ("alt-hex", "printf '%#x %#X\\n' 255 255", "0xff 0XFF\n"),
    ("alt-octal", "printf '%#o\\n' 8", "010\n"),
    ("float-precision", "printf '[%.3f][%10.2f][%-8.1e]\\n' 2.5 3.14159 1234", "[2.500][      3.14][1.2e+03 ]\n"),
    ("round-half-even", "printf '%.0f %.0f\\n' 2.5 3.5", "2 4\n"),
    ("star-width", "printf '[%*d]\\n' 5 42", "[   42]\n"),
    ("star-negative-width", "printf '[%*s]\\n' -4 ab", "[ab  ]\n"),
    ("star-precision", "printf '[%.*f]\\n' 2 3.14159", "[3.14]\n"),
    ("star-both", "printf '[%*.*s]\\n' 6 2 abcdef", "[    ab]\n"),
    ("format-reused", "printf '%s-%s\\n' a b c d e", "a-b\nc-d\ne-\n"),
    ("reused-with-literal-only", "printf 'x\\n' a b", "x\n"),
    ("missing-args-empty-zero", "printf '[%s][%d]\\n'", "[][0]\n"),
    ("fewer-args", "printf '%d %s|\\n' 1", "1 |\n"),
    ("no-newline-added", "printf %s ab > f; od -An -c f | tr -s ' '", " a b\n"),
    ("format-escapes", r"printf '\101\x42\u0043\t|\n'", "ABC\t|\n"),
    ("char-value", "printf '%d %d\\n' \"'A\" '\"B'", "65 66\n"),
    ("hex-octal-input", "printf '%d %d %d %i\\n' 0x1f 010 -0x10 0X10", "31 8 -16 16\n"),
    ("leading-space-number", "printf '%d\\n' ' 42'", "42\n"),
    ("arg-that-looks-like-format", "printf '%s\\n' '%d'", "%d\n"),
    ("option-like-arg", "printf '%s\\n' -v", "-v\n"),
    ("double-dash", "printf -- '%s\\n' x", "x\n"),
    ("v-assigns", "printf -v v '%03d' 7; echo \"[$v]\"", "[007]\n"),
    ("v-prints-nothing", "printf -v v 'hello'", ""),
    ("v-array-element", "printf -v 'a[2]' %s hi; echo \"${a[2]}\"", "hi\n"),
    ("v-format-reused", "printf -v v '%s,' a b c; echo \"$v\"", "a,b,c,\n"),
)


@pytest.mark.parametrize("table, case", PRINTF.params())
def test_printf(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


@pytest.mark.parametrize(
    "script, expected",
    [
        pytest.param("printf '%d\\n' abc", "0\n", id="word"),
        pytest.param("printf '%d\\n' -", "0\n", id="dash"),
        pytest.param("printf '%f\\n' abc", "0.000000\n", id="float-word"),
        pytest.param("printf '%d\\n' 12abc", "12\n", id="trailing-garbage"),
        pytest.param("printf '%i\\n' 3.5", "3\n", id="decimal-point"),
    ],
)
def test_printf_invalid_number(bash_and_fmsh: Runner, script: str, expected: str) -> None:
    """An invalid number: what could be converted is printed, the status is 1, and the
    message names the argument."""
    bash, fmsh = bash_and_fmsh(script)
    assert (fmsh.out, fmsh.status) == (expected, 1) == (bash.out, bash.status)
    assert "invalid number" in fmsh.err


def test_printf_status_resets_after_invalid_number(fmsh: Runner) -> None:
    r = fmsh("printf '%d' x 2>/dev/null; echo \" $?\"; printf '%d' 1; echo \" $?\"")
    assert r.out == "0 1\n1 0\n"


@pytest.mark.parametrize(
    "script, message, status",
    [
        pytest.param("printf", "usage", 2, id="no-format"),
        pytest.param("printf '%z'", "missing format character", 1, id="missing-conversion"),
        pytest.param("printf '%y' 1", "invalid format character", 1, id="bad-conversion"),
        pytest.param("printf -v 1bad x", "not a valid identifier", 2, id="bad-v-name"),
    ],
)
def test_printf_errors(bash_and_fmsh: Runner, script: str, message: str, status: int) -> None:
    bash, fmsh = bash_and_fmsh(script)
    assert fmsh.status == bash.status == status
    assert message in fmsh.err
    assert fmsh.out == ""


# --- read ----------------------------------------------------------------------------------

READ = Table(
    ("one-name", 'echo hello | { read v; echo "[$v]"; }', "[hello]\n"),
    ("reply", "echo '  hi  ' | { read; echo \"[$REPLY]\"; }", "[  hi  ]\n"),
    ("trims-ifs-whitespace", "read -r a <<< '  lead trail  '; echo \"[$a]\"", "[lead trail]\n"),
    ("ifs-empty-keeps-spaces", "echo '  hi  ' | { IFS= read v; echo \"[$v]\"; }", "[  hi  ]\n"),
    (
        "names-last-takes-rest",
        "echo '  one  two three four  ' | { read a b c; echo \"[$a][$b][$c]\"; }",
        "[one][two][three four]\n",
    ),
    ("too-few-fields", "read a b c <<< '1 2'; echo \"[$a][$b][$c]\"", "[1][2][]\n"),
    ("ifs-colon", "IFS=: read x y <<< 'a:b:c'; echo \"[$x][$y]\"", "[a][b:c]\n"),
    ("ifs-empty-field", "IFS=, read -r a b c <<< '1,,3'; echo \"[$a][$b][$c]\"", "[1][][3]\n"),
    ("ifs-trailing-separator-dropped", "IFS=, read x y <<< 'a,b,'; echo \"[$x][$y]\"", "[a][b]\n"),
    ("ifs-trailing-separators-kept", "IFS=, read x y <<< 'a,b,c,'; echo \"[$x][$y]\"", "[a][b,c,]\n"),
    ("ifs-is-temporary", "IFS=: read x y <<< 'a:b'; printf '<%s>' \"$IFS\"; echo", "< \t\n>\n"),
    ("backslash-removed", r"""printf 'a\\b c\n' | { read x; echo "$x"; }""", "ab c\n"),
    ("r-keeps-backslash", r"""printf 'a\\b c\n' | { read -r x; echo "$x"; }""", "a\\b c\n"),
    ("backslash-newline-continues", r"""printf 'a\\\nb\n' | { read x; echo "$x"; }""", "ab\n"),
    ("r-backslash-newline-ends", r"""printf 'a\\\nb\n' | { read -r x; echo "$x"; }""", "a\\\n"),
    ("escaped-space-does-not-split", r"""read a b <<< 'a\ b c'; echo "[$a][$b]";""", "[a b][c]\n"),
    ("r-escaped-space-splits", r"""read -r a b <<< 'a\ b c'; echo "[$a][$b]";""", "[a\\][b c]\n"),
    ("tab-kept-inside", "read -r v <<< $'tab\\tin'; echo \"[$v]\"", "[tab\tin]\n"),
    ("a-array", "read -a arr <<< 'a b c'; echo \"${#arr[@]} ${arr[1]}\"", "3 b\n"),
    ("a-trims", "read -a arr <<< '  x   y  '; echo ${#arr[@]}", "2\n"),
    ("a-ifs", "IFS=: read -r -a p <<< '/bin:/usr/bin'; echo \"${p[1]}\"", "/usr/bin\n"),
    (
        "a-empty-fields",
        "IFS=, read -a arr <<< 'a,b,,c,'; echo ${#arr[@]}; printf '<%s>' \"${arr[@]}\"; echo",
        "4\n<a><b><><c>\n",
    ),
    ("a-replaces-old", "arr=(1 2 3 4); read -a arr <<< 'x'; echo \"${#arr[@]} ${arr[0]}\"", "1 x\n"),
    ("d-delimiter", "printf 'x;y' | { read -d ';' v; echo \"$v rc=$?\"; }", "x rc=0\n"),
    ("d-empty-is-nul", "printf 'x\\0y' | { read -r -d '' v; echo \"$? [$v]\"; }", "0 [x]\n"),
    ("d-newline-not-special", "read -d '' v <<< $'a\\nb'; echo \"$? [$v]\"", "1 [a\nb]\n"),
    ("n-count", 'printf abcdef | { read -n 3 v; echo "$v"; }', "abc\n"),
    ("n-stops-at-newline", "printf 'ab\\ncd' | { read -n 4 v; echo \"[$v]\"; }", "[ab]\n"),
    ("n-leaves-rest", 'printf abcdef | { read -n 2 a; read b; echo "$a/$b"; }', "ab/cdef\n"),
    ("n-zero", 'read -n 0 v <<< x; echo "$? [$v]"', "0 []\n"),
    ("n-two-names", 'read -n 2 a b <<< xyz; echo "[$a][$b]"', "[xy][]\n"),
    ("N-ignores-newline", "printf 'ab\\ncd' | { read -N 4 v; echo \"[$v]\"; }", "[ab\nc]\n"),
    ("N-no-splitting", "read -N 3 v <<< 'a b'; echo \"[$v]\"", "[a b]\n"),
    ("s-silent-still-reads", 'read -s v <<< secret; echo "$v"', "secret\n"),
    ("p-prompt-not-shown-without-tty", "read -p 'prompt> ' v <<< x; echo \"$v\"", "x\n"),
    ("u-fd", 'echo data > f; exec 3<f; read -u 3 v; echo "$v"', "data\n"),
    ("u-keeps-position", "printf '1\\n2\\n' > f; exec 3<f; read -u 3 a; read -u 3 b; echo $a$b", "12\n"),
    ("file-position-kept", "printf '1\\n2\\n3\\n' > f; { read a; read b; cat; } < f; echo $a$b", "3\n12\n"),
    ("eof-without-newline", 'printf tail | { read v; echo "rc=$? v=$v"; }', "rc=1 v=tail\n"),
    ("eof-empty", 'x=old; read x < /dev/null; echo "$? [$x]"', "1 []\n"),
    ("while-read-loop", "printf 'a b\\n c\\n' | while read -r l; do echo \"<$l>\"; done", "<a b>\n<c>\n"),
    (
        "while-read-last-line-unterminated",
        "printf '1\\n2' | { while read l; do echo $l; done; echo \"last=$l\"; }",
        "1\nlast=2\n",
    ),
    ("while-read-or-last-line", "printf '1\\n2' | while read l || [ -n \"$l\" ]; do echo $l; done", "1\n2\n"),
)


@pytest.mark.parametrize("table, case", READ.params())
def test_read(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_read_lastpipe_is_fmsh_default(fmsh: Runner) -> None:
    """fmsh runs the last stage of a pipeline in the shell (lastpipe on)."""
    assert fmsh("echo 'a b' | read x y; echo \"$x-$y\"").out == "a-b\n"
    assert fmsh("shopt -u lastpipe; echo 'a b' | read x y; echo \"[$x]\"").out == "[]\n"


def test_read_timeout(fmsh: Runner) -> None:
    """-t with no input: status above 128, and it does not wait longer than asked."""
    start = time.monotonic()
    r = fmsh('mkfifo p; exec 3<>p; read -t 0.3 -u 3 v; echo "$?"')
    elapsed = time.monotonic() - start
    assert int(r.out) > 128
    assert 0.25 < elapsed < 5


def test_read_timeout_with_data(bash_and_fmsh: Runner) -> None:
    r = like_bash(bash_and_fmsh, 'mkfifo p; exec 3<>p; echo line >&3; read -t 1 -u 3 v; echo "$? [$v]"')
    assert r.out == "0 [line]\n"


def test_read_timeout_keeps_partial_input(bash_and_fmsh: Runner) -> None:
    """bash: "If read times out, read saves any partial input read into NAME"."""
    r = like_bash(bash_and_fmsh, 'mkfifo p; exec 3<>p; printf part >&3; read -t 0.3 -u 3 v; echo "$? [$v]"')
    assert r.out == "142 [part]\n"


def test_read_bad_fd(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("read -u 7 v; echo $?")
    assert fmsh.out == bash.out == "1\n"
    assert "7" in fmsh.err and "invalid file descriptor" in fmsh.err


def test_read_invalid_name(bash_and_fmsh: Runner) -> None:
    bash, fmsh = bash_and_fmsh("read 1x <<< x; echo $?")
    assert fmsh.out == bash.out == "1\n"
    assert "not a valid identifier" in fmsh.err


def _pexpect():  # type: ignore[no-untyped-def]
    import pexpect  # type: ignore[import-untyped]

    return pexpect


def _spawn(script: str):  # type: ignore[no-untyped-def]
    env = {**os.environ, "TERM": "dumb"}
    return _pexpect().spawn(FMSH_ARGV[0], [*FMSH_ARGV[1:], "-c", script], encoding="utf-8", timeout=10, env=env)


def test_read_prompt_on_terminal() -> None:
    """-p shows the prompt when reading from a terminal."""
    child = _spawn("read -p 'name? ' v; echo \"got <$v>\"")
    child.expect_exact("name? ")
    child.sendline("bob")
    child.expect_exact("got <bob>")
    child.expect(_pexpect().EOF)


def test_read_silent_on_terminal() -> None:
    """-s: what is typed is not echoed back."""
    child = _spawn("read -s -p 'pw: ' v; echo; echo \"got <$v>\"")
    child.expect_exact("pw: ")
    child.sendline("hunter2")
    child.expect_exact("got <hunter2>")
    assert "hunter2" not in child.before
    child.expect(_pexpect().EOF)


# --- mapfile / readarray ---------------------------------------------------------------------

MAPFILE = Table(
    ("keeps-newlines", "printf '1\\n2\\n3\\n' | { mapfile arr; echo \"${#arr[@]}:${arr[0]}|\"; }", "3:1\n|\n"),
    ("t-strips", "printf '1\\n2\\n3\\n' | { mapfile -t arr; echo \"${#arr[@]}:${arr[*]}\"; }", "3:1 2 3\n"),
    ("default-name", "printf 'x\\ny\\n' | { mapfile -t; echo \"${MAPFILE[1]}\"; }", "y\n"),
    ("readarray-alias", "printf 'x\\ny\\n' | { readarray -t lines; echo \"${lines[0]}${lines[1]}\"; }", "xy\n"),
    ("skip-and-count", "printf '1\\n2\\n3\\n4\\n' | { mapfile -t -s 1 -n 2 arr; echo \"${arr[*]}\"; }", "2 3\n"),
    ("delimiter", 'printf a,b,c | { readarray -d , -t arr; echo "${arr[2]}|${#arr[@]}"; }', "c|3\n"),
    ("last-line-unterminated", "printf 'a\\nb' | { mapfile -t arr; echo \"${#arr[@]} ${arr[1]}\"; }", "2 b\n"),
    ("empty-lines-kept", "printf 'a\\n\\nb\\n' | { mapfile -t arr; echo \"${#arr[@]} [${arr[1]}]\"; }", "3 []\n"),
    ("empty-input", 'mapfile -t arr < /dev/null; echo "${#arr[@]}"', "0\n"),
    ("replaces-array", "arr=(a b c d); printf 'x\\n' | { mapfile -t arr; echo \"${#arr[@]}\"; }", "1\n"),
    ("u-fd", "printf 'p\\nq\\n' > f; exec 4<f; mapfile -t -u 4 z; echo \"${z[@]}\"", "p q\n"),
    ("from-file", "printf 'l1\\nl2\\n' > f; mapfile -t arr < f; echo \"${arr[1]}\"", "l2\n"),
    ("origin", "printf '1\\n2\\n' | { mapfile -t -O 5 arr; echo \"${!arr[@]}\"; }", "5 6\n"),
    ("lastpipe", "shopt -s lastpipe; printf 'a\\nb\\n' | mapfile -t arr; echo \"${arr[1]}\"", "b\n"),
)


@pytest.mark.parametrize("table, case", MAPFILE.params())
def test_mapfile(table: Table, case: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_case(table, case, tmp_path_factory)


def test_mapfile_count_leaves_rest_for_next_reader(bash_and_fmsh: Runner) -> None:
    """-n N reads N lines from a regular file and leaves the rest in place."""
    r = like_bash(bash_and_fmsh, "printf '1\\n2\\n3\\n' > f; { mapfile -t -n 1 a; cat; } < f; echo \"a=${a[*]}\"")
    assert r.out == "2\n3\na=1\n"
