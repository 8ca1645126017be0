"""Signals: SIGINT (Ctrl-C) as a terminal sends it, to the whole foreground process
group, and SIGTERM. The shell under test is started in a session of its own, so the
signal reaches exactly it and its children, never pytest.

Where the expected behaviour is bash's, the same script also runs under bash (the
`shell` parameter), which shows that the expectation is bash's and not our guess.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK

BASH = shutil.which("bash")
SHELLS = ["fmsh", "bash"]
PROMPT_WAIT = 10.0  # how long a step may take before the test gives up
QUICK = 3.0  # a signal must end things well within this


def shell_argv(shell: str) -> list[str]:
    if shell == "bash":
        assert BASH is not None
        return [BASH]
    return list(FMSH_ARGV)


def processes() -> list[tuple[int, str, int, int]]:
    """(pid, command name, process group, session) of every process, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        found.append((int(entry), name, int(fields[2]), int(fields[3])))
    return found


def wait_until_running(names: list[str], *, pgid: int | None = None, sid: int | None = None) -> dict[str, int]:
    """Poll until a process with each name runs in the group (or session); name -> pid."""
    deadline = time.monotonic() + PROMPT_WAIT
    while True:
        seen = {
            name: pid
            for pid, name, group, session in processes()
            if (pgid is None or group == pgid) and (sid is None or session == sid)
        }
        if all(n in seen for n in names):
            return {n: seen[n] for n in names}
        if time.monotonic() > deadline:
            raise AssertionError(f"{names} did not start (running: {seen})")
        time.sleep(0.02)


@contextmanager
def new_session(argv: list[str], cwd: Path, stdin: int | None = subprocess.DEVNULL) -> Iterator[subprocess.Popen[str]]:
    """Start argv as the leader of a new session and process group; on the way out, kill
    whatever is left of that group (a test that fails must not leave a `sleep` behind)."""
    env = dict(os.environ)
    env.pop("FMSH_DEBUG", None)
    proc = subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        for pid, _name, _group, session in processes():
            if session == proc.pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=PROMPT_WAIT)


def interrupt(proc: subprocess.Popen[str], sig: int = signal.SIGINT) -> tuple[str, str, float]:
    """Send `sig` to the process group led by proc, as a terminal does for Ctrl-C; wait for
    the end. Returns stdout, stderr and how long the end took."""
    start = time.monotonic()
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=PROMPT_WAIT)
    elapsed = time.monotonic() - start
    assert TRACEBACK not in err, err
    return out, err, elapsed


def read_ready(proc: subprocess.Popen[str]) -> None:
    """The script prints `ready` when it is at the point to interrupt."""
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.1)  # let it get into the command that follows


def write_script(tmp_path: Path, text: str) -> str:
    (tmp_path / "script.sh").write_text(text)
    return "script.sh"


# --- SIGINT to a foreground pipeline -----------------------------------------------------

PIPELINE_SCRIPT = "sleep 30 | cat\necho after\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_sigint_stops_script_running_pipeline(tmp_path: Path, shell: str) -> None:
    script = write_script(tmp_path, PIPELINE_SCRIPT)
    with new_session([*shell_argv(shell), script], tmp_path) as proc:
        wait_until_running(["sleep", "cat"], pgid=proc.pid)
        out, err, elapsed = interrupt(proc)
    assert elapsed < QUICK
    assert "after" not in out
    assert proc.returncode == -signal.SIGINT, (proc.returncode, out, err)


@pytest.mark.parametrize("form", ["-c", "stdin"])
def test_sigint_stops_other_invocation_forms(tmp_path: Path, form: str) -> None:
    if form == "-c":
        argv, stdin = [*FMSH_ARGV, "-c", PIPELINE_SCRIPT], subprocess.DEVNULL
    else:
        (tmp_path / "input").write_text(PIPELINE_SCRIPT)
        argv, stdin = list(FMSH_ARGV), os.open(tmp_path / "input", os.O_RDONLY)
    try:
        with new_session(argv, tmp_path, stdin=stdin) as proc:
            wait_until_running(["sleep", "cat"], pgid=proc.pid)
            out, _err, elapsed = interrupt(proc)
    finally:
        if form == "stdin":
            os.close(stdin)
    assert elapsed < QUICK
    assert out == ""
    assert proc.returncode == -signal.SIGINT


