"""`@host cmd` against real sshd: one host, exact argv, standard input, statuses, blocks,
capture, redirections, pipelines through remote stages, and a 50 MB host-to-host stream."""

from __future__ import annotations

import hashlib
import os

import pytest
from conftest import run_remote

HOSTILE = [
    "a b",
    "it's",
    'say "hi"',
    "semi;colon",
    "$(touch /tmp/fmsh-pwned)",
    "`touch /tmp/fmsh-pwned`",
    "*",
    "?",
    "[ab]",
    "new\nline",
    "-n",
    "--help",
    "",
    "back\\slash",
    "tab\there",
    "${HOME}",
    "~",
    "a|b&c>d<e",
    "üñïçødé",
]


def _ansi_c(text: str) -> str:
    """A $'...' literal for any text."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\t", "\\t")
    return "$'" + escaped + "'"


def test_one_host(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "@host01 echo hello; echo status=$?")
    assert (r.out, r.status) == ("hello\nstatus=0\n", 0)


def test_argv_reaches_the_remote_side_exactly(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    """Every word arrives as one argv element, whatever is in it: nothing is run."""
    if os.path.exists("/tmp/fmsh-pwned"):
        os.remove("/tmp/fmsh-pwned")
    script = (
        "args=("
        + " ".join(
            "$'" + a.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\t", "\\t") + "'"
            for a in HOSTILE
        )
        + ")\n"
    )
    script += '@host01 printf "<%s>\\n" "${args[@]}"'
    r = run_remote(ssh_lab, script)
    assert r.status == 0, r.err
    assert r.out == "".join(f"<{a}>\n" for a in HOSTILE)
    assert not os.path.exists("/tmp/fmsh-pwned")


def test_exit_status_is_the_remote_commands(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "@host01 sh -c 'exit 7'; echo $?; @host01 false || echo failed")
    assert r.out == "7\nfailed\n"


def test_killed_command_is_128_plus_signal(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "@host01 sh -c 'kill -TERM $$'; echo $?")
    assert r.out == "143\n"


def test_stdin_goes_to_the_remote_command(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "@host01 tr a-z A-Z", stdin="hello\nworld\n")
    assert r.out == "HELLO\nWORLD\n"
    r = run_remote(ssh_lab, "printf 'x\\ny\\n' | @host01 wc -l")
    assert r.out.strip() == "2"


def test_stderr_stays_stderr(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "@host01 sh -c 'echo out; echo err >&2'")
    assert (r.out, r.err) == ("out\n", "err\n")


def test_capture(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, 'n=$(@host02 echo 42); echo "n=$n status=$?"')
    assert r.out == "n=42 status=0\n"


def test_block_runs_as_posix_sh_with_local_variables(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, 'dir=/etc; word=\'a b\'; @host01 { cd "$dir" && pwd; echo "$word"; x=1; echo $((x + 1)); }')
    assert r.out == "/etc\na b\n2\n"


def test_redirections_apply_locally(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, f"@host01 echo kept > {tmp_path}/out; cat {tmp_path}/out")
    assert r.out == "kept\n"


def test_pipeline_local_remote_local(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "seq 1 1000 | @host01 grep 7 | wc -l; echo ${PIPESTATUS[@]}")
    assert r.out.split("\n")[:2] == ["271", "0 0 0"]


def test_host_to_host_pipeline_moves_50_mb(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "big"
    with open(source, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(50):
            f.write(block[i:] + block[:i])
    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    target = tmp_path / "copy"
    r = run_remote(ssh_lab, f"@host01 cat {source} | @host02 'cat > {target}'; echo $?", timeout=120)
    assert r.out == "0\n", r.err
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected


def test_unknown_name_is_a_resolve_failure(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "@no-such-host.invalid true; echo $?", env={"FMSH_CONNECT_TIMEOUT": "3"})
    assert r.out == "255\n"
    assert "no-such-host.invalid: resolve" in r.err


def test_xtrace_shows_the_stage(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "set -x; @host01 echo 'a b'")
    assert "+ @host01 echo 'a b'" in r.err


def test_errexit_applies(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "set -e; @host01 false; echo not reached")
    assert (r.out, r.status) == ("", 1)


@pytest.mark.parametrize("bad", ["@ ", "@host01"])
def test_stage_without_command_is_a_syntax_error(ssh_lab, bad: str) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, bad)
    assert r.status == 2


def test_remote_stage_in_a_subshell_and_in_the_background(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    """A forked copy of the shell (subshell, `&`, a function as a pipeline stage) opens
    connections of its own: the parent's belong to the parent."""
    script = (
        "@host01 echo parent; ( @host01 echo subshell ); @host02 echo background & wait $!;"
        " f() { @host03 echo in-function; }; f | cat; @host01 echo parent-again"
    )
    r = run_remote(ssh_lab, script)
    assert r.out == "parent\nsubshell\nbackground\nin-function\nparent-again\n", r.err


def test_a_shell_builtin_runs_in_the_remote_shell(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    """`exit`, `cd`, `test`... are the remote /bin/sh's own: not exec'd as programs."""
    r = run_remote(ssh_lab, "@host01 exit 4; echo $?; @host01 cd /; echo $?; @host01 test -d /nonexistent; echo $?")
    assert r.out == "4\n0\n1\n", r.err
