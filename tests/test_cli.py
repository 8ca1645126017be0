"""The `fmsh` command line: the ways to start it, the set options given on the command
line, `--version`/`--help`, usage errors, and what it costs to start (no heavy imports)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BIN, FMSH_ARGV, TRACEBACK, Result, run_fmsh

import fmsh as fmsh_package

FmshRunner = Callable[..., Result]

# printf prints every argument in brackets, so that "$@" is shown exactly.
SHOW_ARGS = 'printf "[%s]" "$0" "$@"; echo " $#"'
AWKWARD_ARGS = ["a b", "", "*", "x\ny", "-e", "--", "$HOME"]


def brackets(*args: str) -> str:
    return "".join(f"[{a}]" for a in args)


def write_script(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def env_with_fmsh_on_path() -> dict[str, str]:
    """The environment with the venv's bin directory first on PATH (for `env fmsh`)."""
    env = dict(os.environ)
    env.pop("FMSH_DEBUG", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


# --- fmsh FILE ARGS... -----------------------------------------------------------------


def test_script_file_gets_dollar0_and_exact_args(tmp_path: Path) -> None:
    script = write_script(tmp_path / "show.sh", SHOW_ARGS + "\n")
    r = run_fmsh(str(script), *AWKWARD_ARGS, cwd=tmp_path)
    assert r.status == 0, r
    assert r.out == brackets(str(script), *AWKWARD_ARGS) + f" {len(AWKWARD_ARGS)}\n"


def test_script_file_relative_name_is_dollar0(tmp_path: Path) -> None:
    write_script(tmp_path / "show.sh", SHOW_ARGS + "\n")
    r = run_fmsh("show.sh", "one", cwd=tmp_path)
    assert r.out == "[show.sh][one] 1\n"


def test_script_file_exit_status_is_last_command(tmp_path: Path) -> None:
    write_script(tmp_path / "s.sh", "echo hi\n(exit 7)\n")
    r = run_fmsh("s.sh", cwd=tmp_path)
    assert (r.status, r.out) == (7, "hi\n")


def test_double_dash_before_script(tmp_path: Path) -> None:
    write_script(tmp_path / "show.sh", SHOW_ARGS + "\n")
    r = run_fmsh("--", "show.sh", "a", cwd=tmp_path)
    assert r.out == "[show.sh][a] 1\n"


# --- fmsh -c CMD NAME ARGS... ----------------------------------------------------------


def test_dash_c_name_and_args(fmsh: FmshRunner) -> None:
    r = fmsh(SHOW_ARGS, "myname", *AWKWARD_ARGS)
    assert r.status == 0, r
    assert r.out == brackets("myname", *AWKWARD_ARGS) + f" {len(AWKWARD_ARGS)}\n"


def test_dash_c_name_only(fmsh: FmshRunner) -> None:
    assert fmsh(SHOW_ARGS, "just-a-name").out == "[just-a-name] 0\n"


def test_dash_c_without_name_has_no_args(fmsh: FmshRunner) -> None:
    r = fmsh('echo "$#"')
    assert r.out == "0\n"


def test_dash_c_status_is_last_command(fmsh: FmshRunner) -> None:
    assert fmsh("echo x; exit 42").status == 42
    assert fmsh("false").status == 1
    assert fmsh("true").status == 0


def test_dash_c_combined_with_other_letters() -> None:
    r = run_fmsh("-xc", "echo hi")
    assert r.out == "hi\n"
    assert "+ echo hi" in r.err


def test_dash_c_option_after_c() -> None:
    """bash takes options up to the first operand, even after -c."""
    r = run_fmsh("-c", "-x", "echo hi")
    assert r.out == "hi\n"
    assert "+ echo hi" in r.err


def test_dash_c_double_dash_is_dollar0() -> None:
    r = run_fmsh("-c", 'echo "$0" "$1"', "--", "a")
    assert r.out == "-- a\n"


# --- the script on standard input ------------------------------------------------------


def test_script_from_stdin() -> None:
    r = run_fmsh(stdin='echo "one $#"\nx=2\necho "two $x"\n')
    assert (r.status, r.out) == (0, "one 0\ntwo 2\n")


def test_script_from_stdin_status() -> None:
    assert run_fmsh(stdin="echo a\nexit 3\necho b\n").status == 3


def test_dash_s_sets_positional_parameters() -> None:
    r = run_fmsh("-s", "a", "b c", stdin='printf "[%s]" "$@"; echo " $#"\n')
    assert r.status == 0, r
    assert r.out == "[a][b c] 2\n"


def test_dash_s_with_set_option() -> None:
    r = run_fmsh("-s", "-e", "x", stdin='echo "$1"; false; echo not-reached\n')
    assert (r.status, r.out) == (1, "x\n")


def test_empty_stdin_is_success() -> None:
    r = run_fmsh(stdin="")
    assert (r.status, r.out) == (0, "")


# --- a #! script run directly ----------------------------------------------------------


def test_shebang_env_fmsh_script(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "tool", "#!/usr/bin/env fmsh\n" + SHOW_ARGS + "\necho ${FMSH_VERSION:+is-fmsh}\n", 0o755
    )
    proc = subprocess.run(
        [str(script), "a b", "", "*"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env_with_fmsh_on_path(),
        timeout=30,
    )
    assert TRACEBACK not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == brackets(str(script), "a b", "", "*") + " 3\nis-fmsh\n"


def test_shebang_script_exit_status(tmp_path: Path) -> None:
    script = write_script(tmp_path / "tool", "#!/usr/bin/env fmsh\nexit 5\n", 0o755)
    proc = subprocess.run([str(script)], capture_output=True, text=True, env=env_with_fmsh_on_path(), timeout=30)
    assert proc.returncode == 5, proc.stderr


# --- set options on the command line ---------------------------------------------------


def test_errexit_option() -> None:
    r = run_fmsh("-e", "-c", "echo before; false; echo not-reached")
    assert (r.status, r.out) == (1, "before\n")


def test_errexit_option_in_script_file(tmp_path: Path) -> None:
    write_script(tmp_path / "s.sh", "echo before\nsh -c 'exit 4'\necho not-reached\n")
    r = run_fmsh("-e", "s.sh", cwd=tmp_path)
    assert (r.status, r.out) == (4, "before\n")


def test_plus_e_turns_errexit_off() -> None:
    r = run_fmsh("-e", "+e", "-c", "false; echo reached")
    assert (r.status, r.out) == (0, "reached\n")


def test_without_errexit_failure_continues() -> None:
    r = run_fmsh("-c", "false; echo reached")
    assert (r.status, r.out) == (0, "reached\n")


def test_nounset_option_dash_c() -> None:
    r = run_fmsh("-u", "-c", "echo before; echo $nope; echo not-reached")
    assert r.status != 0
    assert r.out == "before\n"
    assert "nope: unbound variable" in r.err


def test_nounset_option_script_file(tmp_path: Path) -> None:
    """bash -u FILE: status 1 for an unset variable."""
    write_script(tmp_path / "s.sh", 'echo "${set_var}"\necho "$nope"\necho not-reached\n')
    r = run_fmsh("-u", "s.sh", cwd=tmp_path, env={"set_var": "ok"})
    assert (r.status, r.out) == (1, "ok\n")
    assert "nope: unbound variable" in r.err


def test_xtrace_option() -> None:
    r = run_fmsh("-x", "-c", "echo hi; x=1")
    assert r.out == "hi\n"
    assert r.err.splitlines() == ["+ echo hi", "+ x=1"]


def test_xtrace_quotes_arguments() -> None:
    r = run_fmsh("-x", "-c", "echo 'a b'")
    assert r.out == "a b\n"
    assert r.err == "+ echo 'a b'\n"


def test_no_trace_without_x() -> None:
    assert run_fmsh("-c", "echo hi").err == ""


def test_pipefail_option() -> None:
    assert run_fmsh("-c", "false | true").status == 0
    r = run_fmsh("-o", "pipefail", "-c", "false | true; echo $?; sh -c 'exit 3' | true")
    assert (r.status, r.out) == (3, "1\n")


def test_options_show_in_dollar_dash() -> None:
    r = run_fmsh("-eux", "-c", 'echo "$-"')
    flags = r.out.strip()
    for letter in "eux":
        assert letter in flags, r
    assert not set("eux") & set(run_fmsh("-c", 'echo "$-"').out.strip())


def test_dash_o_long_name() -> None:
    r = run_fmsh("-o", "errexit", "-c", "false; echo not-reached")
    assert (r.status, r.out) == (1, "")


# --- --version, --help, usage errors ---------------------------------------------------


def test_version() -> None:
    r = run_fmsh("--version")
    assert r.status == 0, r
    assert fmsh_package.__version__ in r.out
    assert re.search(r"\d+\.\d+", r.out)


def test_help() -> None:
    r = run_fmsh("--help")
    assert r.status == 0, r
    assert "-c" in r.out
    assert "man fmsh" in r.out or "manual" in r.out.lower()
    assert r.err == ""


@pytest.mark.parametrize("option", ["-Z", "--bogus", "-q"])
def test_invalid_option(option: str) -> None:
    r = run_fmsh(option, "-c", "echo ran")
    assert r.status == 2, r
    assert r.out == ""
    assert option in r.err
    assert "usage" in r.err.lower()


def test_invalid_long_option_name() -> None:
    r = run_fmsh("-o", "nosuchoption", "-c", "echo ran")
    assert r.status == 2, r
    assert r.out == ""
    assert "nosuchoption" in r.err


def test_dash_c_without_command() -> None:
    r = run_fmsh("-c")
    assert r.status == 2, r
    assert "-c" in r.err


def test_missing_script_file(tmp_path: Path) -> None:
    r = run_fmsh("no-such-script.sh", "arg", cwd=tmp_path)
    assert r.status == 127, r
    assert r.out == ""
    assert "no-such-script.sh" in r.err
    assert "No such file" in r.err


def test_directory_as_script(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    r = run_fmsh("adir", cwd=tmp_path)
    assert r.status == 126, r
    assert "adir" in r.err
    assert "Is a directory" in r.err


# --- python -m fmsh --------------------------------------------------------------------


def run_module(*args: str, stdin: str = "", cwd: Path | None = None) -> Result:
    env = dict(os.environ)
    env.pop("FMSH_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "fmsh", *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=30
    )
    assert TRACEBACK not in proc.stderr, proc.stderr
    return Result(proc)


def test_python_dash_m_same_as_console_script(tmp_path: Path) -> None:
    args = ("-c", SHOW_ARGS + "; exit 9", "name", "a b", "")
    by_module = run_module(*args, cwd=tmp_path)
    by_script = run_fmsh(*args, cwd=tmp_path)
    assert by_module.out == "[name][a b][] 2\n"
    assert (by_module.status, by_module.out, by_module.err) == (by_script.status, by_script.out, by_script.err)


def test_python_dash_m_script_file_and_errors(tmp_path: Path) -> None:
    write_script(tmp_path / "show.sh", SHOW_ARGS + "\n")
    assert run_module("show.sh", "x", cwd=tmp_path).out == "[show.sh][x] 1\n"
    assert run_module("--version").status == 0
    assert run_module("-Z").status == 2
    assert run_module("missing.sh", cwd=tmp_path).status == 127


def test_console_script_is_used() -> None:
    """The fixtures run the installed `fmsh` command (not only `python -m fmsh`)."""
    assert FMSH_ARGV[0].endswith("fmsh"), FMSH_ARGV


# --- start-up cost ---------------------------------------------------------------------

HEAVY_MODULES = ("paramiko", "prompt_toolkit", "rich", "sqlite_utils", "click")


def test_dash_c_imports_no_heavy_modules() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fmsh", "-c", "echo hi"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hi\n"
    imported: set[str] = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            imported.add(name.split(".")[0])
    assert "fmsh" in imported, "could not read -X importtime output"
    assert not imported & set(HEAVY_MODULES), sorted(imported & set(HEAVY_MODULES))


def test_script_file_imports_no_heavy_modules(tmp_path: Path) -> None:
    """A script file (not only -c) stays on the light path too."""
    write_script(tmp_path / "s.sh", "echo hi\n")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fmsh", "s.sh"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
    )
    assert proc.stdout == "hi\n"
    names = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in proc.stderr.splitlines() if line.count("|") == 2}
    assert not names & set(HEAVY_MODULES)
