"""Secrets never reach the journal, the trace, the history or the replica.

One task uses four secrets (one from the environment, one read by `secret` from standard
input, one set by `secret NAME=$(cat file)`, and sudo's password) in every way a task can
journal a value: remote argv echoed into output, a capture, output split across chunks,
an error, a signal value, `set -x`; then a prompt session in a pseudo-terminal types
lines with a secret in them. Each secret's bytes are looked for in the journal and its
-wal (before and after a checkpoint), `trace --json/--html/--otel-json`, `log`, the
history and a restored copy of the replica, and must be found nowhere; a marker sent the
same way must be found in each, so that the test cannot pass by looking at nothing.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, run_fmsh
from sshd import wait_until
from test_sudo import PASSWORD, USER, sudo_lab  # noqa: F401 - the fixture, used by name

from fmsh.runtime import secrets

FROM_ENV = "env-token-Q7fK2"
FROM_STDIN = "stdin-secret-W4pL9"
FROM_FILE = "file-secret-AAAA-BBBB"
TYPED = "typed-secret-Z3xC8"
SECRETS = {"environment": FROM_ENV, "stdin": FROM_STDIN, "file": FROM_FILE, "typed": TYPED, "sudo": PASSWORD}

SCRIPT = f"""\
secret FROM_STDIN
secret FROM_FILE=$(cat secret-file)
@{USER}@host01 echo "argv $API_TOKEN $FROM_STDIN $FROM_FILE MARKER-ARGV"
x=$(@{USER}@host01 printf '%s %s %s MARKER-CAPTURE\\n' "$API_TOKEN" "$FROM_STDIN" "$FROM_FILE")
echo "captured: $x"
head=${{FROM_FILE%-BBBB}}
@{USER}@host01 sh -c 'printf %s "$1"; sleep 0.5; printf "%s MARKER-SPLIT\\n" "$2"' sh "$head" -BBBB
@{USER}@host01 sudo sh -c 'echo "uid $(id -u) MARKER-SUDO"'
signal "$FMSH_TASK_ID" go "$FROM_STDIN MARKER-SIGNAL"
await signal go into got timeout 20s
echo "got: $got"
@{USER}@host01 sh -c 'echo "$1" >&2; exit 3' sh "$FROM_FILE MARKER-ERROR" || true
set -x
@{USER}@host01 true "$API_TOKEN" "$FROM_STDIN" "$FROM_FILE" MARKER-XTRACE
"""


def _found(data: bytes) -> dict[str, bool]:
    """Which secrets are in `data`."""
    return {name: value.encode() in data for name, value in SECRETS.items()}


def _files(folder: Path, prefix: str) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob(prefix + "*")) if p.is_file())


def _checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def test_no_secret_reaches_the_journal_trace_history_or_replica(sudo_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from test_repl import Term

    (tmp_path / "secret-file").write_text(FROM_FILE + "\n")
    (tmp_path / "task.fmsh").write_text(SCRIPT)
    journal = tmp_path / "journal.db"
    replica = f"file://{tmp_path / 'replica'}"
    env = {**sudo_lab.env(), "FMSH_JOURNAL": str(journal), "API_TOKEN": FROM_ENV, "SUDO_PASSWORD": PASSWORD}
    run = run_fmsh("--replica", replica, "task.fmsh", stdin=FROM_STDIN + "\n", env=env, cwd=tmp_path, timeout=90)
    assert run.status == 0, run.err
    # The task did use the secrets: the user's own output shows them.
    assert f"captured: {FROM_ENV} {FROM_STDIN} {FROM_FILE} MARKER-CAPTURE" in run.out
    # A signal's value travels through the journal, which holds no secret: it arrives masked.
    assert "got: *** MARKER-SIGNAL" in run.out
    assert "uid 0 MARKER-SUDO" in run.out
    # set -x (standard error) masks them.
    assert "MARKER-XTRACE" in run.err and "+ @fmshsudo@host01 true *** *** *** MARKER-XTRACE" in run.err
    traced = "".join(line for line in run.err.splitlines(keepends=True) if line.startswith("+ "))
    assert not any(_found(traced.encode()).values()), traced

    # A prompt session on the same journal: a secret set and used in typed lines.
    home = tmp_path / "home"
    home.mkdir()
    term = Term(home, "--norc", env={**env, "FMSH_JOURNAL": str(journal)})
    term.prompt()
    term.run(f"secret TYPED_SECRET={TYPED}")
    term.run(f'@{USER}@host01 echo "$TYPED_SECRET {TYPED} MARKER-TYPED"')
    term.run(f"echo {FROM_ENV} MARKER-HISTORY")
    term.exit()
    history = home / "state" / "fmsh" / "history.db"

    sinks: dict[str, tuple[bytes, str]] = {}  # what was looked at, and the marker it must hold
    sinks["journal and -wal"] = (_files(tmp_path, "journal.db"), "MARKER-SPLIT")
    sinks["history and -wal"] = (_files(history.parent, "history.db"), "MARKER-HISTORY")
    _checkpoint(journal)
    _checkpoint(history)
    sinks["journal after a checkpoint"] = (_files(tmp_path, "journal.db"), "MARKER-SIGNAL")
    sinks["history after a checkpoint"] = (history.read_bytes(), "MARKER-TYPED")
    ids = [row[0] for row in sqlite3.connect(journal).execute("SELECT id FROM tasks ORDER BY id")]
    assert len(ids) == 2  # the script, and the typed remote line
    for task_id in ids:
        marker = "MARKER-ERROR" if task_id == ids[0] else "MARKER-TYPED"
        for flag in ("--json", "--html", "--otel-json"):
            target = tmp_path / f"trace-{task_id}{flag}"
            args = [flag] if flag == "--json" else [flag, str(target)]
            shown = run_fmsh("--trace", str(task_id), *args, env=env, cwd=tmp_path)
            assert shown.status == 0, shown.err
            data = shown.out.encode() if flag == "--json" else target.read_bytes()
            sinks[f"trace {task_id} {flag}"] = (data, marker if flag != "--otel-json" else "host01")
        log = run_fmsh("-c", f"log {task_id}", env=env, cwd=tmp_path)
        assert log.status == 0, log.err
        sinks[f"log {task_id}"] = (log.out.encode(), "MARKER-ARGV" if task_id == ids[0] else "MARKER-TYPED")
    restored = tmp_path / "restored"
    restored.mkdir()
    recover = run_fmsh("--recover", "--from", replica, "--no-resume", env={"FMSH_JOURNAL": str(restored / "j.db")},
                       cwd=restored)  # fmt: skip
    assert recover.status == 0, recover.err
    _checkpoint(restored / "j.db")
    sinks["the replica, restored"] = (_files(restored, "j.db"), "MARKER-TYPED")

    for name, (data, marker) in sinks.items():
        assert marker.encode() in data, f"{name}: the control marker {marker} is missing: the grep looks at nothing"
        leaked = [which for which, found in _found(data).items() if found]
        assert not leaked, f"{name}: holds the secrets {leaked}"


def test_a_secret_split_across_output_chunks_is_masked() -> None:
    """The journal gets a host's output as the chunks it came in: a secret that straddles
    two of them (or is cut by the output cap) is masked all the same."""
    secrets.reset()
    try:
        secrets.mark("S", "abcd-SECRET-wxyz")
        assert secrets.mask_pieces([b"1 abcd-SEC", b"RET-wxyz 2\n"]) == [b"1 ***", b" 2\n"]
        assert secrets.mask_pieces([b"abcd", b"-SECRET-", b"wxyz"]) == [b"***", b"", b""]
        assert secrets.mask_pieces([b"ok ", b"abcd-SE"], partial_tail=True) == [b"ok ", b"***"]
        assert secrets.mask_pieces([b"no secret here"]) == [b"no secret here"]
    finally:
        secrets.reset()


def test_short_values_are_not_masked_and_secret_says_so(fmsh) -> None:  # type: ignore[no-untyped-def]
    result = fmsh("secret PIN=123 LONG=long-value; set -x; : $PIN $LONG")
    assert result.status == 0
    assert "PIN: shorter than 4 characters, its value is not masked" in result.err
    assert "+ : 123 ***\n" in result.err


def test_secret_lists_names_never_values(fmsh) -> None:  # type: ignore[no-untyped-def]
    result = fmsh("secret A=first-value B=second-value; secret; secret -p", env={"GITHUB_TOKEN": "from-env-value"})
    assert result.status == 0, result.err
    assert result.out == "secret A\nsecret B\nsecret GITHUB_TOKEN\n" * 2
    assert "value" not in result.out


def test_secret_reads_a_line_of_standard_input(fmsh) -> None:  # type: ignore[no-untyped-def]
    result = fmsh('secret DB_PASSWORD; echo "[$DB_PASSWORD]"', stdin="s3cr3t-line\nrest\n")
    assert (result.status, result.out) == (0, "[s3cr3t-line]\n")
    empty = fmsh("secret DB_PASSWORD", stdin="")
    assert empty.status == 1
    assert "secret: DB_PASSWORD: no value on standard input (end of input)" in empty.err
    bad = fmsh("secret 1x=y")
    assert bad.status == 1 and "`1x=y': not a valid identifier" in bad.err


def test_an_exported_secret_reaches_child_processes(fmsh) -> None:  # type: ignore[no-untyped-def]
    result = fmsh("secret -x TOKEN_X=child-sees-it; sh -c 'echo \"$TOKEN_X\"'")
    assert (result.status, result.out) == (0, "child-sees-it\n")


def test_a_literal_secret_in_a_task_script_is_warned_about(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**ssh_lab.env(), "FMSH_JOURNAL": str(tmp_path / "journal.db")}
    result = run_fmsh("-c", "secret K=literal-in-script; @host01 true", env=env, cwd=tmp_path)
    assert result.status == 0, result.err
    assert "secret: K: the value is written in the task's script" in result.err


def _killed_midway(argv: list[str], stdin: str, env: dict[str, str], cwd: Path, started: Path) -> None:
    """Run fmsh until the remote step has started (`started` exists), then SIGKILL it."""
    full = {**os.environ, **env}
    proc = subprocess.Popen([*FMSH_ARGV, *argv], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=full, cwd=cwd, start_new_session=True)  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    assert wait_until(started.exists, 30), proc.stderr.read() if proc.stderr else ""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    started.unlink()


def test_resume_reads_secrets_again_and_names_the_missing_ones(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A resumed task is given its secrets again, not from the journal: `secret NAME`
    reads its value again, and an environment secret that the resuming environment lacks
    is named."""
    env = {**ssh_lab.env(), "FMSH_JOURNAL": str(tmp_path / "journal.db"), "API_TOKEN": "resume-token-1"}
    count, started = tmp_path / "count", tmp_path / "started"
    (tmp_path / "t.fmsh").write_text(
        "secret PW\n"
        '@host01 echo "one $API_TOKEN $PW"\n'
        f"@host01 sh -c 'n=$(cat {count} 2>/dev/null || echo 0); echo $((n+1)) > {count}; "
        f'if [ $n -ge 1 ]; then echo "two [$1] [$2]"; else touch {started}; sleep 20; fi\' sh "$API_TOKEN" "$PW"\n'
    )
    _killed_midway(["t.fmsh"], "resume-pw-1\n", env, tmp_path, started)
    task_id = sqlite3.connect(tmp_path / "journal.db").execute("SELECT max(id) FROM tasks").fetchone()[0]
    del env["API_TOKEN"]
    resumed = run_fmsh("-c", f"resume {task_id}", stdin="resume-pw-2\n", env=env, cwd=tmp_path, timeout=60)
    assert resumed.status == 0, resumed.err
    assert f"task {task_id}: API_TOKEN was set when the task began and is not set now" in resumed.err
    assert "two [] [resume-pw-2]" in resumed.out  # read again, not replayed
    data = _files(tmp_path, "journal.db")
    assert b"resume-token-" not in data and b"resume-pw-" not in data
    assert b"API_TOKEN" in data  # control: its name is journaled


