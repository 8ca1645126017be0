"""The interactive prompt, driven for real in a pseudo-terminal (pexpect): running a line,
multi-line input, history (shared in SQLite, surviving a restart), autosuggestion, Ctrl-R,
Ctrl-C, bad input, and a program that takes the terminal (less)."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK

pexpect = pytest.importorskip("pexpect")

ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>78])")
TIMEOUT = 10


def plain(text: str) -> str:
    """What the terminal showed, without escape sequences and carriage returns."""
    return ANSI.sub("", text).replace("\r", "")


class Term:
    """fmsh in a pseudo-terminal, with its own HOME, XDG directories and journal."""

    def __init__(self, home: Path, *args: str, env: dict[str, str] | None = None, prompt: str = r"~[^\n]*[$#]") -> None:
        self.home = home
        self.prompt_re = prompt
        full = {
            **os.environ,
            "TERM": "xterm-256color",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
            "FMSH_JOURNAL": str(home / "journal.db"),
        }
        full.pop("PS1", None)
        full.pop("SSH_CONNECTION", None)
        full.update(env or {})
        self.child = pexpect.spawn(
            FMSH_ARGV[0],
            [*FMSH_ARGV[1:], *args],
            env=full,
            cwd=str(home),
            encoding="utf-8",
            codec_errors="replace",
            timeout=TIMEOUT,
            dimensions=(24, 100),
        )
        self.seen = ""  # everything read so far, escapes removed
        self.marks = 0

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> str:
        """Wait until the screen output (escapes removed) matches the regex; the text up to
        and including the match."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.seen)
            if match:
                shown, self.seen = self.seen[: match.end()], self.seen[match.end() :]
                return shown
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {pattern!r}; the screen showed:\n{self.seen[-2000:]}")
            try:
                chunk = self.child.read_nonblocking(65536, timeout=min(left, 0.2))
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                message = f"fmsh ended waiting for {pattern!r}; the screen showed:\n{self.seen[-2000:]}"
                raise AssertionError(message) from None
            self.seen += plain(chunk)
            assert TRACEBACK not in self.seen

    def prompt(self) -> None:
        """Wait for the prompt (by default: the directory, then $ or #)."""
        self.expect(self.prompt_re)

    def run(self, line: str) -> str:
        """Type a line and Enter; wait until it has run (a marker echoed after it); its output."""
        self.marks += 1
        self.child.send(line + "\r")
        self.child.send(f"echo MARK{self.marks}$((40+2))\r")
        shown = self.expect(f"MARK{self.marks}42\n")
        self.prompt()
        return shown

    def alive(self) -> None:
        self.child.send("echo ALIVE$((6*7))\r")
        self.expect("ALIVE42")
        self.prompt()

    def exit(self, status: int = 0) -> None:
        """Ctrl-D at the prompt (wait for the prompt first: a Ctrl-D typed ahead while a
        command runs is the terminal's end-of-file, not a key)."""
        self.alive()
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF, timeout=TIMEOUT)
        self.child.close()
        assert TRACEBACK not in plain(self.child.before or "")
        assert self.child.exitstatus == status, (self.child.exitstatus, self.child.signalstatus)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def term(home: Path):  # type: ignore[no-untyped-def]
    t = Term(home, "--norc")
    t.prompt()
    yield t
    if t.child.isalive():
        t.child.terminate(force=True)


def test_a_command_and_its_output(term: Term) -> None:
    out = term.run("echo hello $((6*7))")
    assert "hello 42\n" in out
    term.exit(0)


def test_the_prompt_shows_a_failed_status(term: Term) -> None:
    out = term.run("false")
    assert "[1]" in out
    term.exit(0)


def test_ctrl_d_exits_with_the_last_status(term: Term) -> None:
    term.child.send("false\r")
    term.expect(r"\[1\][^\n]*[$#]")
    term.child.sendcontrol("d")
    term.child.expect(pexpect.EOF)
    term.child.close()
    assert term.child.exitstatus == 1


def test_a_multi_line_for_loop(term: Term) -> None:
    term.child.send("for i in a b c\r")
    term.expect("\n>")  # the continuation prompt
    term.child.send("do echo item-$i\r")
    term.child.send("done\r")
    term.expect("item-a\nitem-b\nitem-c\n")
    term.alive()
    term.exit(0)


def test_alt_enter_inserts_a_newline(term: Term) -> None:
    term.child.send("echo one\x1b\recho two\r")
    term.expect("one\ntwo\n")
    term.exit(0)


def test_autosuggestion_accepted_with_right_arrow(term: Term) -> None:
    term.run("echo suggested-$((1+1))")
    term.child.send("echo sugg")
    time.sleep(0.3)
    term.child.send("\x1b[C\r")  # Right arrow accepts the grey suggestion
    term.expect("suggested-2\n")
    term.exit(0)


def test_ctrl_r_finds_a_command(term: Term) -> None:
    term.run("echo needle-$((3*3))")
    term.run("echo other")
    term.child.sendcontrol("r")
    term.child.send("needle")
    time.sleep(0.3)
    term.child.send("\r")  # runs the line found, as in bash
    term.expect("needle-9\n")
    term.exit(0)


