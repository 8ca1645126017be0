"""Hostile argument values reach the remote program as exactly the bytes fmsh computed:
quotes, shell operators, substitutions, globs, control characters, leading dashes, empty
and 100 KB values, bytes that are not UTF-8. Each is checked byte for byte on the remote
side (a printer hex-dumps every argv element it received), on one host, on a fan-out of
three, in a `@host { ... }` block, from a variable and from a command substitution, and as
standard input; and nothing that a value spells out ever runs (a marker file stays absent).

A NUL byte cannot be in any program's argv (execve takes C strings): fmsh refuses a remote
command that holds one, with a message, instead of sending it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK

# Every value is bytes: what the remote program must receive. The marker path is filled in.
MARKER = "@MARKER@"
HOSTILE: dict[str, bytes] = {
    "single-quote": b"it's",
    "double-quote": b'say "hi"',
    "quote-breaker": b"'\\''; touch @MARKER@; echo '",
    "double-quote-breaker": b'"; touch @MARKER@; echo "',
    "semicolon": b"a; touch @MARKER@",
    "and-and": b"true && touch @MARKER@",
    "or-or": b"false || touch @MARKER@",
    "pipe": b"x | touch @MARKER@",
    "ampersand": b"x & touch @MARKER@",
    "redirect": b"> @MARKER@",
    "dollar-paren": b"$(touch @MARKER@)",
    "dollar-paren-id": b"$(id)",
    "backticks": b"`touch @MARKER@`",
    "dollar-home": b"$HOME",
    "dollar-brace": b"${HOME:-x}",
    "arithmetic": b"$((6*7))",
    "star": b"*",
    "question": b"?",
    "bracket-glob": b"[a]",
    "glob-path": b"/et*/pass*",
    "tilde": b"~",
    "tilde-user": b"~root",
    "brace-expansion": b"{a,b}",
    "history-bang": b"!!",
    "hash-comment": b"# not a comment",
    "newline": b"line1\nline2",
    "trailing-newline": b"end\n",
    "carriage-return": b"a\rb",
    "tab": b"a\tb",
    "escape-sequence": b"\x1b[31mred\x1b[0m",
    "backslash": b"back\\slash\\",
    "leading-dash": b"-n",
    "double-dash": b"--",
    "long-option": b"--help",
    "empty": b"",
    "space-only": b"   ",
    "utf-8": "üñïçødé ✓".encode(),
    "not-utf-8": b"\xff\xfe",
    "not-utf-8-mixed": b"caf\xe9 \x80\xc3",
    "all-high-bytes": bytes(range(128, 256)),
    "all-low-controls": bytes(b for b in range(1, 32)),
    "long-100k": b"x" * 100_000,
}

# Hex-dumps each argument on a line of its own (an empty argument: an empty line), after
# a line with their count: safe for every byte a value can hold.
PRINTER = 'echo "argc=$#"; for a; do printf %s "$a" | od -An -tx1 -v | tr -d " \\n"; echo; done'


def _expected(values: list[bytes]) -> list[str]:
    return [f"argc={len(values)}", *(v.hex() for v in values)]


def _fill(value: bytes, marker: Path) -> bytes:
    return value.replace(MARKER.encode(), os.fsencode(marker))


def _fmsh(lab, script: str, args: list[bytes], stdin: bytes = b"", env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """fmsh -c SCRIPT fmsh ARGS..., bytes in and out (as a user's terminal would pass them)."""
    full = dict(os.environ)
    full.pop("FMSH_DEBUG", None)
    full.update(lab.env())
    full.update(env or {})
    proc = subprocess.run(
        [*FMSH_ARGV, "-c", script, "fmsh", *args],
        input=stdin,
        capture_output=True,
        env=full,
        cwd=lab.root,
        timeout=60,
    )
    assert TRACEBACK.encode() not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """The file that a value's shell code would create if it ever ran (the lab's hosts are
    this machine, so the remote side would create it here)."""
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "a hostile value ran as shell code"


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_one_host_receives_the_exact_argv(ssh_lab, marker, value: bytes) -> None:  # type: ignore[no-untyped-def]
    """`@host01 printer - "$1" x`: the value between other words."""
    value = _fill(value, marker)
    proc = _fmsh(ssh_lab, f"@host01 sh -c '{PRINTER}' printer - \"$1\" x", [value])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines() == _expected([b"-", value, b"x"])


def test_a_fan_out_of_three_receives_the_exact_argv(ssh_lab, marker) -> None:  # type: ignore[no-untyped-def]
    """Every value at once, on three hosts; JSON output says which host printed what (a
    hex line of a 100 KB value is longer than a line is kept whole: its pieces say so)."""
    values = [_fill(v, marker) for v in HOSTILE.values()]
    proc = _fmsh(ssh_lab, f"@host[01-03] sh -c '{PRINTER}' printer \"$@\"", values, env={"FMSH_OUTPUT": "json"})
    assert proc.returncode == 0, proc.stderr
    lines: dict[str, list[str]] = {}
    pending: dict[str, str] = {}
    for record in map(json.loads, proc.stdout.decode().splitlines()):
        if "line" not in record:
            assert record["class"] == "ok", record
            continue
        host = record["host"]
        text = pending.pop(host, "") + record["line"]
        if record.get("partial"):
            pending[host] = text
        else:
            lines.setdefault(host, []).append(text)
    assert lines == {name: _expected(values) for name in ("host01", "host02", "host03")}


def test_a_block_gets_the_values_of_its_variables(ssh_lab, marker) -> None:  # type: ignore[no-untyped-def]
    """`@host01 { printer "$v" }`: the block is remote sh text; `v` is set before it to the
    local value, quoted."""
    values = [_fill(v, marker) for v in HOSTILE.values()]
    script = f'for v in "$@"; do @host01 {{ set -- "$v"; {PRINTER}; }}; done'
    proc = _fmsh(ssh_lab, script, values)
    assert proc.returncode == 0, proc.stderr
    expected = [line for v in values for line in _expected([v])]
    assert proc.stdout.decode().splitlines() == expected


def _through_variables(lab, values: list[bytes]):  # type: ignore[no-untyped-def]
    script = f"""
    for v in "$@"; do
        local_capture=$(printf %s "$v")
        remote_capture=$(@host02 printf %s "$v")
        @host01 sh -c '{PRINTER}' printer "$v" "$local_capture" "$remote_capture"
    done
    """
    proc = _fmsh(lab, script, values)
    assert proc.returncode == 0, proc.stderr
    expected = [line for v in values for line in _expected([v, v.rstrip(b"\n"), v.rstrip(b"\n")])]
    assert proc.stdout.decode().splitlines() == expected


def _utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


def test_values_from_a_variable_and_from_command_substitutions(ssh_lab, marker) -> None:  # type: ignore[no-untyped-def]
    """From a variable; from a local `$(printf ...)`; and round-tripped through a remote
    capture `$(@host02 printf %s ...)`. A capture drops trailing newlines, as in bash.
    (Three 100 KB values would pass the remote command line's limit: see below.)"""
    values = [_fill(v, marker)[:30_000] for v in HOSTILE.values()]
    _through_variables(ssh_lab, [v for v in values if _utf8(v)])


def test_captured_bytes_that_are_not_utf8(ssh_lab, marker) -> None:  # type: ignore[no-untyped-def]
    """A capture in a task is journaled: bytes that are not UTF-8 are kept as a BLOB and
    come back the same (they once made the journal write an internal error, status 70)."""
    values = [_fill(v, marker) for v in HOSTILE.values()]
    _through_variables(ssh_lab, [v for v in values if not _utf8(v)])


def test_values_written_in_the_script_text(ssh_lab, marker) -> None:  # type: ignore[no-untyped-def]
    """The same values as literals of the script itself ($'\\xNN' for every byte; the
    long one shorter, for the script to fit in fmsh's own argv)."""
    values = [_fill(v, marker)[:20_000] for v in HOSTILE.values()]
    literals = " ".join("$'" + "".join(f"\\x{b:02x}" for b in v) + "'" for v in values)
    proc = _fmsh(ssh_lab, f"@host01 sh -c '{PRINTER}' printer {literals}", [])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines() == _expected(values)


def test_standard_input_arrives_byte_for_byte(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    """Every byte value, CRs and NULs, no final newline: through one host as a stream,
    and to three hosts (read once, sent to each)."""
    data = bytes(range(256)) * 64 + b"\r\n\0end without newline"
    one = _fmsh(ssh_lab, "@host01 cat", [], stdin=data)
    assert (one.returncode, one.stdout) == (0, data), one.stderr
    dump = 'od -An -tx1 -v | tr -d " \\n"; echo'
    three = _fmsh(ssh_lab, f"@host[01-03] sh -c '{dump}'", [], stdin=data, env={"FMSH_OUTPUT": "plain"})
    assert three.returncode == 0, three.stderr
    assert three.stdout.decode().splitlines() == [data.hex()] * 3


def test_a_single_word_is_a_remote_command_line_by_design(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One word is shell text for the remote side, as ssh takes it (`@h 'cat > f'`): the
    documented way to ask for remote shell features. Two words or more never are."""
    target = tmp_path / "made"
    proc = _fmsh(ssh_lab, '@host01 "$1"', [f"touch {target}".encode()])
    assert proc.returncode == 0 and target.exists()
    target.unlink()
    proc = _fmsh(ssh_lab, '@host01 printf %s "$1"', [f"$(touch {target})".encode()])
    assert proc.stdout == f"$(touch {target})".encode() and not target.exists()


def test_a_nul_byte_is_refused_with_a_message(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    """$'a\\0b' can be a value in fmsh, but no argv can carry it: nothing is sent."""
    proc = _fmsh(ssh_lab, "@host01 printf %s $'a\\x00b'", [])
    assert proc.returncode != 0
    assert proc.stdout == b""
    assert b"NUL byte" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_a_command_line_past_the_remote_limit_fails_with_its_message(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    """sshd hands the command to the login shell as one `-c` argument, and Linux takes at
    most 128 KiB in one (MAX_ARG_STRLEN), as with ssh: the remote shell says so, the
    status is not 0, and large data belongs on standard input."""
    proc = _fmsh(ssh_lab, '@host01 printf %s "$1" "$1"', [b"y" * 70_000])
    assert proc.returncode != 0
    assert b"Argument list too long" in proc.stderr