def test_resume_takes_an_environment_secret_from_the_resuming_shell(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**ssh_lab.env(), "FMSH_JOURNAL": str(tmp_path / "journal.db"), "API_TOKEN": "resume-token-1"}
    ran, started = tmp_path / "ran", tmp_path / "started"
    (tmp_path / "t.fmsh").write_text(
        f"@host01 sh -c 'test -e {ran} || {{ touch {ran} {started}; sleep 20; }}'\n@host01 echo \"[$API_TOKEN]\"\n"
    )
    _killed_midway(["t.fmsh"], "", env, tmp_path, started)
    task_id = sqlite3.connect(tmp_path / "journal.db").execute("SELECT max(id) FROM tasks").fetchone()[0]
    env["API_TOKEN"] = "resume-token-2"
    resumed = run_fmsh("-c", f"resume {task_id}", env=env, cwd=tmp_path, timeout=60)
    assert resumed.status == 0, resumed.err
    assert resumed.out.endswith("[resume-token-2]\n")
    assert b"resume-token-" not in _files(tmp_path, "journal.db")


@pytest.fixture(autouse=True)
def _fresh_registry() -> None:
    secrets.reset()


def test_secret_asks_at_a_terminal_without_echo(tmp_path: Path) -> None:
    from test_repl import Term

    term = Term(tmp_path, "--norc")
    term.prompt()
    term.child.send("secret TYPED_PW\r")
    term.expect("TYPED_PW: ")
    term.child.send("typed-at-the-prompt-1\r")
    screen = term.expect(term.prompt_re)
    assert "typed-at-the-prompt-1" not in screen  # not echoed
    shown = term.run('echo "[$TYPED_PW]"; secret')
    assert "[typed-at-the-prompt-1]" in shown and "secret TYPED_PW" in shown
    term.exit()
    history = (tmp_path / "state" / "fmsh" / "history.db").read_bytes()
    assert b"secret TYPED_PW" in history and b"typed-at-the-prompt-1" not in history