def test_ctrl_c_at_the_prompt_drops_the_line(term: Term) -> None:
    term.child.send("echo never-run")
    term.child.sendcontrol("c")
    term.child.send("echo status=$?\r")
    term.expect("status=130")
    term.exit(0)


def test_ctrl_c_stops_sleep(term: Term) -> None:
    term.child.send("sleep 100\r")
    time.sleep(0.5)
    started = time.monotonic()
    term.child.sendcontrol("c")
    term.child.send("echo status=$?\r")
    term.expect("status=130")
    assert time.monotonic() - started < 1.5  # within 1 s (and the echo)
    term.alive()
    term.exit(0)


def test_history_survives_a_restart(home: Path) -> None:
    first = Term(home, "--norc")
    first.prompt()
    first.child.send("echo first-session-$((2+2))\r")
    first.expect("first-session-4\n")
    first.prompt()
    first.child.sendcontrol("d")
    first.child.expect(pexpect.EOF)
    db = home / "state" / "fmsh" / "history.db"
    assert db.stat().st_mode & 0o777 == 0o600
    assert db.parent.stat().st_mode & 0o777 == 0o700
    rows = sqlite3.connect(db).execute("SELECT command, status, cwd, duration FROM entries ORDER BY id").fetchall()
    assert rows[0][:3] == ("echo first-session-$((2+2))", 0, str(home))
    assert rows[0][3] is not None

    second = Term(home, "--norc")
    second.prompt()
    time.sleep(0.3)
    second.child.send("\x1b[A")  # Up: the last command of the first session
    time.sleep(0.3)
    second.child.send("\r")
    second.expect("first-session-4\n")
    out = second.run("history")
    assert re.search(r"\d+  echo first-session-\$\(\(2\+2\)\)\n", out)
    second.exit(0)


def test_history_builtin_clear_and_count(term: Term) -> None:
    term.run("echo a1")
    term.run("echo a2")
    out = term.run("history 2")
    listed = [line for line in out.splitlines() if re.match(r"\s*\d+  ", line)]
    assert len(listed) == 2
    out = term.run("history -c; history | wc -l")
    assert re.search(r"^\s*0$", out, re.M)
    term.exit(0)


def test_a_line_starting_with_a_space_is_not_kept(term: Term) -> None:
    term.run(" echo secret-thing")
    out = term.run("history")
    assert "echo secret-thing" not in out.split("history", 1)[1]
    term.exit(0)


def test_an_unusable_history_file_is_said_once(home: Path) -> None:
    (home / "file").write_text("")
    t = Term(home, "--norc", env={"FMSH_HISTORY": str(home / "file" / "history.db")})
    t.prompt()
    out = t.run("echo one")
    assert "history: " in out and "commands are not kept" in out
    out = t.run("echo two")
    assert "history: " not in out
    t.exit(0)


def test_unterminated_quote_then_ctrl_d(term: Term) -> None:
    term.child.send("echo 'abc")
    time.sleep(0.2)
    term.child.sendcontrol("d")
    term.expect("unterminated")
    term.child.send("echo status=$?\r")
    term.expect("status=2")
    term.alive()
    term.exit(0)


def test_a_syntax_error_keeps_the_shell(term: Term) -> None:
    term.child.send("echo )\r")
    term.expect("fmsh: ")
    term.child.send("echo status=$?\r")
    term.expect("status=2")
    term.alive()
    term.exit(0)


def test_a_one_megabyte_paste(term: Term) -> None:
    # As a terminal pastes (bracketed paste, which prompt_toolkit turns on): one line,
    # sent in chunks.
    data = ": " + "x" * (1 << 20)
    term.child.send("\x1b[200~")
    for i in range(0, len(data), 16384):
        term.child.send(data[i : i + 16384])
    term.child.send("\x1b[201~")
    term.child.send("\r")
    term.child.send("echo status=$?\r")
    term.expect("status=0", timeout=60)
    term.alive()
    term.exit(0)


def test_a_paste_without_bracketed_paste(term: Term) -> None:
    # A terminal that does not bracket pastes: the characters arrive as if typed.
    data = ": " + "y" * (256 * 1024)
    for i in range(0, len(data), 4096):
        term.child.send(data[i : i + 4096])
    term.child.send("\r")
    term.child.send("echo status=$?\r")
    term.expect("status=0", timeout=60)
    term.exit(0)


@pytest.mark.skipif(shutil.which("less") is None, reason="no less")
def test_less_takes_the_terminal_and_gives_it_back(term: Term, home: Path) -> None:
    (home / "file.txt").write_text("".join(f"line {i}\n" for i in range(200)))
    term.child.send("less file.txt\r")
    term.expect("line 10")
    term.child.send("q")
    term.child.send("echo back-$((5+5))\r")
    term.expect("back-10")
    term.exit(0)