# The caller is a bash that gave fmsh a process group of its own, as an interactive bash
# does for a foreground job; Ctrl-C goes to that group only, so bash lives to print $?.
LAUNCHER = [sys.executable, "-c", "import os, sys; os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])"]


@pytest.mark.parametrize("shell", SHELLS)
def test_sigint_status_seen_by_calling_bash_is_130(tmp_path: Path, shell: str) -> None:
    assert BASH is not None
    script = write_script(tmp_path, PIPELINE_SCRIPT)
    inner = [*LAUNCHER, *shell_argv(shell), script]
    outer = f"{shlex.join(inner)}; echo status=$?"
    with new_session([BASH, "-c", outer], tmp_path) as bash:
        pids = wait_until_running(["sleep", "cat"], sid=bash.pid)
        group = os.getpgid(pids["sleep"])
        assert group != bash.pid  # the calling bash is not in the signalled group
        start = time.monotonic()
        os.killpg(group, signal.SIGINT)
        out, err = bash.communicate(timeout=PROMPT_WAIT)
    assert time.monotonic() - start < QUICK
    assert TRACEBACK not in err, err
    assert out == "status=130\n", (out, err)
    assert bash.returncode == 0


# --- traps -------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_trapped_sigint_survives_child_death(tmp_path: Path, shell: str) -> None:
    script = write_script(tmp_path, "trap 'echo caught' INT\nsleep 30\necho \"continued $?\"\necho end\n")
    with new_session([*shell_argv(shell), script], tmp_path) as proc:
        wait_until_running(["sleep"], pgid=proc.pid)
        out, err, elapsed = interrupt(proc)
    assert elapsed < QUICK
    assert out == "caught\ncontinued 130\nend\n", err
    assert proc.returncode == 0


@pytest.mark.parametrize("shell", SHELLS)
def test_trapped_sigint_with_exit_in_loop(tmp_path: Path, shell: str) -> None:
    script = write_script(tmp_path, "trap 'echo caught; exit 5' INT\necho ready\nwhile :; do :; done\n")
    with new_session([*shell_argv(shell), script], tmp_path) as proc:
        read_ready(proc)
        out, _err, elapsed = interrupt(proc)
    assert elapsed < QUICK
    assert out == "caught\n"
    assert proc.returncode == 5


@pytest.mark.parametrize("shell", SHELLS)
def test_exit_trap_runs_on_sigint(tmp_path: Path, shell: str) -> None:
    script = write_script(tmp_path, "trap 'echo bye' EXIT\nsleep 30\necho after\n")
    with new_session([*shell_argv(shell), script], tmp_path) as proc:
        wait_until_running(["sleep"], pgid=proc.pid)
        out, _err, _elapsed = interrupt(proc)
    assert out == "bye\n"
    assert proc.returncode == -signal.SIGINT


@pytest.mark.parametrize("shell", SHELLS)
def test_ignored_sigint_trap_is_inherited(tmp_path: Path, shell: str) -> None:
    script = write_script(tmp_path, "trap '' INT\necho ready\nsleep 0.5\necho after $?\n")
    with new_session([*shell_argv(shell), script], tmp_path) as proc:
        read_ready(proc)
        out, _err, _elapsed = interrupt(proc)
    assert out == "after 0\n"
    assert proc.returncode == 0


# --- SIGINT while the shell itself is busy -----------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "while :; do :; done",
        "f() { while :; do :; done; }; f",
        "for ((;;)); do x=$((x+1)); done",
        "x=$(while :; do :; done)",
        "x=$(sleep 30)",
    ],
)
def test_sigint_ends_busy_shell(tmp_path: Path, body: str) -> None:
    script = write_script(tmp_path, f"echo ready\n{body}\necho after\n")
    with new_session([*FMSH_ARGV, script], tmp_path) as proc:
        read_ready(proc)
        out, _err, elapsed = interrupt(proc)
    assert elapsed < QUICK
    assert out == ""
    assert proc.returncode == -signal.SIGINT


