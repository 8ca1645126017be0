"""Exit statuses, as in bash: command not found (127), cannot execute (126), `exit N`
truncated to 0..255, 128+N for a command killed by signal N, `$?` after a pipeline, `!`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Result, run_fmsh

FmshRunner = Callable[..., Result]
BashAndFmsh = Callable[[str], tuple[Result, Result]]


def same_status_and_output(bash_and_fmsh: BashAndFmsh, command: str) -> tuple[int, str]:
    """Run in bash and fmsh; the status and stdout must agree. Returns them."""
    bash, fmsh = bash_and_fmsh(command)
    assert (fmsh.status, fmsh.out) == (bash.status, bash.out), f"bash: {bash!r}\nfmsh: {fmsh!r}"
    return fmsh.status, fmsh.out


# --- command not found -----------------------------------------------------------------


def test_command_not_found_message_and_status(fmsh: FmshRunner) -> None:
    r = fmsh("no_such_command_xyz")
    assert r.status == 127
    assert r.out == ""
    assert r.err == "fmsh: no_such_command_xyz: command not found\n"


def test_command_not_found_dollar_question(bash_and_fmsh: BashAndFmsh) -> None:
    assert same_status_and_output(bash_and_fmsh, "no_such_command_xyz 2>/dev/null; echo $?") == (0, "127\n")


def test_command_not_found_with_args_and_empty_path(fmsh: FmshRunner) -> None:
    r = fmsh("PATH=/nonexistent-dir; ls -l; echo $?")
    assert r.out == "127\n"
    assert "ls: command not found" in r.err


def test_command_not_found_in_pipeline_and_substitution(bash_and_fmsh: BashAndFmsh) -> None:
    same_status_and_output(bash_and_fmsh, "no_such_cmd 2>/dev/null | true; echo $?")
    same_status_and_output(bash_and_fmsh, "true | no_such_cmd 2>/dev/null; echo $?")
    same_status_and_output(bash_and_fmsh, "x=$(no_such_cmd 2>/dev/null); echo $?")


def test_missing_path(bash_and_fmsh: BashAndFmsh) -> None:
    bash, fmsh = bash_and_fmsh("/nonexistent/prog; echo $?")
    assert fmsh.out == bash.out == "127\n"
    assert "/nonexistent/prog: No such file or directory" in fmsh.err


# --- cannot execute --------------------------------------------------------------------


def test_not_executable_file_by_path(bash_and_fmsh: BashAndFmsh) -> None:
    bash, fmsh = bash_and_fmsh("printf 'echo hi\\n' > plain; ./plain; echo $?")
    assert fmsh.out == bash.out == "126\n"
    assert "./plain: Permission denied" in fmsh.err


def test_not_executable_file_ends_shell_with_126(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("echo hi\n")
    r = run_fmsh("-c", "./plain", cwd=tmp_path)
    assert r.status == 126
    assert "Permission denied" in r.err


def test_directory_by_path(bash_and_fmsh: BashAndFmsh) -> None:
    bash, fmsh = bash_and_fmsh("mkdir d; ./d; echo $?")
    assert fmsh.out == bash.out == "126\n"
    assert "./d: Is a directory" in fmsh.err


def test_binary_file_without_interpreter(tmp_path: Path) -> None:
    """bash: `cannot execute binary file`, 126; such a file is not run as a script."""
    prog = tmp_path / "blob"
    prog.write_bytes(b"\x00\x01\x02\x7fjunk\x00\nmore\x00\n")
    prog.chmod(0o755)
    r = run_fmsh("-c", "./blob; echo $?", cwd=tmp_path)
    assert r.out == "126\n", r
    assert "./blob" in r.err
    assert "internal error" not in r.err


def test_missing_interpreter(tmp_path: Path) -> None:
    prog = tmp_path / "prog"
    prog.write_text("#!/nonexistent/interpreter\necho hi\n")
    prog.chmod(0o755)
    r = run_fmsh("-c", "./prog; echo $?", cwd=tmp_path)
    assert r.out == "127\n"
    assert "./prog" in r.err


# --- a script without #! ---------------------------------------------------------------


def test_script_without_shebang_run_by_fmsh(tmp_path: Path) -> None:
    prog = tmp_path / "noshebang"
    prog.write_text(
        'printf "[%s]" "$0" "$@"; echo\necho "${FMSH_VERSION:-not-fmsh} ${BASH_VERSION:-no-bash}"\nexit 3\n'
    )
    prog.chmod(0o755)
    r = run_fmsh("-c", "./noshebang 'a b' ''; echo status=$?", cwd=tmp_path)
    assert r.out.splitlines()[0] == "[./noshebang][a b][]"
    version, bash_version = r.out.splitlines()[1].split()
    assert version != "not-fmsh" and bash_version == "no-bash", r
    assert r.out.splitlines()[2] == "status=3"


def test_script_without_shebang_is_a_new_shell(tmp_path: Path) -> None:
    """As in bash: unexported variables and functions of the caller are not seen; exported ones are."""
    prog = tmp_path / "noshebang"
    prog.write_text(
        'echo "[${local_var-unset}] [${exported_var-unset}]"\nif type f >/dev/null 2>&1; then echo has-f; fi\n'
    )
    prog.chmod(0o755)
    command = "local_var=1; export exported_var=2; f() { :; }; ./noshebang"
    r = run_fmsh("-c", command, cwd=tmp_path)
    assert (r.status, r.out) == (0, "[unset] [2]\n")


def test_script_without_shebang_found_on_path(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    prog = bindir / "mytool"
    prog.write_text('echo "tool $1"\n')
    prog.chmod(0o755)
    r = run_fmsh("-c", f"PATH={bindir}:$PATH; mytool x")
    assert (r.status, r.out) == (0, "tool x\n")


# --- exit N ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "status"), [("0", 0), ("1", 1), ("255", 255), ("256", 0), ("257", 1), ("300", 44), ("-1", 255), ("-255", 1)]
)
def test_exit_truncation(bash_and_fmsh: BashAndFmsh, n: str, status: int) -> None:
    bash, fmsh = bash_and_fmsh(f"exit {n}")
    assert fmsh.status == bash.status == status


def test_exit_truncation_in_subshell(bash_and_fmsh: BashAndFmsh) -> None:
    command = "(exit 256); echo $?; (exit -1); echo $?; (exit 300); echo $?"
    assert same_status_and_output(bash_and_fmsh, command) == (
        0,
        "0\n255\n44\n",
    )


def test_exit_without_argument_uses_last_status(bash_and_fmsh: BashAndFmsh) -> None:
    assert same_status_and_output(bash_and_fmsh, "sh -c 'exit 6'; exit")[0] == 6


def test_exit_in_script_file(tmp_path: Path) -> None:
    (tmp_path / "s.sh").write_text("echo a\nexit 258\necho b\n")
    r = run_fmsh("s.sh", cwd=tmp_path)
    assert (r.status, r.out) == (2, "a\n")


def test_status_of_last_command_is_shell_status(bash_and_fmsh: BashAndFmsh) -> None:
    same_status_and_output(bash_and_fmsh, "true; sh -c 'exit 42'")


# --- killed by a signal ----------------------------------------------------------------


@pytest.mark.parametrize(("sig", "status"), [("TERM", 143), ("KILL", 137), ("HUP", 129), ("INT", 130)])
def test_status_of_command_killed_by_signal(bash_and_fmsh: BashAndFmsh, sig: str, status: int) -> None:
    """A child killing itself (the shell got no signal): 128+N, and the script goes on."""
    command = f"sh -c 'kill -{sig} $$'; echo status=$?; echo goes-on"
    bash, fmsh = bash_and_fmsh(command)
    assert fmsh.out == bash.out == f"status={status}\ngoes-on\n"
    assert fmsh.status == bash.status == 0


def test_shell_status_when_last_command_killed(tmp_path: Path) -> None:
    r = run_fmsh("-c", "sh -c 'kill -TERM $$'; s=$?; exit $s", cwd=tmp_path)
    assert r.status == 143


def test_killed_command_in_pipeline(bash_and_fmsh: BashAndFmsh) -> None:
    assert same_status_and_output(bash_and_fmsh, "echo x | sh -c 'kill -TERM $$'; echo $?")[1] == "143\n"


# --- $? after a pipeline, ! ------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "false | true; echo $?",
        "true | false; echo $?",
        "sh -c 'exit 3' | sh -c 'exit 4'; echo $?",
        "sh -c 'exit 4' | sh -c 'exit 0'; echo $?",
        "echo hi | cat >/dev/null; echo $?",
        "true | true | sh -c 'exit 5'; echo $?",
    ],
)
def test_dollar_question_after_pipeline(bash_and_fmsh: BashAndFmsh, command: str) -> None:
    same_status_and_output(bash_and_fmsh, command)


@pytest.mark.parametrize(
    ("command", "out"),
    [
        ("! true; echo $?", "1\n"),
        ("! false; echo $?", "0\n"),
        ("! sh -c 'exit 3'; echo $?", "0\n"),
        ("! true | false; echo $?", "0\n"),
        ("! false | true; echo $?", "1\n"),
        ("! no_such_cmd 2>/dev/null; echo $?", "0\n"),
        ("! sh -c 'kill -TERM $$'; echo $?", "0\n"),
        ("if ! false; then echo yes; fi", "yes\n"),
        ("! true && echo no || echo yes", "yes\n"),
    ],
)
def test_bang_inverts(bash_and_fmsh: BashAndFmsh, command: str, out: str) -> None:
    assert same_status_and_output(bash_and_fmsh, command)[1] == out


def test_bang_is_shell_status(bash_and_fmsh: BashAndFmsh) -> None:
    assert same_status_and_output(bash_and_fmsh, "! true")[0] == 1
    assert same_status_and_output(bash_and_fmsh, "! sh -c 'exit 9'")[0] == 0


def test_assignment_takes_status_of_substitution(bash_and_fmsh: BashAndFmsh) -> None:
    command = "x=$(sh -c 'exit 7'); echo $?; x=1; echo $?"
    assert same_status_and_output(bash_and_fmsh, command) == (0, "7\n0\n")
