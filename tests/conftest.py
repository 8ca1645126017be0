"""Shared fixtures: run the installed `fmsh` (the console script next to this Python, or
`python -m fmsh`) as a user would, in a scratch directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
FMSH = str(BIN / "fmsh") if (BIN / "fmsh").exists() else None
FMSH_ARGV = [FMSH] if FMSH else [sys.executable, "-m", "fmsh"]
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture(scope="session", autouse=True)
def _journal(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Tasks that tests run go to a journal of the test session's own, never the user's
    (a test about the journal points FMSH_JOURNAL at its own)."""
    saved = os.environ.get("FMSH_JOURNAL")
    os.environ["FMSH_JOURNAL"] = str(tmp_path_factory.mktemp("journal") / "journal.db")
    yield
    if saved is None:
        os.environ.pop("FMSH_JOURNAL", None)
    else:
        os.environ["FMSH_JOURNAL"] = saved


class Result:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.status = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self) -> str:
        return f"Result(status={self.status}, out={self.out!r}, err={self.err!r})"


def run_fmsh(
    *args: str,
    stdin: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 30,
) -> Result:
    """Run fmsh with arguments; stdout/stderr as text. Never allows a Python traceback."""
    full_env = dict(os.environ)
    full_env.pop("FMSH_DEBUG", None)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [*FMSH_ARGV, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
        errors="surrogateescape",
    )
    assert TRACEBACK not in proc.stderr, proc.stderr
    return Result(proc)


@pytest.fixture
def fmsh(tmp_path: Path):
    """`fmsh("echo hi")` runs a -c command in a scratch directory and returns a Result."""

    def run(command: str, *args: str, **kwargs: object) -> Result:
        kwargs.setdefault("cwd", tmp_path)
        return run_fmsh("-c", command, *args, **kwargs)  # type: ignore[arg-type]

    return run


@pytest.fixture
def bash_and_fmsh(tmp_path: Path):
    """Run the same -c text in bash and in fmsh (fresh scratch dirs); both Results."""
    bash = shutil.which("bash")
    assert bash is not None

    def run(command: str) -> tuple[Result, Result]:
        bash_dir = tmp_path / "bash"
        fmsh_dir = tmp_path / "fmsh"
        bash_dir.mkdir(exist_ok=True)
        fmsh_dir.mkdir(exist_ok=True)
        b = Result(subprocess.run([bash, "-c", command], capture_output=True, text=True, cwd=bash_dir, timeout=30))
        f = run_fmsh("-c", command, cwd=fmsh_dir)
        return b, f

    return run


# --- real sshd servers (tests/sshd.py) ------------------------------------------------


def _lab(root: Path, count: int, hosts_per_server: int = 16):  # type: ignore[no-untyped-def]
    from sshd import SSHLab, sshd_available

    if not sshd_available():
        pytest.fail("OpenSSH's sshd is not installed: run tests/setup (it installs openssh-server)")
    return SSHLab(root, count, hosts_per_server=hosts_per_server).start()


@pytest.fixture(scope="session")
def ssh_lab(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """24 logical hosts (host01..host24), each its own 127.0.0.x:port, shared by the tests
    that do not break their servers."""
    lab = _lab(tmp_path_factory.mktemp("lab"), 24)
    yield lab
    lab.stop()


@pytest.fixture
def private_lab(tmp_path: Path):  # type: ignore[no-untyped-def]
    """3 hosts, each on an sshd of its own, for a test that stops, kills or rekeys them."""
    lab = _lab(tmp_path / "lab", 3, hosts_per_server=1)
    yield lab
    lab.stop()


def run_remote(lab, script: str, *, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60):  # type: ignore[no-untyped-def]
    """`fmsh -c script` pointed at a lab's hosts."""
    full = lab.env()
    if env:
        full.update(env)
    return run_fmsh("-c", script, stdin=stdin, env=full, timeout=timeout, cwd=lab.root)
