"""The scripts in examples/: each says what it shows and how to run it, parses, passes
`fmsh check`, and runs end to end against real sshd hosts on loopback (tests/sshd.py)
with its knobs (hosts, commands, URLs) pointed at the lab."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK, run_fmsh

from fmsh.syntax.parser import parse
from fmsh.syntax.source import Source

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.fmsh"))
NAMES = ["rolling-restart", "inventory-report", "backup-stream", "approval-gate"]


def test_the_examples_are_there() -> None:
    assert sorted(p.stem for p in SCRIPTS) == sorted(NAMES)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_header_says_what_it_shows_and_how_to_run_it(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env fmsh"
    header = []
    for line in lines[1:]:
        if not line.startswith("#"):
            break
        header.append(line)
    text = "\n".join(header)
    assert header[0].startswith(f"# {script.name} - ")
    assert "What it shows:" in text
    assert f"fmsh examples/{script.name}" in text  # how to run it
    assert f"fmsh check examples/{script.name}" in text


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_it_parses(script: Path) -> None:
    program = parse(Source(str(script), script.read_text()))
    assert program is not None


def test_fmsh_check_passes_on_every_example() -> None:
    """`fmsh --check examples/*.fmsh`: status 0 (bounded; warnings allowed), and each
    one's worst case is a duration."""
    result = run_fmsh("--check", "--json", *map(str, SCRIPTS))
    assert result.status == 0, result.out + result.err
    reports = [json.loads(line) for line in result.out.splitlines() if line.strip()]
    assert len(reports) == len(SCRIPTS)
    for report in reports:
        assert report["bounded"], report
        assert not [d for d in report["diagnostics"] if d["severity"] != "warning"], report
    plain = run_fmsh("--check", *map(str, SCRIPTS))
    assert plain.status == 0, plain.err
    for script in SCRIPTS:
        assert re.search(rf"{re.escape(str(script))}: worst case \d", plain.out + plain.err)


# --- end to end, against real sshd hosts -------------------------------------------------


class _Health(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that answers 200 to anything: (base URL, the paths asked)."""
    hits: list[str] = []
    handler = type("Health", (_Health,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def web_lab(tmp_path: Path):  # type: ignore[no-untyped-def]
    """web01..web20, as the rolling restart names them."""
    from sshd import SSHLab, sshd_available

    if not sshd_available():
        pytest.fail("OpenSSH's sshd is not installed: run tests/setup (it installs openssh-server)")
    lab = SSHLab(tmp_path / "lab", 20, prefix="web").start()
    yield lab
    lab.stop()


def _run(lab, script: str, *args: str, env: dict[str, str], timeout: float = 90):  # type: ignore[no-untyped-def]
    return run_fmsh(str(EXAMPLES / script), *args, env={**lab.env(), **env}, cwd=lab.root, timeout=timeout)


def test_rolling_restart_end_to_end(web_lab, health_server) -> None:  # type: ignore[no-untyped-def]
    url, hits = health_server
    result = _run(web_lab, "rolling-restart.fmsh", env={"RESTART": "true", "HEALTH_URL": f"{url}/health?host=%s"})
    assert result.status == 0, result.err
    assert result.out.splitlines() == [
        *[
            line
            for batch in ("web[01-05]", "web[06-10]", "web[11-15]", "web[16-20]")
            for line in (f"== {batch}: restarting nginx", f"== {batch}: restarted and healthy")
        ],
        "rolling restart of nginx done: web[01-20]",
    ]
    # Every host was checked once, batch after batch.
    asked = [h.rsplit("=", 1)[1] for h in hits]
    assert sorted(asked) == [f"web{i:02d}" for i in range(1, 21)]
    assert sorted(asked[:5]) == [f"web{i:02d}" for i in range(1, 6)]


def test_inventory_report_end_to_end(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    env = {"FMSH_CONNECT_TIMEOUT": "5"}
    result = _run(ssh_lab, "inventory-report.fmsh", "host[01-03],nohost.invalid", env=env)
    assert result.status == 1, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["HOST", "KERNEL", "UP", "DISK"]
    kernel = os.uname().sysname + " " + os.uname().release
    for i, host in enumerate(("host01", "host02", "host03"), start=1):
        assert lines[i].startswith(host) and kernel in lines[i] and lines[i].endswith("%"), lines[i]
    assert "host[01-03] (3)" in result.out  # gather mode folds the identical kernels
    assert "3 of 4 hosts answered" in result.out
    assert re.search(r"^  resolve: +nohost\.invalid$", result.out, re.M), result.out
    # --json: the fan-out's own records, a host's end with its status and class.
    result = _run(ssh_lab, "inventory-report.fmsh", "host[01-02],nohost.invalid", "--json", env=env)
    records = [json.loads(line) for line in result.out.splitlines()]
    ends = {r["host"]: r["class"] for r in records if "status" in r}
    assert ends == {"host01": "ok", "host02": "ok", "nohost.invalid": "resolve"}


def test_backup_stream_end_to_end(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "db.bin"
    data.write_bytes(os.urandom(2_000_000))
    backups = tmp_path / "backups"
    env = {"SRC": "host01", "DST": "host02", "DUMP": "cat", "BACKUP_DIR": str(backups)}
    result = _run(ssh_lab, "backup-stream.fmsh", str(data), env=env)
    assert result.status == 0, result.err
    files = [p for p in backups.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].name.endswith(".dump"), files  # no .part left
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == digest
    assert result.out.strip().endswith(f"sha256 {digest}")


def test_approval_gate_end_to_end(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    """The task waits at its gate; `signal ID approve alice` from another process lets it
    go on to the fleet."""
    env = {**os.environ, **ssh_lab.env(), "CANARY": "host01", "FLEET": "host[02-04]", "DEPLOY": "echo"}
    env.pop("FMSH_DEBUG", None)
    proc = subprocess.Popen(
        [*FMSH_ARGV, str(EXAMPLES / "approval-gate.fmsh"), "v1.2.3"],
        env=env,
        cwd=ssh_lab.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        seen = []
        match = None
        while match is None:
            line = proc.stdout.readline()
            assert line, "".join(seen) + proc.stderr.read()  # type: ignore[union-attr]
            seen.append(line)
            match = re.search(r"signal (\d+) approve YOUR-NAME", line)
        assert proc.poll() is None  # waiting at the gate
        sent = run_fmsh("-c", f"signal {match.group(1)} approve alice", env=ssh_lab.env())
        assert sent.status == 0, sent.err
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert TRACEBACK not in err
    assert proc.returncode == 0, err
    lines = [*seen, *out.splitlines(keepends=True)]
    assert lines[0] == f"task {match.group(1)}: deploying v1.2.3 to the canary host01\n"
    assert "approved by alice\n" in lines
    assert lines.count("v1.2.3\n") == 4  # the canary, then the three hosts of the fleet
    assert lines[-1] == "deployed v1.2.3 to host01 and host[02-04] (approved by alice)\n"