def test_the_rc_file_is_sourced(home: Path) -> None:
    rc = home / "config" / "fmsh" / "rc"
    rc.parent.mkdir(parents=True)
    rc.write_text("greeting=from-rc\nPS1='rc\\$ '\n")
    t = Term(home, prompt=r"rc[$#]")
    t.prompt()
    t.child.send("echo $greeting\r")
    t.expect("from-rc")
    t.exit(0)


def test_ps1_escapes(home: Path) -> None:
    (home / "sub").mkdir()
    t = Term(home, "--norc", env={"PS1": r"[\W]\$ "}, prompt=r"\[sub\][$#]")
    t.expect(r"\[~\][$#]")
    t.child.send("cd sub\r")
    t.expect(r"\[sub\][$#]")
    t.exit(0)


def test_inside_ssh_the_prompt_names_the_host(home: Path) -> None:
    t = Term(home, "--norc", env={"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22"})
    t.expect("@" + re.escape(os.uname().nodename.split(".")[0]) + ":~")
    t.exit(0)


def test_the_first_prompt_is_fast(home: Path) -> None:
    best = 10.0
    for _ in range(3):
        started = time.monotonic()
        t = Term(home, "--norc")
        t.prompt()
        best = min(best, time.monotonic() - started)
        t.exit(0)
    assert best < 0.5, best  # ~0.07 s here; generous for loaded machines


def test_exit_status_of_the_session(term: Term) -> None:
    term.child.send("exit 7\r")
    term.child.expect(pexpect.EOF)
    term.child.close()
    assert term.child.exitstatus == 7


def test_the_prompt_is_not_loaded_without_a_terminal() -> None:
    """`fmsh -c` (and the history builtin) must not pay for prompt_toolkit."""
    import subprocess
    import sys

    heavy = ("prompt_toolkit", "rich", "sqlite_utils")
    code = (
        "import sys; from fmsh.cli import main; main(['-c', 'echo hi; history >/dev/null']); "
        f"print([m for m in sys.modules if m.split('.')[0] in {heavy!r}])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out == "hi\n[]\n", out


def test_plain_reader_with_a_pipe(home: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [*FMSH_ARGV, "-i", "--norc"],
        input="echo one\nfor i in 1 2\ndo echo $i; done\n",
        capture_output=True,
        text=True,
        cwd=home,
        env={**os.environ, "HOME": str(home)},
    )
    assert proc.stdout == "one\n1\n2\n"
    assert TRACEBACK not in proc.stderr


def test_history_builtin_without_a_prompt(home: Path) -> None:
    import subprocess

    from fmsh.repl.history import HistoryStore

    db = home / "h.db"
    store = HistoryStore(str(db))
    for command in ("echo one", "echo two", "ls\n  -l"):
        entry = store.record(command, "/tmp", "box", "s1")
        assert entry is not None
        store.finish(entry, 0, 0.5)
    store.close()
    env = {**os.environ, "FMSH_HISTORY": str(db)}

    def fmsh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*FMSH_ARGV, "-c", *args], capture_output=True, text=True, env=env)

    assert fmsh("history").stdout == "    1  echo one\n    2  echo two\n    3  ls\n         -l\n"
    assert fmsh("history 1").stdout == "    3  ls\n         -l\n"
    long = fmsh("history -l 1").stdout
    assert "0.500s" in long and "/tmp" in long
    assert '"command": "echo two"' in fmsh("history -j 2").stdout
    bad = fmsh("history x")
    assert bad.returncode == 2 and "usage" in bad.stderr
    assert fmsh("history -c; history | wc -l").stdout.strip() == "0"
    missing = subprocess.run(
        [*FMSH_ARGV, "-c", "history; echo $?"],
        capture_output=True,
        text=True,
        env={**env, "FMSH_HISTORY": str(home / "none.db")},
    )
    assert missing.stdout == "0\n" and not (home / "none.db").exists()


def test_tab_completes_a_command_a_path_and_a_host(home: Path) -> None:
    (home / "zqfile-unique.txt").write_text("file-content-42\n")
    inventory = home / "inventory.toml"
    inventory.write_text('[hosts."zqhost[01-01]"]\n')
    term = Term(home, "--norc", env={"FMSH_INVENTORY": str(inventory), "FMSH_SSH_CONFIG": str(home / "none")})
    try:
        term.prompt()
        term.run("zqfunction_here() { echo function-ran-$((40+2)); }")
        term.child.send("zqfunction_h\t")  # a command: the function defined above
        time.sleep(0.3)
        term.child.send("\r")
        term.expect("function-ran-42\n")
        term.prompt()
        term.child.send("cat zqfile-u\t")  # a path
        time.sleep(0.3)
        term.child.send("\r")
        term.expect("file-content-42\n")
        term.prompt()
        term.child.send("@zqho\t")  # a host; then `echo ` before it, to show the word without running it
        time.sleep(0.3)
        term.child.sendcontrol("a")
        term.child.send("echo \r")
        term.expect("@zqhost01\n")
        term.exit(0)
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
