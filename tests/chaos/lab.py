"""The chaos lab: ten real sshd hosts (one sshd each, so that a fault hits one host), some
of them inside network namespaces joined to this one by a veth pair on a private range
(so that a host can be cut off by setting its link down), and the journal on a small
tmpfs of its own (so that its disk can be filled). Everything it makes carries a unique
tag and is undone by `close`, also after a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sshd import SSHLab

NETNS_PORT = 2222  # inside a namespace every host has the address to itself; not 22, so
# that known_hosts names it [address]:port like the others


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def netns_available() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"fmshprobe{os.getpid()}"
    if _ip("netns", "add", probe, check=False).returncode != 0:
        return False
    _ip("netns", "del", probe, check=False)
    return True


class Namespace:
    """A network namespace with one veth pair: `outer` here, `inner` (with `address`) there."""

    def __init__(self, name: str, outer: str, subnet: str) -> None:
        self.name = name
        self.outer = outer
        self.inner = outer + "n"
        self.gateway = f"{subnet}.1"
        self.address = f"{subnet}.2"

    def create(self) -> None:
        _ip("netns", "add", self.name)
        _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        _ip("link", "set", self.inner, "netns", self.name)
        _ip("addr", "add", f"{self.gateway}/30", "dev", self.outer)
        _ip("link", "set", self.outer, "up")
        _ip("-n", self.name, "addr", "add", f"{self.address}/30", "dev", self.inner)
        _ip("-n", self.name, "link", "set", self.inner, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")

    def link(self, up: bool) -> None:
        """The host's side of the link: down, and nothing reaches it or comes back."""
        _ip("-n", self.name, "link", "set", self.inner, "up" if up else "down")

    def delete(self) -> None:
        _ip("link", "del", self.outer, check=False)  # takes its peer with it
        _ip("netns", "del", self.name, check=False)


class ChaosLab:
    def __init__(self, root: Path, count: int = 10, in_netns: int = 2, tmpfs_size: str = "8m") -> None:
        self.root = root
        self.tag = f"{os.getpid() % 100000:05d}"
        self.ssh = SSHLab(root / "lab", count, hosts_per_server=1)
        self.names = list(self.ssh.names)
        self.namespaces: dict[str, Namespace] = {}
        self.journal_dir = root / "journal"
        self.tmpfs_size = tmpfs_size
        self._mounted = False
        self.in_netns = in_netns if netns_available() else 0
        self.runs = root / "runs"  # the workloads' files (ledgers) live here, not on the tmpfs

    def start(self) -> ChaosLab:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        self.runs.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            subprocess.run(
                [
                    "mount",
                    "-t",
                    "tmpfs",
                    "-o",
                    f"size={self.tmpfs_size},mode=0700",
                    "fmsh-chaos",
                    str(self.journal_dir),
                ],
                check=True,
            )
            self._mounted = True
        # The last `in_netns` hosts move into namespaces: 10.(200 + tag % 50).k.0/30 each.
        second = 200 + int(self.tag) % 50
        for k, server in enumerate(self.ssh.servers[len(self.ssh.servers) - self.in_netns :]):
            name = server.hosts[0][0]
            ns = Namespace(f"fmshc{self.tag}{k}", f"fc{self.tag}{k}", f"10.{second}.{k}")
            ns.create()
            self.namespaces[name] = ns
            server.hosts = [(name, ns.address, NETNS_PORT)]
            server.wrapper = ["ip", "netns", "exec", ns.name]
            self.ssh.addresses[name] = (ns.address, NETNS_PORT)
        self.ssh.write_client_files()
        self.ssh.start()

    def server(self, name: str):  # type: ignore[no-untyped-def]
        return self.ssh.server_of(name)

    def env(self) -> dict[str, str]:
        return self.ssh.env()

    def close(self) -> None:
        for server in self.ssh.servers:
            try:
                if server.process is not None and server.process.poll() is None:
                    server.freeze(18)  # a stopped sshd would not see its SIGTERM
                server.stop()
            except Exception:  # noqa: BLE001 - tear down the rest in any case
                pass
        for ns in self.namespaces.values():
            ns.delete()
        if self._mounted:
            subprocess.run(["umount", "-l", str(self.journal_dir)], check=False)
            self._mounted = False
