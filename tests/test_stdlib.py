"""The standard library (builtins/*.fmsh): autoload and lookup order, packaging, start-up
cost, `fmsh check` of every file, and each function against the real thing: `rolling` on
the sshd lab, `wait_healthy` on a local HTTP server, `confirm` at a pseudo-terminal and
answered by `signal` inside a task, `lock` between processes sharing a journal (and the
journal's migration 3, table `locks`).
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import journalbox
import pytest
from conftest import FMSH_ARGV, run_fmsh, run_remote
from httpserver import AnswerServer
from journalbox import finish as _finish
from journalbox import kill_group as _kill
from sshd import on_host, wait_until

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "builtins"
FILES = sorted(LIBRARY.glob("*.fmsh"))
NAMES = [path.stem for path in FILES]


@pytest.fixture
def box(tmp_path: Path) -> journalbox.Box:
    return journalbox.Box(tmp_path)


# --- the library's files -----------------------------------------------------------------


def test_the_library_has_its_functions() -> None:
    assert {"rolling", "wait_healthy", "confirm", "lock", "unlock"} <= set(NAMES)
    assert not (LIBRARY / "__init__.py").exists()  # never a Python package named builtins


@pytest.mark.parametrize("path", FILES, ids=NAMES)
def test_each_file_defines_its_function_under_a_header(path: Path) -> None:
    """One function a file, named as the file, after a comment that says how to call it,
    what it does and its exit status."""
    text = path.read_text()
    header = text.split(f"{path.stem}() {{", 1)[0]
    assert header.startswith(f"# {path.stem} "), header[:80]
    assert all(line.startswith("#") or not line.strip() for line in header.splitlines())
    assert "Exit status:" in header
    assert re.findall(r"^(\w+)\(\) \{", text, re.M) == [path.stem]


def test_library_names_are_not_common_commands() -> None:
    """The library comes before PATH: its names must be fmsh's own."""
    import shutil

    for name in NAMES:
        assert shutil.which(name, path="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin") is None, name


def test_every_file_passes_fmsh_check() -> None:
    result = run_fmsh("--check", *map(str, FILES))
    assert result.status == 0, result.out + result.err
    assert "unbounded" not in result.out


