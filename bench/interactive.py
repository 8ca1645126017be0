"""Interactive start-up and redraw in a pseudo-terminal: fmsh against bash and xonsh.

What it measures, for each shell spawned on a fresh pty (80x24, TERM=xterm-256color):

    first prompt     spawn -> the prompt `READY>` drawn on the terminal
    line editor up   spawn -> bracketed paste switched on (ESC[?2004h), which
                     readline and prompt-toolkit send when their editor takes
                     the terminal (a row only for shells that send it); a shell
                     that paints an early prompt before loading its editor
                     shows the gap here
    first output     spawn -> the output of `echo FIRST-OUT`, typed (with Enter)
                     as soon as the prompt appeared
    keystroke        with a 200-character line typed at the prompt, single
                     keystrokes (alternately `x` and Backspace, so the line stays
                     200/201 characters) -> the first byte the terminal gets back
                     (first byte), and -> the last byte before 30 ms of silence
                     (redraw done)

The shells:

    fmsh -i --norc                        PS1='READY> ' in the environment
    bash --norc --noprofile -i            PS1='READY> ' in the environment
    xonsh --no-rc -i -D PROMPT='READY> '  xonsh from PyPI in bench/.venv
                                          (bench/setup installs it), welcome
                                          message suppressed

All of them get PROMPT_TOOLKIT_NO_CPR=1 (prompt-toolkit otherwise waits for a
cursor-position reply), a private temporary HOME shared by all runs (so history
files persist between runs, as for a person), and the environment without
PYTHONDONTWRITEBYTECODE (so the warm-up runs leave bytecode behind).  The prompt
is looked for after removing escape sequences (prompt-toolkit draws the space
after `READY>` as a cursor movement); the first command's output is `FIRST-OUT`
at the start of a line (the echo of the typed command has it after `echo `).
If a shell's output never shows `READY>` (a prompt that ignores PS1), that
shell's "first prompt" falls back to the first output byte and the report says
so.  Sessions are killed (SIGKILL to the process group) once measured; the CPU
column is the session's user+sys time up to then.

Runs are round-robin (one session of each shell per round, rotating order)
after warm-up rounds.  Targets (issue 6): fmsh's first prompt <= 0.7x xonsh's;
a keystroke's redraw on a 200-character line under 10 ms median.  A missed
target is reported, not an error.  The exit status is 1 if fmsh or bash could
not be measured, or (outside --quick) if an installed xonsh failed; a missing
xonsh is reported as skipped.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from dataclasses import dataclass, field

import _timing as t

PROMPT = "READY> "
PROMPT_MARK = b"READY>"
FIRST_CMD = b"echo FIRST-OUT\r"
EDITOR_MARK = b"\x1b[?2004h"  # bracketed paste on: readline / prompt-toolkit own the terminal
FIRST_OUT = re.compile(rb"(?:^|[\r\n])FIRST-OUT\r*\n")
ROWS, COLS = 24, 80
QUIET = 0.030  # a keystroke's redraw is over after this long without output
LINE_LEN = 200
FP_TARGET = 0.7  # fmsh first prompt / xonsh first prompt
KEY_TARGET = 0.010  # median keystroke redraw

# CSI, OSC (ended by BEL or ST), charset selection, other two-byte escapes.
_ESC = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78MDEc]")


def strip_escapes(data: bytes) -> bytes:
    return _ESC.sub(b"", data)


def typed_line() -> bytes:
    """A 200-character command line with words, a variable and a quoted string."""
    words = ['echo "$HOME"']
    i = 0
    while len(" ".join(words)) < LINE_LEN:
        words.append(f"word{i}")
        i += 1
    return " ".join(words)[:LINE_LEN].encode()


@dataclass
class Shell:
    name: str
    argv: list[str]
    env: dict[str, str]
    mark: bytes | None = PROMPT_MARK  # None: the prompt is the first output byte
    error: str | None = None
    prompt: t.Case = field(init=False)
    first: t.Case = field(init=False)
    editor: t.Case = field(init=False)
    keys_first: list[float] = field(default_factory=list)
    keys_done: list[float] = field(default_factory=list)
    late_bytes: int = 0
    cooked: bool = False  # the tty was in canonical mode at the prompt: the kernel echoes keys

    def __post_init__(self) -> None:
        self.prompt = t.Case(f"{self.name}: first prompt", self.argv)
        self.first = t.Case(f"{self.name}: first output", self.argv)
        self.editor = t.Case(f"{self.name}: line editor up", self.argv)


class SessionError(Exception):
    pass


class Session:
    """A shell on a fresh pty; the parent reads the master side."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # child
            try:
                os.setsid()
                os.close(master)
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                if slave > 2:
                    os.close(slave)
                os.execve(shell.argv[0], shell.argv, shell.env)
            except BaseException as exc:  # noqa: BLE001 - report and leave the child
                os.write(2, f"exec failed: {exc}\n".encode())
            os._exit(127)
        os.close(slave)
        self.pid = pid
        self.fd = master
        self.buf = b""
        self.eof = False
        self.cpu = 0.0
        self.t_editor: float | None = None  # when bracketed paste was first switched on

    def read(self, timeout: float) -> bytes:
        """Bytes available within `timeout` seconds (b'' on timeout or EOF)."""
        if self.eof:
            return b""
        r, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not r:
            return b""
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the slave side is closed
            data = b""
        if not data:
            self.eof = True
        self.buf += data
        if self.t_editor is None and EDITOR_MARK in self.buf[-len(data) - len(EDITOR_MARK) :]:
            self.t_editor = time.perf_counter() - self.t0
        return data

    def wait_for(self, pred, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
        """Read until pred(buffer) holds; return the time since spawn."""
        deadline = time.perf_counter() + timeout
        while not pred(self.buf):
            left = deadline - time.perf_counter()
            if left <= 0:
                raise SessionError(f"no {what} within {timeout:g} s; output: {self.tail()!r}")
            self.read(left)
            if self.eof and not pred(self.buf):
                raise SessionError(f"the shell exited before {what}; output: {self.tail()!r}")
        return time.perf_counter() - self.t0

    def wait_prompt(self, timeout: float) -> float:
        mark = self.shell.mark
        if mark is None:
            return self.wait_for(lambda b: len(b) > 0, timeout, "output")
        return self.wait_for(lambda b: mark in strip_escapes(b), timeout, "prompt READY>")

    def drain(self, quiet: float, limit: float) -> None:
        """Read until `quiet` seconds pass without output (at most `limit` seconds)."""
        end = time.perf_counter() + limit
        while time.perf_counter() < end and not self.eof:
            if not self.read(quiet):
                return

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def tail(self) -> bytes:
        return self.buf[-300:]

    def close(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            _, _, ru = os.wait4(self.pid, 0)
            self.cpu = ru.ru_utime + ru.ru_stime
        except ChildProcessError:
            pass
        os.close(self.fd)


def startup_once(shell: Shell, timeout: float) -> tuple[float, float, float | None, float]:
    """(first prompt, first output, line editor up or None, session CPU) in seconds."""
    s = Session(shell)
    try:
        prompt = s.wait_prompt(timeout)
        s.send(FIRST_CMD)
        first = s.wait_for(lambda b: FIRST_OUT.search(strip_escapes(b)) is not None, timeout, "FIRST-OUT")
    finally:
        s.close()
    return prompt, first, s.t_editor, s.cpu


def probe(shell: Shell, timeout: float) -> None:
    """A first, untimed session: check the shell starts; fall back to the first byte if READY> never shows."""
    s = Session(shell)
    try:
        try:
            s.wait_prompt(timeout)
        except SessionError as exc:
            if s.buf and not s.eof:
                shell.mark = None
            else:
                shell.error = str(exc)
    finally:
        s.close()


def startup_rounds(shells: list[Shell], runs: int, warmup: int, timeout: float) -> None:
    progress = sys.stderr.isatty()
    for r in range(-warmup, runs):
        if progress:
            print(f"\r  start-up round {r + 1 if r >= 0 else 'warm-up'}/{runs} ", end="", file=sys.stderr, flush=True)
        for k in range(len(shells)):
            sh = shells[(r + k) % len(shells)]
            if sh.error is not None:
                continue
            try:
                prompt, first, editor, cpu = startup_once(sh, timeout)
            except (SessionError, OSError) as exc:
                sh.error = str(exc)
                sh.prompt.error = sh.first.error = sh.error
                continue
            if r >= 0:
                sh.prompt.wall.append(prompt)
                sh.first.wall.append(first)
                if editor is not None:
                    sh.editor.wall.append(editor)
                sh.first.cpu.append(cpu)
    if progress:
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)


def keystrokes(shell: Shell, count: int, timeout: float) -> None:
    """Type the 200-character line, then `count` single keystrokes; record their latencies."""
    s = Session(shell)
    try:
        s.wait_prompt(timeout)
        s.drain(0.2, 5.0)
        shell.cooked = bool(termios.tcgetattr(s.fd)[3] & termios.ICANON)
        s.send(typed_line())
        s.drain(0.2, 10.0)
        for i in range(count):
            key = b"x" if i % 2 == 0 else b"\x7f"
            t_send = time.perf_counter()
            s.send(key)
            if not s.read(2.0):
                raise SessionError(f"no output within 2 s of keystroke {i + 1}; output: {s.tail()!r}")
            t_first = t_last = time.perf_counter()
            while s.read(QUIET):
                t_last = time.perf_counter()
            shell.keys_first.append(t_first - t_send)
            shell.keys_done.append(t_last - t_send)
            # Anything arriving in the next 20 ms belongs to this keystroke too late to count.
            before = len(s.buf)
            s.drain(0.02, 0.2)
            shell.late_bytes += len(s.buf) - before
    finally:
        s.close()


def fmt_row(label: str, values: list[float], cpu: list[float] | None = None) -> list[str]:
    if not values:
        return [f"`{label}`", "0", "FAILED", "-", "-", "-"]
    cpu_cell = t.fmt_time(statistics.median(cpu)) if cpu else "-"
    return [
        f"`{label}`",
        str(len(values)),
        t.fmt_time(min(values)),
        t.fmt_time(statistics.median(values)),
        t.fmt_time(max(values)),
        cpu_cell,
    ]


def default_xonsh() -> str | None:
    beside = t.BENCH_DIR / ".venv" / "bin" / "xonsh"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("xonsh")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.common_args(parser, runs=15, warmup=2)
    parser.set_defaults(timeout=20.0)
    parser.add_argument("--xonsh", help="xonsh to compare with (default: bench/.venv/bin/xonsh, else on PATH)")
    parser.add_argument("--keys", type=int, default=None, help="keystrokes timed per shell (default 100, --quick 20)")
    args = parser.parse_args(argv)
    fmsh = t.resolve_fmsh(parser, args.fmsh)
    runs = args.runs if args.runs is not None else (5 if args.quick else 15)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    nkeys = args.keys if args.keys is not None else (20 if args.quick else 100)
    xonsh = args.xonsh or default_xonsh()

    home = tempfile.mkdtemp(prefix="fmsh-interactive-home-")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PROMPT_COMMAND", "XONSHRC")}
    env.update(
        HOME=home,
        TERM="xterm-256color",
        PS1=PROMPT,
        PROMPT_TOOLKIT_NO_CPR="1",
        COLUMNS=str(COLS),
        LINES=str(ROWS),
    )
    shells = [
        Shell("fmsh", [fmsh, "-i", "--norc"], env),
        Shell("bash", [args.bash, "--norc", "--noprofile", "-i"], env),
    ]
    if xonsh:
        xargs = [xonsh, "--no-rc", "-i", "-D", f"PROMPT={PROMPT}", "-D", "XONSH_SUPPRESS_WELCOME=1"]
        shells.append(Shell("xonsh", xargs, env))

    print("## interactive: first prompt, first output and keystroke redraw in a pty\n")
    for sh in shells:
        print(f"{sh.name + ':':7}{' '.join(sh.argv)}")
    if not xonsh:
        print("xonsh: skipped (not installed: run bench/setup)")
    print(f"pty:   {COLS}x{ROWS}, TERM=xterm-256color, PS1={PROMPT!r}, PROMPT_TOOLKIT_NO_CPR=1, HOME={home}")
    print(f"runs:  {runs} start-ups per shell, round-robin, after {warmup} warm-up round(s);", end=" ")
    print(f"{nkeys} keystrokes per shell\n")

    try:
        for sh in shells:
            probe(sh, args.timeout)
        startup_rounds(shells, runs, warmup, args.timeout)
        for sh in shells:
            if sh.error is None:
                try:
                    keystrokes(sh, nkeys, args.timeout)
                except (SessionError, OSError) as exc:
                    sh.error = f"keystrokes: {exc}"
    finally:
        shutil.rmtree(home, ignore_errors=True)

    header = ["measurement", "runs", "min", "median", "max", "cpu (median)"]
    rows = [fmt_row(sh.prompt.label, sh.prompt.wall) for sh in shells]
    rows += [fmt_row(sh.editor.label, sh.editor.wall) for sh in shells if sh.editor.wall]
    rows += [fmt_row(sh.first.label, sh.first.wall, sh.first.cpu) for sh in shells]
    print(t.markdown_table([header, *rows]))
    print()
    header = ["keystroke on a 200-char line", "keys", "min", "median", "max", "late bytes"]
    rows = []
    for sh in shells:
        for what, vals in (("first byte", sh.keys_first), ("redraw done", sh.keys_done)):
            row = fmt_row(f"{sh.name}: {what}", vals)
            row[-1] = str(sh.late_bytes) if vals else "-"
            rows.append(row)
    print(t.markdown_table([header, *rows]))
    print()

    for sh in shells:
        if sh.mark is None:
            print(f"note: {sh.name} never drew READY> (PS1 not honoured?); its first prompt is its first output byte")
        if sh.cooked and sh.keys_done:
            print(
                f"note: {sh.name} left the tty in canonical (cooked) mode at the prompt: its keystroke"
                " numbers are the kernel's echo, not a line editor's redraw"
            )
        if sh.editor.wall and sh.prompt.wall:
            gap = statistics.median(sh.editor.wall) - statistics.median(sh.prompt.wall)
            if gap > 0.02:
                print(
                    f"note: {sh.name} draws its prompt {t.fmt_time(gap)} before its line editor is up"
                    " (an early prompt); keys typed at it wait for the editor (see first output)"
                )
    by = {sh.name: sh for sh in shells}
    f = by["fmsh"]
    x = by.get("xonsh")
    if x is not None:
        print(t.ratio_line(f.prompt, x.prompt, FP_TARGET, "fmsh first prompt / xonsh first prompt"))
        print(t.ratio_line(f.first, x.first, None, "fmsh first output / xonsh first output"))
        if f.editor.wall and x.editor.wall:
            print(t.ratio_line(f.editor, x.editor, None, "fmsh line editor up / xonsh line editor up"))
    else:
        print(f"ratio fmsh first prompt / xonsh first prompt: skipped (no xonsh) -- target <= {FP_TARGET:g}x")
    print(t.ratio_line(f.prompt, by["bash"].prompt, None, "fmsh first prompt / bash first prompt"))
    print(t.ratio_line(f.first, by["bash"].first, None, "fmsh first output / bash first output"))
    for sh in shells[1:]:
        if f.keys_done and sh.keys_done:
            r = statistics.median(f.keys_done) / statistics.median(sh.keys_done)
            print(f"ratio fmsh keystroke redraw / {sh.name} keystroke redraw (medians): {r:.2f}x")
    for what, vals in (("redraw done", f.keys_done), ("first byte", f.keys_first)):
        if vals:
            med = statistics.median(vals)
            verdict = "MET" if med < KEY_TARGET else "NOT MET"
            print(f"fmsh keystroke {what} median: {t.fmt_time(med)} -- target < {t.fmt_time(KEY_TARGET)}: {verdict}")
    keys = [
        t.Case(f"{sh.name}: keystroke redraw done", sh.argv, wall=list(sh.keys_done), error=sh.error) for sh in shells
    ]
    measured = [*(sh.prompt for sh in shells), *(sh.editor for sh in shells if sh.editor.wall)]
    measured += [*(sh.first for sh in shells), *keys]
    others = [sh.name for sh in shells[1:]]
    compare = [
        [f"fmsh: {what}", [f"{o}: {what}" for o in others]]
        for what in ("first prompt", "first output", "keystroke redraw done")
    ]
    t.record("interactive", measured, compare=compare, xonsh="run" if x is not None else "not installed")
    status = 0
    for sh in shells:
        if sh.error is not None:
            print(f"FAILED {sh.name}: {sh.error}")
            if sh.name != "xonsh" or not args.quick:
                status = 1
    if runs < 10 or nkeys < 50:
        print("\nnote: fewer than 10 start-ups or 50 keystrokes per shell; use the defaults for numbers to quote")
    return status


if __name__ == "__main__":
    sys.exit(main())