@pytest.mark.parametrize("shell", SHELLS)
def test_sigint_during_read(tmp_path: Path, shell: str) -> None:
    script = write_script(tmp_path, "echo ready\nread line\necho after $?\n")
    with new_session([*shell_argv(shell), script], tmp_path, stdin=subprocess.PIPE) as proc:
        read_ready(proc)
        out, _err, elapsed = interrupt(proc)
    assert elapsed < QUICK
    assert out == ""
    assert proc.returncode == -signal.SIGINT


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("wait", ["wait", "wait $!"])
def test_sigint_during_wait_builtin(tmp_path: Path, shell: str, wait: str) -> None:
    """bash dies of SIGINT at once; the background job (which ignores SIGINT) lives on."""
    script = write_script(tmp_path, f"sleep 4 >/dev/null 2>&1 &\necho ready\n{wait}\necho after $?\n")
    with new_session([*shell_argv(shell), script], tmp_path) as proc:
        read_ready(proc)
        out, _err, elapsed = interrupt(proc)
    assert out == ""
    assert proc.returncode == -signal.SIGINT
    assert elapsed < QUICK


@pytest.mark.parametrize("shell", SHELLS)
def test_trapped_sigint_interrupts_wait(tmp_path: Path, shell: str) -> None:
    script = write_script(
        tmp_path, "trap 'echo caught' INT\nsleep 4 >/dev/null 2>&1 &\necho ready\nwait $!\necho after $?\n"
    )
    with new_session([*shell_argv(shell), script], tmp_path) as proc:
        read_ready(proc)
        out, _err, elapsed = interrupt(proc)
    assert elapsed < QUICK
    assert out == "caught\nafter 130\n"
    assert proc.returncode == 0


# --- a child that handles SIGINT itself --------------------------------------------------

CATCHING_CHILD = (
    "import sys, time\n"
    "print('ready', flush=True)\n"
    "try:\n"
    "    time.sleep(30)\n"
    "except KeyboardInterrupt:\n"
    "    print('child-caught', flush=True)\n"
    "    sys.exit(3)\n"
)


@pytest.mark.parametrize("shell", SHELLS)
def test_child_that_handles_sigint_lets_script_continue(tmp_path: Path, shell: str) -> None:
    """Like bash: the shell stops only if the foreground child died of the SIGINT."""
    (tmp_path / "child.py").write_text(CATCHING_CHILD)
    script = write_script(tmp_path, f"{shlex.quote(sys.executable)} child.py\necho after $?\n")
    with new_session([*shell_argv(shell), script], tmp_path) as proc:
        read_ready(proc)
        out, _err, elapsed = interrupt(proc)
    assert elapsed < QUICK
    assert out == "child-caught\nafter 3\n"
    assert proc.returncode == 0


def test_sigint_ignored_on_entry_stays_ignored(tmp_path: Path) -> None:
    """A shell started with SIGINT ignored (a background job) and its children ignore it."""
    script = write_script(tmp_path, "echo ready\nsleep 0.5\necho after $?\n")
    proc = subprocess.Popen(
        [*FMSH_ARGV, script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        read_ready(proc)
        out, _err, _elapsed = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert out == "after 0\n"
    assert proc.returncode == 0


# --- SIGTERM -----------------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_sigterm_kills_script(tmp_path: Path, shell: str) -> None:
    script = write_script(tmp_path, "sleep 30\necho after\n")
    with new_session([*shell_argv(shell), script], tmp_path) as proc:
        wait_until_running(["sleep"], pgid=proc.pid)
        out, _err, elapsed = interrupt(proc, signal.SIGTERM)
    assert elapsed < QUICK
    assert out == ""
    assert proc.returncode == -signal.SIGTERM


@pytest.mark.parametrize("shell", SHELLS)
def test_trapped_sigterm(tmp_path: Path, shell: str) -> None:
    script = write_script(tmp_path, "trap 'echo term; exit 3' TERM\necho ready\nwhile :; do :; done\n")
    with new_session([*shell_argv(shell), script], tmp_path) as proc:
        read_ready(proc)
        out, _err, elapsed = interrupt(proc, signal.SIGTERM)
    assert elapsed < QUICK
    assert out == "term\n"
    assert proc.returncode == 3