CALLS = {
    "rolling": "rolling -c 'wait_healthy http://$host/health 2m' -b 'sleep 30s' 4 web[01-20] systemctl restart app",
    "wait_healthy": "wait_healthy http://web1/health 2m",
    "confirm": "confirm -t 5m 'Deploy?'",
    "lock": "lock deploy 5m ./deploy.sh",
    "unlock": "unlock deploy",
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_function_is_bounded_when_called(name: str) -> None:
    """Checked with a call, so that the body is analysed (a definition alone costs nothing):
    no loop, wait or recursion in the library may make a task unbounded."""
    from fmsh.check import Defaults, check_program
    from fmsh.syntax.parser import parse
    from fmsh.syntax.source import Source

    text = "".join(path.read_text() for path in FILES) + CALLS[name] + "\n"
    report = check_program(parse(Source("t.fmsh", text)), "t.fmsh", Defaults())
    assert report.diagnostics == [], report.diagnostics
    assert report.bounded


# --- autoload and the lookup order --------------------------------------------------------


def test_a_library_function_is_loaded_when_first_called(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("declare -F wait_healthy; echo before=$?; wait_healthy; echo status=$?; declare -F wait_healthy")
    assert r.out == "before=1\nstatus=2\nwait_healthy\n"
    assert r.err == "usage: wait_healthy URL [TIMEOUT]\n"


def test_a_users_function_wins(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh('rolling() { echo "mine: $*"; }; rolling 2 web[1-4] true; type -t rolling')
    assert (r.status, r.out, r.err) == (0, "mine: 2 web[1-4] true\nfunction\n", "")


def test_a_users_function_defined_later_replaces_the_librarys(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("wait_healthy 2>/dev/null; wait_healthy() { echo mine; }; wait_healthy")
    assert r.out == "mine\n"


def test_the_library_comes_before_path_and_command_skips_it(fmsh, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("wait_healthy", "mytool"):
        (bin_dir / name).write_text(f"#!/bin/sh\necho 'PATH {name}'\n")
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    r = fmsh("wait_healthy; echo status=$?; mytool; command wait_healthy", env=env)
    assert r.out == "status=2\nPATH mytool\nPATH wait_healthy\n"
    assert "usage: wait_healthy URL [TIMEOUT]" in r.err
    r = fmsh("command lock x; echo status=$?")
    assert r.out == "status=127\n" and "lock: command not found" in r.err


def test_a_builtin_comes_before_the_library(tmp_path: Path) -> None:
    """A library file named as a builtin is never read (lookup: functions, builtins,
    library, PATH)."""
    code = (
        "import fmsh.interp.simple as s, fmsh.cli\n"
        "s.stdlib_index()['echo'] = '/nonexistent/echo.fmsh'\n"
        "raise SystemExit(fmsh.cli.main(['-c', 'echo builtin']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout) == (0, "builtin\n"), result.stderr


def test_type_and_command_v_know_the_library(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("type lock; type -t confirm; command -v rolling; declare -F lock; echo loaded=$?")
    lines = r.out.splitlines()
    assert lines[0] == "lock is a function"
    assert lines[1].startswith("(in the fmsh standard library, read when first called: ")
    assert lines[1].endswith("lock.fmsh)")
    assert lines[2:] == ["function", "rolling", "loaded=1"]  # described, not loaded


def test_the_library_is_parsed_without_the_users_aliases(fmsh) -> None:  # type: ignore[no-untyped-def]
    r = fmsh("shopt -s expand_aliases; alias echo='echo ALIASED'\nwait_healthy")
    assert r.err == "usage: wait_healthy URL [TIMEOUT]\n"


def test_set_u_and_set_e_callers(fmsh) -> None:  # type: ignore[no-untyped-def]
    """The library works under the caller's options: no unset variable, and its own
    failures handled, not ending a `set -e` shell before it says why."""
    r = fmsh("set -eu; lock L 0; unlock L; wait_healthy http://127.0.0.1:1/ 1s || echo status=$?; unlock L")
    assert r.status == 1 and r.out == "status=124\n" and "unlock: L: not locked" in r.err


# --- start-up: nothing read before a command needs it ------------------------------------


def _probe(command: str) -> str:
    """Run `fmsh -c command` in a Python that then says whether the library index was built
    and whether the primitives' module was imported."""
    code = (
        "import sys, fmsh.cli, fmsh.interp.simple as s\n"
        f"status = fmsh.cli.main(['-c', {command!r}])\n"
        "print('index', s._stdlib is not None, 'primitives', 'fmsh.builtins.stdlib' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def test_echo_hi_does_not_read_the_library() -> None:
    assert _probe("echo hi; x=1; f() { :; }; f; [[ $x ]]") == "index False primitives False"
    assert _probe("true /dev/null") == "index False primitives False"
    # An external command looks the name up in the library first (one listing, once).
    assert _probe("ls /dev/null >/dev/null") == "index True primitives False"
    assert _probe("lock -l") == "index True primitives True"


def test_echo_hi_imports_nothing_new() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fmsh", "-c", "echo hi"], capture_output=True, text=True, timeout=30
    )
    assert result.stdout == "hi\n"
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    for module in ("fmsh.builtins.stdlib", "fmsh.journal", "sqlite3", "threading", "fmsh.tasks.owner"):
        assert module not in imported, module


# --- packaging ----------------------------------------------------------------------------


def test_the_library_is_package_data_of_fmsh_stdlib() -> None:
    """fmsh/stdlib is a link to builtins/: the source tree, the editable install and a
    wheel (setuptools copies through the link) find the files at the same place."""
    import fmsh
    from fmsh.interp.simple import stdlib_index

    folder = Path(fmsh.__file__).parent / "stdlib"
    assert folder.resolve() == LIBRARY.resolve()
    assert sorted(stdlib_index()) == NAMES
    assert all(Path(path).parent == folder for path in stdlib_index().values())
    text = (ROOT / "pyproject.toml").read_text()
    assert '"fmsh.stdlib" = ["*.fmsh"]' in text


# --- rolling (the sshd lab) ----------------------------------------------------------------

# Each host writes a line when it starts and when it ends (its address tells it apart:
# the lab's hosts are 127.0.0.x), with a pause between.
_MARK = (
    'set -- $SSH_CONNECTION; echo "$3 start $(date +%s.%N)" >> {log}; sleep 0.3; echo "$3 end $(date +%s.%N)" >> {log}'
)


def _marks(lab, log: Path) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    names = {address: name for name, (address, _port) in lab.addresses.items()}
    seen: dict[str, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        address, what, at = line.split()
        seen.setdefault(names[address], {})[what] = float(at)
    return seen


def test_rolling_runs_the_batches_in_order(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "marks"
    r = run_remote(ssh_lab, f"rolling 4 host[01-10] {_MARK.format(log=log)!r}; echo status=$?")
    assert r.out.splitlines()[-1] == "status=0", r.err
    assert r.err.splitlines() == [
        "rolling: batch 1/3: host[01-04]",
        "rolling: batch 2/3: host[05-08]",
        "rolling: batch 3/3: host[09-10]",
    ]
    marks = _marks(ssh_lab, log)
    assert sorted(marks) == [f"host{i:02d}" for i in range(1, 11)]
    batches = [[f"host{i:02d}" for i in range(k, min(k + 4, 11))] for k in (1, 5, 9)]
    for earlier, later in zip(batches, batches[1:], strict=False):
        assert max(marks[h]["end"] for h in earlier) <= min(marks[h]["start"] for h in later)
    # the hosts of a batch run at once
    first = batches[0]
    assert max(marks[h]["start"] for h in first) < min(marks[h]["end"] for h in first)


def test_rolling_stops_at_the_first_failed_batch(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "ran"
    address = ssh_lab.addresses["host06"][0]
    command = f'set -- $SSH_CONNECTION; echo "$3" >> {log}; ' + on_host(address, "exit 3")
    r = run_remote(ssh_lab, f"rolling -q 4 host[01-12] {command!r}; echo status=$?")
    assert r.out == "status=3\n"
    assert r.err.strip().splitlines()[-1] == (
        "rolling: batch 2/3 (host[05-08]) failed on host06 (exit 3) (status 3); stopped: 1 of 3 batches not run"
    ), r.err
    names = {address: name for name, (address, _port) in ssh_lab.addresses.items()}
    ran = sorted(names[a] for a in log.read_text().split())
    assert ran == [f"host{i:02d}" for i in range(1, 9)]  # batch 3 never started


def test_rolling_checks_each_host_and_each_batch(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "checks"
    script = (
        f"rolling -q -c 'echo \"host $host of $batch\" >> {log}' -b 'echo \"batch $batch: $hosts\" >> {log}' "
        "2 'host[01-04]' true; echo status=$?"
    )
    r = run_remote(ssh_lab, script)
    assert (r.out, r.err) == ("status=0\n", "")
    assert log.read_text().splitlines() == [
        "host host01 of host[01-02]",
        "host host02 of host[01-02]",
        "batch host[01-02]: host01 host02",
        "host host03 of host[03-04]",
        "host host04 of host[03-04]",
        "batch host[03-04]: host03 host04",
    ]


def test_a_failed_check_stops_the_rollout(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "ran"
    command = f'set -- $SSH_CONNECTION; echo "$3" >> {log}'
    # (quoted: an argument, unlike what follows an @, is a glob pattern, and [01-06] a bad one)
    r = run_remote(ssh_lab, f"set -e; rolling -q -c '[[ $host != host03 ]]' 2 'host[01-06]' {command!r}; echo not here")
    assert r.status == 1 and r.out == ""
    assert r.err.strip() == (
        "rolling: batch 2/3 (host[03-04]): the check failed on host03 (status 1); stopped: 1 of 3 batches not run"
    )
    assert len(log.read_text().split()) == 4


def test_rolling_with_a_health_check_against_http(ssh_lab, http_server) -> None:  # type: ignore[no-untyped-def]
    url = http_server.url.replace("/health", "/$host")
    r = run_remote(ssh_lab, f"rolling -q -c 'wait_healthy {url} 10s' 2 'host[01-04]' true; echo status=$?")
    assert (r.out, r.err) == ("status=0\n", "")
    assert http_server.paths == ["/host01", "/host02", "/host03", "/host04"]


def test_a_resumed_rollout_does_not_run_finished_batches_again(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """In a task each batch is a step: killed in batch 2, the resumed task replays batch 1
    from the journal, runs batch 2 again where it had not finished, then batch 3."""
    from journalbox import journal_rows, lab_env
    from sshd import remote_processes

    hold, log = tmp_path / "hold", tmp_path / "ran"
    hold.touch()
    address = ssh_lab.addresses["host03"][0]
    command = f'set -- $SSH_CONNECTION; echo "$3" >> {log}; ' + on_host(
        address, f"while [ -e {hold} ]; do sleep 0.02; done"
    )
    script = tmp_path / "deploy.fmsh"
    script.write_text(f"task deploy {{ rolling -q 2 'host[01-06]' {command!r}; echo status=$?; }}\n")
    env = dict(os.environ, **lab_env(ssh_lab, tmp_path))
    proc = subprocess.Popen([*FMSH_ARGV, str(script)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip

    def host04_done() -> bool:
        try:
            return ("host04",) in journal_rows(tmp_path, "SELECT host FROM step_hosts")
        except sqlite3.Error:
            return False

    try:
        assert wait_until(host04_done, timeout=30)
    finally:
        _kill(proc)
    hold.unlink()
    assert wait_until(lambda: not remote_processes(str(hold)), timeout=15)
    resumed = run_fmsh("--resume", "1", env=lab_env(ssh_lab, tmp_path), cwd=tmp_path)
    assert (resumed.status, resumed.out) == (0, "status=0\n"), resumed.err
    names = {address: name for name, (address, _port) in ssh_lab.addresses.items()}
    ran = sorted(names[a] for a in log.read_text().split())
    assert ran == ["host01", "host02", "host03", "host03", "host04", "host05", "host06"]
    keys = [key for (key,) in journal_rows(tmp_path, "SELECT key FROM steps WHERE kind = 'remote' ORDER BY seq")]
    assert len(keys) == 3 and all(key.startswith("rolling@1:") and "stdlib/rolling.fmsh:" in key for key in keys)


@pytest.mark.parametrize(
    "args, message",
    [
        ("", "usage: rolling"),
        ("2 host01", "usage: rolling"),
        ("0 host01 true", "rolling: `0': not a batch size"),
        ("-z 2 host01 true", "illegal option"),
        ("2 'host[01-' true", "rolling: host[01-: bad host pattern"),
    ],
)
def test_rolling_usage(fmsh, args: str, message: str) -> None:  # type: ignore[no-untyped-def]
    r = fmsh(f"rolling {args}")
    assert r.status == 2 and message in r.err, r


# --- wait_healthy (a local HTTP server) ---------------------------------------------------


@pytest.fixture
def http_server():  # type: ignore[no-untyped-def]
    server = AnswerServer([(200, "ok")])
    yield server
    server.close()


def test_wait_healthy_waits_for_a_2xx() -> None:
    server = AnswerServer([(503, ""), (503, ""), (204, "")])
    try:
        started = time.monotonic()
        r = run_fmsh("-c", f"wait_healthy {server.url} 20s; echo status=$?")
        assert (r.out, r.err) == ("status=0\n", "")
        assert len(server.paths) == 3 and 1.5 < time.monotonic() - started < 10  # a try every second
    finally:
        server.close()


def test_wait_healthy_times_out_with_124() -> None:
    server = AnswerServer([(500, "")])
    try:
        started = time.monotonic()
        r = run_fmsh("-c", f"wait_healthy {server.url} 1500ms; echo status=$?")
        assert r.out == "status=124\n"
        assert f"await http {server.url}: timed out after 1.5s (last try: status 500)" in r.err
        assert time.monotonic() - started < 10
    finally:
        server.close()


def test_wait_healthy_usage(fmsh) -> None:  # type: ignore[no-untyped-def]
    assert fmsh("wait_healthy").status == 2
    bad = fmsh("wait_healthy ftp://x/ 1s")
    assert bad.status == 2 and "not an http:// or https:// URL" in bad.err
    bad = fmsh("wait_healthy http://x/ soon")
    assert bad.status == 2 and "not a duration" in bad.err


# --- confirm (a pseudo-terminal; a task answered by `signal`) -----------------------------


def _at_terminal(tmp_path: Path, script: str):  # type: ignore[no-untyped-def]
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "FMSH_JOURNAL": str(tmp_path / "journal.db")}
    env.pop("FMSH_DEBUG", None)
    return pexpect.spawn(
        FMSH_ARGV[0], [*FMSH_ARGV[1:], "-c", script], env=env, cwd=str(tmp_path), encoding="utf-8", timeout=15
    )


@pytest.mark.parametrize("answer, status", [("y", 0), ("YES", 0), ("n", 1), ("", 1), ("maybe", 1)])
def test_confirm_at_a_terminal(tmp_path: Path, answer: str, status: int) -> None:
    child = _at_terminal(tmp_path, "confirm 'Deploy to prod?' </dev/null; echo status=$?")
    child.expect_exact("Deploy to prod? [y/N] ")
    child.sendline(answer)
    child.expect(r"status=(\d+)")
    assert int(child.match.group(1)) == status
    child.expect(pytest.importorskip("pexpect").EOF)


def test_confirm_at_a_terminal_times_out(tmp_path: Path) -> None:
    child = _at_terminal(tmp_path, "confirm -t 1 'Sure?'; echo status=$?")
    child.expect_exact("Sure? [y/N] ")
    child.expect(r"status=(\d+)")
    assert child.match.group(1) == "124"
    assert "no answer within 1" in child.before


def test_confirm_without_a_terminal_or_a_task(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*FMSH_ARGV, "-c", "confirm 'Go?'; echo status=$?"],
        capture_output=True, text=True, timeout=30, start_new_session=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout == "status=2\n"
    assert "confirm: no terminal to ask `Go?' on, and not in a task" in proc.stderr


def _wait_for_signal_wait(box: journalbox.Box) -> None:
    assert wait_until(lambda: box.query("SELECT state FROM waits WHERE task_id = 1") == [("waiting",)], timeout=20), (
        box.query("SELECT * FROM waits")
    )


@pytest.mark.parametrize("answer, status", [("yes", 0), ("no", 1)])
def test_confirm_in_a_task_is_answered_by_signal(box: journalbox.Box, answer: str, status: int) -> None:
    proc = box.start("-c", "task release { confirm 'Release 2.0?'; echo status=$?; }")
    try:
        _wait_for_signal_wait(box)
        sent = box.run("-c", f"signal 1 confirm {answer}")
        assert sent.status == 0, sent.err
        code, out, err = _finish(proc)
    finally:
        if proc.poll() is None:
            _kill(proc)
    assert (code, out) == (0, f"status={status}\n")
    assert "confirm: Release 2.0?" in err
    assert "fmsh -c 'signal 1 confirm yes' (or no)" in err
    assert box.query("SELECT name, value, state FROM signals") == [("confirm", answer, "delivered")]


def test_confirm_in_a_task_times_out(box: journalbox.Box) -> None:
    r = box.run("-c", "task release { confirm -t 1s -n approve 'Go?'; echo status=$?; }")
    assert r.out == "status=124\n"
    assert "signal 1 approve yes" in r.err and "await signal approve: timed out after 1s" in r.err


# --- lock (processes sharing a journal) ---------------------------------------------------


def _stamps(path: Path) -> dict[str, float]:
    return {name: float(at) for name, at in (line.split() for line in path.read_text().splitlines())}


def test_a_second_holder_waits_until_the_first_unlocks(box: journalbox.Box) -> None:
    log = box.root / "log"
    first = box.start(
        "-c", f'lock L; echo "a-in $EPOCHREALTIME" >> {log}; sleep 1.5; echo "a-out $EPOCHREALTIME" >> {log}; unlock L'
    )
    try:
        assert wait_until(lambda: log.exists(), timeout=15)
        second = box.run(
            "-c", f'lock L 20s; echo "b-in $EPOCHREALTIME" >> {log}; echo "epoch=$LOCK_EPOCH"; unlock L; lock -l'
        )
        assert (second.status, second.out, second.err) == (0, "epoch=2\n", "")
        assert _finish(first)[0] == 0
    finally:
        if first.poll() is None:
            _kill(first)
    stamps = _stamps(log)
    assert stamps["a-in"] < stamps["a-out"] <= stamps["b-in"] < stamps["a-out"] + 3


def test_lock_command_holds_it_while_the_command_runs(box: journalbox.Box) -> None:
    log = box.root / "log"
    body = f'echo "$1-in $(date +%s.%N)" >> {log}; sleep 0.5; echo "$1-out $(date +%s.%N)" >> {log}'
    script = box.script("work.sh", body + "\n")
    procs = [box.start("-c", f"lock L 20s sh {script} {who}; echo status=$?") for who in ("a", "b", "c")]
    results = [_finish(proc) for proc in procs]
    assert [r[:2] for r in results] == [(0, "status=0\n")] * 3, results
    stamps = _stamps(log)
    spans = sorted((stamps[f"{w}-in"], stamps[f"{w}-out"]) for w in "abc")
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start  # no overlap
    assert box.run("-c", "lock -l").out == ""  # each released it after its command


def test_lock_command_status_and_release_on_failure(box: journalbox.Box) -> None:
    r = box.run("-c", "lock L -- sh -c 'exit 7'; echo status=$?; lock -l; lock L 0; echo again=$?")
    assert (r.out, r.err) == ("status=7\nagain=0\n", "")


def test_lock_times_out_with_124(box: journalbox.Box) -> None:
    holder = box.start("-c", "lock L; echo held; sleep 30")
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        started = time.monotonic()
        r = box.run("-c", "lock L 1s; echo status=$?")
        assert r.out == "status=124\n"
        assert re.search(r"lock: L: timed out after 1s: held by [^:]+:\d+ since .* \(epoch 1\)", r.err), r.err
        assert 0.9 < time.monotonic() - started < 8
        nowait = box.run("-c", "lock L 0; echo status=$?")
        assert nowait.out == "status=124\n"
        listed = box.run("-c", "lock -l").out.splitlines()
        assert listed[0].split() == ["NAME", "HOLDER", "EPOCH", "SINCE"]
        assert listed[1].split()[:3] == ["L", f"{os.uname().nodename}:{holder.pid}", "1"]
    finally:
        _kill(holder)


def test_a_killed_holders_lock_is_free(box: journalbox.Box) -> None:
    holder = box.start("-c", "lock L; echo held; sleep 60")
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    finally:
        _kill(holder)  # SIGKILL: no exit handler runs
    assert box.query("SELECT holder IS NOT NULL FROM locks") == [(1,)]
    started = time.monotonic()
    r = box.run("-c", "lock L 10s; echo status=$? epoch=$LOCK_EPOCH")
    assert r.out == "status=0 epoch=2\n"
    assert time.monotonic() - started < 5  # its process is gone: no need to wait for the lease


def test_a_lock_whose_lease_expired_is_free(box: journalbox.Box) -> None:
    """A holder on another machine (its pid cannot be looked at) holds the lock until its
    lease expires."""
    assert box.run("-c", "lock L 0; unlock L").status == 0
    conn = sqlite3.connect(box.journal)
    conn.execute(
        "UPDATE locks SET holder = 'elsewhere:42', owner_host = 'elsewhere', owner_pid = 42, "
        "owner_started = 'x:1', epoch = 5, acquired_at = ?, expires_at = ? WHERE name = 'L'",
        (time.time(), time.time() + 2),
    )
    conn.commit()
    conn.close()
    early = box.run("-c", "lock L 0; echo status=$?")
    assert early.out == "status=124\n" and "held by elsewhere:42" in early.err
    r = box.run("-c", "lock L 10s; echo status=$? epoch=$LOCK_EPOCH; unlock L")
    assert r.out == "status=0 epoch=6\n"


def test_an_exiting_shell_releases_its_locks(box: journalbox.Box) -> None:
    assert box.run("-c", "lock L; lock M").status == 0
    assert box.query("SELECT name, holder FROM locks ORDER BY name") == [("L", None), ("M", None)]


def test_the_lease_is_renewed_while_the_holder_lives(box: journalbox.Box) -> None:
    holder = box.start("-c", "lock L; echo held; sleep 30", env={"FMSH_LEASE": "1"})
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        [(first,)] = box.query("SELECT expires_at FROM locks")
        assert wait_until(lambda: box.query("SELECT expires_at FROM locks")[0][0] > first + 0.2, timeout=5)
        r = box.run("-c", "lock L 2500ms; echo status=$?", env={"FMSH_LEASE": "1"})
        assert r.out == "status=124\n"  # it outlived several leases, still held
    finally:
        _kill(holder)


def test_unlock_refuses_another_holders_lock(box: journalbox.Box) -> None:
    holder = box.start("-c", "lock L; echo held; sleep 30")
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        r = box.run("-c", "unlock L; echo status=$?; unlock X; echo status=$?")
        assert r.out == "status=1\nstatus=1\n"
        assert f"unlock: L: held by {os.uname().nodename}:{holder.pid}, not by this shell" in r.err
        assert "unlock: X: not locked" in r.err
        forced = box.run("-c", "unlock -f L; echo status=$?; lock L 0; echo status=$?")
        assert forced.out == "status=0\nstatus=0\n"
    finally:
        _kill(holder)


def test_a_tasks_lock_is_held_by_the_task(box: journalbox.Box) -> None:
    r = box.run("-c", "task t { lock L; lock -l; echo epoch=$LOCK_EPOCH; }")
    assert r.status == 0, r.err
    assert r.out.splitlines()[1].split()[:3] == ["L", "task", "1"]
    assert box.query("SELECT name, holder, epoch FROM locks") == [("L", None, 1)]


def test_a_tasks_lock_ends_with_the_task_at_the_prompt(box: journalbox.Box) -> None:
    lines = "task t { lock L; }\nlock -l\nsleep 2.5\nlock -l\necho done\n"
    r = box.run("-i", "--norc", stdin=lines)
    assert r.status == 0, r.err
    listed = [line for line in r.out.replace("$ ", "").splitlines() if line.strip()]
    assert listed[0].split()[:2] == ["NAME", "HOLDER"] and listed[1].split()[:3] == ["L", "task", "1"]
    assert listed[2:] == ["done"]  # released by the heartbeat, the task being over


def test_lock_usage(box: journalbox.Box) -> None:
    for args, message in [
        ("", "usage: lock NAME"),
        ("-x", "usage: lock NAME"),
        ("-l extra", "usage: lock -l"),
        ("'a b'", "lock: `a b': not a lock name"),
    ]:
        r = box.run("-c", f"lock {args}")
        assert r.status == 2 and message in r.err, (args, r)
    r = box.run("-c", "lock L", env={"FMSH_JOURNAL": "none"})
    assert r.status == 2 and "FMSH_JOURNAL=none" in r.err
    r = box.run("-c", "unlock")
    assert r.status == 2 and "usage: unlock [-f] NAME" in r.err


# --- the journal: migration 3 and the lock methods ----------------------------------------


def test_a_version_2_journal_gets_the_locks_table(box: journalbox.Box) -> None:
    from unittest import mock

    from fmsh.journal import schema

    conn = sqlite3.connect(box.journal, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    with mock.patch.object(schema, "MIGRATIONS", schema.MIGRATIONS[:2]), mock.patch.object(schema, "LATEST", 2):
        schema.migrate(conn, 0, time.time())
    conn.execute("COMMIT")
    conn.close()
    box.journal.chmod(0o600)
    assert box.query("PRAGMA user_version") == [(2,)]
    assert box.run("-c", "lock L 0; unlock L").status == 0
    assert box.query("PRAGMA user_version") == [(schema.LATEST,)]
    assert box.query("SELECT version, name FROM schema_migrations WHERE version = 3") == [(3, "locks")]
    columns = [row[1] for row in box.query("PRAGMA table_info(locks)")]
    assert columns == [
        "name", "holder", "epoch", "acquired_at", "expires_at", "owner_host", "owner_pid", "owner_started",
        "released_at",
    ]  # fmt: skip


def test_journal_lock_methods(tmp_path: Path) -> None:
    from fmsh.journal.base import Owner
    from fmsh.journal.sqlite import SQLiteJournal

    journal = SQLiteJournal(str(tmp_path / "j.db"))
    me, other = Owner("h", 1, "b:1"), Owner("h", 2, "b:2")
    never = lambda lock: False  # noqa: E731
    taken, lock = journal.acquire_lock("L", "h:1", me, 30, never)
    assert taken and (lock.holder, lock.epoch, lock.owner_pid) == ("h:1", 1, 1)
    taken, lock = journal.acquire_lock("L", "h:2", other, 30, never)
    assert not taken and lock.holder == "h:1"
    taken, lock = journal.acquire_lock("L", "h:1", me, 30, never)  # again: renewed, same epoch
    assert taken and lock.epoch == 1
    taken, lock = journal.acquire_lock("L", "h:2", other, 30, lambda lock: lock.owner_pid == 1)  # h:1 is gone
    assert taken and (lock.holder, lock.epoch) == ("h:2", 2)
    assert journal.renew_locks([("L", 1)], "h:1", 30) == ["L"]  # lost
    assert journal.renew_locks([("L", 2)], "h:2", 30) == []
    refused, held = journal.release_lock("L", "h:1")  # not h:1's
    assert not refused and held is not None and held.holder == "h:2"
    assert [x.name for x in journal.locks()] == ["L"]
    released, before = journal.release_lock("L", "h:2")
    assert released and before is not None and before.epoch == 2
    assert journal.locks() == [] and journal.release_lock("nothing", None) == (False, None)
    taken, lock = journal.acquire_lock("L", "task 7", me, 0.01, never)
    assert taken and lock.epoch == 3  # the epoch only goes up
    time.sleep(0.05)
    taken, lock = journal.acquire_lock("L", "h:2", other, 30, never)  # its lease expired
    assert taken and lock.epoch == 4
    journal.close()
