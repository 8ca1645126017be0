"""Servers that fail the client on purpose each get their own failure class and a message a
person can act on, within the connect timeout, and leave nothing behind: real sshds with
an unknown, a changed host key, or that refuse the client's key; fake ones (a real sshd
cannot be made to do this) with a banner that never ends, one that floods bytes without a
newline, one that never says a word, one that says its version and stalls, one that speaks
another protocol; and a closed port. Then all of them in one fan-out with good hosts.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, TRACEBACK
from hostile_servers import (
    FakeServer,
    closed_port,
    endless_banner,
    flooding_banner,
    not_ssh,
    silent,
    stall_after_version,
    trickling_banner,
)
from sshd import SSHLab, keygen, sshd_available, wait_until

CONNECT_TIMEOUT = 2.0
CROWD = 20  # well past the handshakes fmsh runs at once with one server (8): 3 turns
MARGIN = 2.5  # fmsh's own start and end, on a loaded machine

FAKES = {
    "banner": endless_banner,
    "trickle": trickling_banner,
    "flood": flooding_banner,
    "silent": silent,
    "stall": stall_after_version,
    "smtp": not_ssh,
}

# host -> (class, words its message must have)
EXPECTED = {
    "good1": ("ok", ""),
    "good2": ("ok", ""),
    "good3": ("ok", ""),
    "unknown": ("host-key", "unknown host key ssh-ed25519 SHA256:"),
    "changed": ("host-key", "HOST KEY CHANGED"),
    "wrongkey": ("auth", "public key refused; 1 key(s) offered"),
    "banner": ("protocol", "not an SSH server"),
    "trickle": ("connect-timeout", "no SSH version line within 2s"),
    "flood": ("connect-timeout", "no SSH version line within 2s"),
    "silent": ("connect-timeout", "no SSH version line within 2s"),
    "stall": ("connect-timeout", "(SSH-2.0-OpenSSH_9.6p1 Debian-4) did not finish the key exchange within 2s"),
    "smtp": ("refused", "closed the connection before its SSH version line"),
    "closed": ("refused", "connection refused"),
}


class Hostile:
    """The ssh config naming every host above, and the fake servers behind some of them."""

    def __init__(self, root: Path, lab: SSHLab, fakes: dict[str, FakeServer]) -> None:
        self.root = root
        self.lab = lab
        self.fakes = fakes
        self.config = root / "ssh_config"
        self.changed_line = 0

    def env(self) -> dict[str, str]:
        return {**self.lab.env(), "FMSH_SSH_CONFIG": str(self.config), "FMSH_CONNECT_TIMEOUT": f"{CONNECT_TIMEOUT:g}s"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not sshd_available():
        pytest.fail("OpenSSH's sshd is not installed: run tests/setup (it installs openssh-server)")
    root = tmp_path_factory.mktemp("hostile")
    lab = SSHLab(root / "lab", 6, hosts_per_server=1).start()
    fakes = {name: FakeServer(behave).start() for name, behave in FAKES.items()}
    world = Hostile(root, lab, fakes)
    names = dict(zip(["good1", "good2", "good3", "unknown", "changed", "wrongkey"], lab.names, strict=True))
    # known_hosts: nothing for "unknown"; another key under the name of "changed".
    lines = lab.known_hosts.read_text().splitlines()
    kept = []
    for line in lines:
        address, port = lab.addresses[names["unknown"]]
        if line.startswith(f"[{address}]:{port} "):
            continue
        address, port = lab.addresses[names["changed"]]
        if line.startswith(f"[{address}]:{port} "):
            other = keygen(root / "other_host_key").split()
            line = f"[{address}]:{port} {other[0]} {other[1]}"
            world.changed_line = len(kept) + 1
        kept.append(line)
    lab.known_hosts.write_text("\n".join(kept) + "\n")
    keygen(root / "stranger_key")  # a client key that no authorized_keys holds
    config = []
    for alias, name in names.items():
        address, port = lab.addresses[name]
        key = root / "stranger_key" if alias == "wrongkey" else lab.client_key
        config += [f"Host {alias}", f"  HostName {address}", f"  Port {port}", f"  IdentityFile {key}"]
    for alias, server in fakes.items():
        config += [f"Host {alias}", f"  HostName {server.address}", f"  Port {server.port}"]
    config += ["Host closed", "  HostName 127.0.0.1", f"  Port {closed_port()}"]
    quiet = fakes["silent"]
    for n in range(1, CROWD + 1):
        # CROWD names for one silent server: the same user (one connection for all of
        # them), and each a user of its own (CROWD handshakes at the same server).
        config += [f"Host same{n:02d}", f"  HostName {quiet.address}", f"  Port {quiet.port}"]
        config += [f"Host crowd{n:02d}", f"  HostName {quiet.address}", f"  Port {quiet.port}", f"  User u{n}"]
    # The lab's own defaults, but not its ConnectTimeout (FMSH_CONNECT_TIMEOUT is the one)
    # nor its key (IdentityFile adds up: each host above has its own).
    defaults = lab.ssh_config.read_text().splitlines()[-10:]
    config += [line for line in defaults if "ConnectTimeout" not in line and "IdentityFile" not in line]
    world.config.write_text("\n".join(config) + "\n")
    yield world
    for server in fakes.values():
        server.stop()
    lab.stop()


def _fmsh(world: Hostile, script: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ)
    env.pop("FMSH_DEBUG", None)
    env.update(world.env())
    started = time.monotonic()
    proc = subprocess.run(
        [*FMSH_ARGV, "-c", script], capture_output=True, text=True, env=env, cwd=world.root, timeout=timeout
    )
    assert TRACEBACK not in proc.stderr, proc.stderr
    return proc, time.monotonic() - started


@pytest.mark.parametrize("host", [h for h in EXPECTED if not h.startswith("good")])
def test_each_hostile_server_gets_its_class_within_the_connect_timeout(hostile, host: str) -> None:  # type: ignore[no-untyped-def]
    kind, words = EXPECTED[host]
    proc, seconds = _fmsh(hostile, f'@{host} echo ran; echo "status=$? class=${{HOST_FAILURE[{host}]}}"')
    assert proc.stdout == f"status=255 class={kind}\n", proc.stderr
    assert proc.stderr.startswith(f"fmsh: {host}: {kind}: ") and words in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert seconds < CONNECT_TIMEOUT + MARGIN, f"{host} took {seconds:.1f}s"


def test_a_changed_host_key_names_the_file_and_line_to_fix(hostile) -> None:  # type: ignore[no-untyped-def]
    """As OpenSSH does: the known_hosts line that holds the old key, both fingerprints,
    and what to do; accept-new changes nothing about it."""
    proc, _ = _fmsh(hostile, "FMSH_HOST_KEYS=accept-new; @changed true")
    assert f"{hostile.lab.known_hosts}:{hostile.changed_line}" in proc.stderr
    assert proc.stderr.count("SHA256:") == 2 and "ssh-keygen -R" in proc.stderr
    assert proc.returncode == 255


def test_an_unknown_host_key_is_accepted_only_when_asked(hostile) -> None:  # type: ignore[no-untyped-def]
    before = hostile.lab.known_hosts.read_text()
    try:
        proc, _ = _fmsh(hostile, "FMSH_HOST_KEYS=accept-new; @unknown echo ran")
        assert (proc.returncode, proc.stdout) == (0, "ran\n"), proc.stderr
    finally:
        hostile.lab.known_hosts.write_text(before)


@pytest.mark.parametrize("host", list(FAKES))
def test_the_client_hangs_up_on_a_hostile_server(hostile, host: str) -> None:  # type: ignore[no-untyped-def]
    """While the shell goes on (it sleeps after the failed stage), no connection to the
    server is left open: the handshake's socket and thread are gone, not just abandoned."""
    server = hostile.fakes[host]
    env = dict(os.environ)
    env.update(hostile.env())
    proc = subprocess.Popen(
        [*FMSH_ARGV, "-c", f"@{host} true; echo failed; sleep 5"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True, cwd=hostile.root,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "failed\n"
        assert server.accepted >= 1
        assert wait_until(lambda: server.active == 0, timeout=2), f"{server.active} connection(s) still open"
        assert proc.poll() is None  # fmsh itself is still running: it closed them
    finally:
        proc.kill()
        proc.wait()


def test_a_fan_out_over_every_kind_of_failure(hostile) -> None:  # type: ignore[no-untyped-def]
    """Good hosts and hostile ones in one stage: it ends within the connect timeout (the
    slow ones wait side by side), every host has its class, the good hosts' output is
    whole, and the summary counts them all."""
    hosts = ",".join(EXPECTED)
    script = (
        f'@{hosts} sh -c \'seq 1 2000 | sed "s/^/line /"\'; echo "status=$?"; '
        f'for h in {" ".join(EXPECTED)}; do echo "$h ${{HOST_FAILURE[$h]:-ok}}"; done'
    )
    proc, seconds = _fmsh(hostile, f"FMSH_OUTPUT=prefix; {script}")
    lines = proc.stdout.splitlines()
    for good in ("good1", "good2", "good3"):
        assert [line for line in lines if line.startswith(f"{good}: ")] == [f"{good}: line {n}" for n in range(1, 2001)]
    assert "status=255" in lines
    classes = dict(line.split(" ", 1) for line in lines[lines.index("status=255") + 1 :])
    assert classes == {host: kind for host, (kind, _) in EXPECTED.items()}
    for host, (kind, words) in EXPECTED.items():
        if kind != "ok":
            assert f"fmsh: {host}: {kind}: " in proc.stderr and words in proc.stderr, (host, proc.stderr)
    assert f"10 of {len(EXPECTED)} hosts failed" in proc.stderr
    assert seconds < CONNECT_TIMEOUT + MARGIN, f"the fan-out took {seconds:.1f}s"


@pytest.mark.parametrize("names", ["same", "crowd"])
def test_many_names_for_one_stalled_server_end_within_the_connect_timeout(hostile, names: str) -> None:  # type: ignore[no-untyped-def]
    """`same`: one connection serves them all, so they wait for one another: those that
    waited get the failure of the one connect, not a connect timeout each, in turn.
    `crowd`: more handshakes than fmsh runs at once with a server: the ones that wait
    for a turn give up when the connect timeout is over, not a whole timeout later."""
    proc, seconds = _fmsh(hostile, f"@{names}[01-{CROWD}] true")
    assert proc.returncode == 255
    assert f"{CROWD} of {CROWD} hosts failed: {names}[01-{CROWD}] connect-timeout ({CROWD})" in proc.stderr
    assert seconds < CONNECT_TIMEOUT + MARGIN, f"{CROWD} names of one stalled server took {seconds:.1f}s"
