"""Syntax errors: reported as `fmsh: FILE:LINE:COL: message`, then the source line, then a
caret under the column; exit status 2; never a Python traceback.

fmsh parses a whole script before running any of it, so a script with a syntax error
anywhere runs nothing (bash would run the lines before the error): tested on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Result, run_fmsh

FmshRunner = Callable[..., Result]

HEADER = re.compile(r"^fmsh: (?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


@dataclass
class SyntaxReport:
    file: str
    line: int
    col: int
    message: str
    shown: str  # the source line as printed (without the two-space indent)
    caret_line: str  # the caret line as printed (without the two-space indent)


def syntax_report(r: Result) -> SyntaxReport:
    """Find the three-line report in stderr and check its shape; fail if it is absent."""
    lines = r.err.splitlines()
    found = [(i, m) for i, m in enumerate(map(HEADER.match, lines)) if m]
    assert found, f"no `fmsh: FILE:LINE:COL: message` line in stderr: {r.err!r}"
    i, m = found[0]
    assert len(lines) >= i + 3, f"expected the source line and a caret after the header: {r.err!r}"
    shown, caret = lines[i + 1], lines[i + 2]
    assert shown.startswith("  ") and caret.startswith("  "), r.err
    shown, caret = shown[2:], caret[2:]
    col = int(m["col"])
    # The caret sits under the column; the padding copies tabs so a terminal lines it up.
    assert caret.endswith("^") and caret.count("^") == 1, r.err
    assert len(caret) == col, f"caret at {len(caret)}, column {col}: {r.err!r}"
    expected_pad = "".join("\t" if c == "\t" else " " for c in shown[: col - 1])
    assert caret[:-1] == expected_pad, r.err
    return SyntaxReport(m["file"], int(m["line"]), col, m["message"], shown, caret)


def check_c(command: str, col: int, message: str, line: int = 1) -> SyntaxReport:
    """Run `fmsh -c COMMAND`: status 2, nothing on stdout, the report at line:col."""
    r = run_fmsh("-c", command)
    assert r.status == 2, r
    assert r.out == ""
    report = syntax_report(r)
    assert report.file == "-c"
    assert (report.line, report.col) == (line, col), r.err
    assert message in report.message, r.err
    assert report.shown == command.split("\n")[line - 1]
    return report


# --- -c strings ------------------------------------------------------------------------


def test_unterminated_single_quote() -> None:
    check_c("echo 'abc", 6, "unterminated single quote")


def test_unterminated_double_quote() -> None:
    check_c('echo ok "abc', 9, "unterminated double quote")


def test_if_without_fi() -> None:
    check_c("if true; then echo yes", 1, "fi")


def test_while_without_done() -> None:
    check_c("while true; do echo", 1, "done")


@pytest.mark.parametrize(
    ("command", "col", "token"),
    [
        ("fi", 1, "fi"),
        ("echo a; fi", 9, "fi"),
        ("done", 1, "done"),
        ("echo a; done", 9, "done"),
        ("echo )", 6, ")"),
        ("echo a; )", 9, ")"),
        (";", 1, ";"),
        ("echo a; ;", 9, ";"),
        ("echo a;;", 7, ";;"),
    ],
)
def test_unexpected_token(command: str, col: int, token: str) -> None:
    report = check_c(command, col, "syntax error near unexpected token")
    assert f"`{token}'" in report.message


def test_case_without_esac() -> None:
    check_c("case x in a) echo a;;", 1, "esac")


def test_unterminated_command_substitution() -> None:
    check_c("echo $(echo hi", 6, "$(")


def test_unterminated_backquote() -> None:
    check_c("echo `echo hi", 6, "backquote")


def test_unterminated_subshell() -> None:
    check_c("(echo hi", 1, "(")


@pytest.mark.parametrize("command", ["f$x() { :; }", '"q"() { :; }', "$x() { echo no; }"])
def test_bad_function_name(command: str) -> None:
    report = check_c(command + "; echo not-run", 1, "function name")
    assert command.split("(")[0] in report.message


def test_function_body_must_be_compound() -> None:
    check_c("f() echo hi", 5, "compound command")


def test_error_inside_command_substitution() -> None:
    check_c("echo $(echo; fi)", 14, "syntax error near unexpected token `fi'")


def test_error_inside_nested_command_substitution() -> None:
    check_c("echo $(echo $(true; done))", 21, "`done'")


def test_trailing_pipe_is_unexpected_end() -> None:
    check_c("echo hi |", 10, "unexpected end of input")


def test_tabs_before_the_column() -> None:
    report = check_c("\t\techo a;\tfi", 11, "`fi'")
    assert report.caret_line == "\t\t" + " " * 7 + "\t^"


def test_non_ascii_before_the_column() -> None:
    """Columns count characters, not bytes."""
    check_c("echo été )", 10, "`)'")


def test_no_output_from_commands_before_error_in_dash_c() -> None:
    r = run_fmsh("-c", "echo first; echo second; fi")
    assert (r.status, r.out) == (2, "")


# --- script files ----------------------------------------------------------------------


def run_file(tmp_path: Path, text: str, name: str = "script.sh") -> tuple[Result, SyntaxReport]:
    (tmp_path / name).write_text(text)
    r = run_fmsh(name, cwd=tmp_path)
    assert r.status == 2, r
    report = syntax_report(r)
    assert report.file == name
    assert report.shown == text.split("\n")[report.line - 1], "the printed line is not the file's line"
    return r, report


def test_error_on_later_line_of_file(tmp_path: Path) -> None:
    text = "echo first\necho second\nif true; then\n  echo x )\nfi\n"
    _, report = run_file(tmp_path, text)
    assert (report.line, report.col) == (4, 10)
    assert report.shown == "  echo x )"
    assert report.caret_line == " " * 9 + "^"


def test_unterminated_quote_on_later_line(tmp_path: Path) -> None:
    _, report = run_file(tmp_path, "echo one\necho two\necho 'three\n")
    assert (report.line, report.col) == (3, 6)
    assert "single quote" in report.message


def test_if_without_fi_points_at_the_if(tmp_path: Path) -> None:
    _, report = run_file(tmp_path, "echo one\n\nif true; then\n  echo two\n")
    assert (report.line, report.col) == (3, 1)
    assert "fi" in report.message


def test_error_inside_command_substitution_in_file(tmp_path: Path) -> None:
    _, report = run_file(tmp_path, "echo a\nx=$(\n  echo b\n    done\n)\n")
    assert (report.line, report.col) == (4, 5)
    assert "`done'" in report.message


def test_error_after_here_document(tmp_path: Path) -> None:
    """The body of a here-document counts in the line numbers."""
    _, report = run_file(tmp_path, "cat <<EOF\nline1\nline2\nEOF\necho ok )\n")
    assert (report.line, report.col) == (5, 9)


def test_error_after_multiline_string(tmp_path: Path) -> None:
    _, report = run_file(tmp_path, 'echo "a\nb\nc" ; fi\n')
    assert (report.line, report.col) == (3, 6)


def test_error_after_line_continuation(tmp_path: Path) -> None:
    _, report = run_file(tmp_path, "echo a \\\n  b \\\n  ; ;\n")
    assert (report.line, report.col) == (3, 5)


def test_tabs_in_file_line(tmp_path: Path) -> None:
    _, report = run_file(tmp_path, "echo first\n\techo a; \t fi\n")
    assert (report.line, report.col) == (2, 12)
    assert report.caret_line == "\t" + " " * 8 + "\t ^"


def test_conditional_missing_operand_reported_on_its_line(tmp_path: Path) -> None:
    """`[[ a == ]]` is a syntax error on its own line (bash: line 2), not a later one."""
    _, report = run_file(tmp_path, "echo before\n[[ a == ]]\necho next\n")
    assert report.line == 2, report


def test_script_from_stdin_named_stdin() -> None:
    r = run_fmsh(stdin="echo a\necho b )\n")
    assert (r.status, r.out) == (2, "")
    report = syntax_report(r)
    assert (report.file, report.line, report.col) == ("stdin", 2, 8)


# --- nothing runs before a syntax error ------------------------------------------------


def test_syntax_error_on_last_line_runs_nothing(tmp_path: Path) -> None:
    """Deliberately unlike bash: the whole file is parsed first, so `echo first` (and its
    side effect) never happen."""
    text = "echo first\ntouch made-it\necho second\necho 'oops\n"
    r, report = run_file(tmp_path, text)
    assert r.out == ""
    assert not (tmp_path / "made-it").exists()
    assert report.line == 4


def test_syntax_error_on_last_line_runs_no_exit_trap(tmp_path: Path) -> None:
    r, _ = run_file(tmp_path, "trap 'echo trap-ran' EXIT\necho first\nfi\n")
    assert r.out == ""


def test_sourced_file_with_syntax_error(tmp_path: Path) -> None:
    """`.` of a broken file: status 2 from `.`, nothing of it runs, the caller goes on."""
    (tmp_path / "lib.sh").write_text("echo in-lib\nif\n")
    r = run_fmsh("-c", '. ./lib.sh; echo "status=$?"; echo continues', cwd=tmp_path)
    assert (r.status, r.out) == (0, "status=2\ncontinues\n")
    report = syntax_report(r)
    assert (report.file, report.line, report.col) == ("./lib.sh", 2, 1)


def test_noexec_option_checks_syntax(tmp_path: Path) -> None:
    (tmp_path / "good.sh").write_text("echo should-not-run\n")
    (tmp_path / "bad.sh").write_text("echo should-not-run\nfi\n")
    good = run_fmsh("-n", "good.sh", cwd=tmp_path)
    assert (good.status, good.out, good.err) == (0, "", "")
    bad = run_fmsh("-n", "bad.sh", cwd=tmp_path)
    assert (bad.status, bad.out) == (2, "")
    assert syntax_report(bad).line == 2


# --- eval ------------------------------------------------------------------------------


def test_eval_syntax_error_does_not_end_script(tmp_path: Path) -> None:
    (tmp_path / "s.sh").write_text("echo before\neval 'if'\necho \"status=$?\"\necho after\n")
    r = run_fmsh("s.sh", cwd=tmp_path)
    assert (r.status, r.out) == (0, "before\nstatus=2\nafter\n")
    report = syntax_report(r)
    assert report.file == "eval"
    assert report.shown == "if"


def test_eval_syntax_error_in_dash_c(fmsh: FmshRunner) -> None:
    r = fmsh("eval 'echo a; fi'; echo $?")
    assert (r.status, r.out) == (0, "2\n")
    report = syntax_report(r)
    assert (report.line, report.col) == (1, 9)


def test_eval_status_2_is_last_status(fmsh: FmshRunner) -> None:
    assert fmsh("eval 'echo \"x'").status == 2
