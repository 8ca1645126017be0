"""Real OpenSSH servers on loopback for the remote tests and benchmarks.

An `SSHLab` is a set of logical hosts (host01, host02, ...), each a distinct address:port
on 127.0.0.0/8, served by as many `sshd -D` processes as needed (one sshd listens on at most
16 addresses). It generates the host keys, a client key, authorized_keys, a known_hosts
file, and an ssh config that maps each host name to its address and port: fmsh finds it
all through FMSH_SSH_CONFIG, exactly as a user's ~/.ssh/config would be used.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
MAX_LISTEN = 16  # OpenSSH's MAX_LISTEN_SOCKS


def sshd_available() -> bool:
    return os.path.exists(SSHD) and shutil.which("ssh-keygen") is not None


def _free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def keygen(path: Path) -> str:
    """An ed25519 key pair; returns the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fmsh-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path.with_suffix(".pub").read_text().strip() if path.suffix else Path(f"{path}.pub").read_text().strip()


class Server:
    """One sshd process and the logical hosts it serves."""

    def __init__(self, lab: SSHLab, number: int, hosts: list[tuple[str, str, int]]) -> None:
        self.lab = lab
        self.number = number
        self.hosts = hosts  # (name, address, port)
        self.key = lab.root / f"host_key_{number}"
        self.public = keygen(self.key)
        self.config = lab.root / f"sshd_config_{number}"
        self.log = lab.root / f"sshd_{number}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.wrapper: list[str] = []  # runs sshd, e.g. `ip netns exec NS` (tests/chaos)

    def write_config(self) -> None:
        lines = [f"ListenAddress {address}:{port}" for _, address, port in self.hosts]
        lines += [
            f"HostKey {self.key}",
            f"PidFile {self.lab.root}/sshd_{self.number}.pid",
            f"AuthorizedKeysFile {self.lab.root}/authorized_keys",
            "StrictModes no",
            "UsePAM no",
            "PermitRootLogin yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "MaxStartups 300:30:600",
            "MaxSessions 200",
            "LogLevel ERROR",
            "UseDNS no",
            "Subsystem sftp internal-sftp",
        ]
        if len(self.hosts) == 1:
            # A command can tell which logical host it runs on (all run on this machine).
            lines.append(f"SetEnv LAB_HOST={self.hosts[0][0]}")
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.write_config()
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        argv = [SSHD, "-D", "-f", str(self.config), "-E", str(self.log)]
        passwd = self.lab.plain_shell_passwd()
        if passwd is not None:
            # The lab's sshd sees the login shell as /bin/sh, in a mount namespace of its
            # own: this machine's ~/.bashrc (pyenv init...) would otherwise cost more than
            # everything else in a remote command, for every tool alike.
            script = f"mount --bind {passwd} /etc/passwd && exec " + " ".join(argv)
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        argv = [*self.wrapper, *argv]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        for _, address, port in self.hosts:
            while True:
                try:
                    with socket.create_connection((address, port), timeout=1):
                        break
                except OSError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        log = self.log.read_text() if self.log.exists() else ""
                        raise RuntimeError(f"sshd did not start: {log}") from None
                    time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def signal(self, number: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, number)

    def freeze(self, number: int = 19) -> None:
        """SIGSTOP (or, with 18, SIGCONT) the listening sshd and every sshd it forked for
        a connection, not the commands they run: the host stops answering mid-command."""
        assert self.process is not None
        for pid in [self.process.pid, *_descendants(self.process.pid)]:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() != "sshd" and pid != self.process.pid:
                        continue
                os.kill(pid, number)
            except OSError:
                pass

    def kill_all(self) -> None:
        """SIGKILL the listening sshd and every sshd it forked for a connection: the host
        is gone, connections and all."""
        assert self.process is not None
        for pid in [*_descendants(self.process.pid), self.process.pid]:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        self.process.wait()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class SSHLab:
    """`count` logical hosts named host01... on 127.0.0.(2..), each with its own port."""

    def __init__(
        self,
        root: Path,
        count: int,
        prefix: str = "host",
        hosts_per_server: int = MAX_LISTEN,
        by_address: bool = False,
    ) -> None:
        """by_address: the hosts are named by their address (127.0.0.2...) and share one
        port, so that one generic `Host 127.0.*` stanza describes them all (benchmarks:
        every tool can name them the same way)."""
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.user = getpass.getuser()
        self.by_address = by_address
        self.client_key = root / "client_key"
        client_public = keygen(self.client_key)
        (root / "authorized_keys").write_text(client_public + "\n")
        addresses = [f"127.0.{(i + 2) // 250}.{(i + 2) % 250}" for i in range(count)]
        if by_address:
            self.names = addresses
            self.port = _free_port("127.0.0.1")
        else:
            width = max(2, len(str(count)))
            self.names = [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]
        self.addresses: dict[str, tuple[str, int]] = {}
        hosts = []
        for name, address in zip(self.names, addresses, strict=True):
            port = self.port if by_address else _free_port(address)
            self.addresses[name] = (address, port)
            hosts.append((name, address, port))
        per = max(1, min(hosts_per_server, MAX_LISTEN))
        self.servers = [Server(self, n, hosts[k : k + per]) for n, k in enumerate(range(0, len(hosts), per))]
        self.known_hosts = root / "known_hosts"
        self.ssh_config = root / "ssh_config"
        self.write_client_files()

    def write_client_files(self) -> None:
        known = []
        config = []
        for server in self.servers:
            for name, address, port in server.hosts:
                known.append(f"[{address}]:{port} {server.public}")
                if not self.by_address:
                    config += [f"Host {name}", f"  HostName {address}", f"  Port {port}"]
        if self.by_address:
            config += ["Host 127.0.*", f"  Port {self.port}"]
        self.known_hosts.write_text("\n".join(known) + "\n")
        config += [
            "Host *",
            f"  User {self.user}",
            f"  IdentityFile {self.client_key}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {self.known_hosts}",
            "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes",
            "  KexAlgorithms curve25519-sha256",
            "  ConnectTimeout 5",
            "  LogLevel ERROR",
        ]
        self.ssh_config.write_text("\n".join(config) + "\n")

    def plain_shell_passwd(self) -> Path | None:
        """A copy of /etc/passwd where this user's login shell is /bin/sh (root only: the
        bind mount needs it), or None."""
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            return None
        path = self.root / "passwd"
        if not path.exists():
            lines = []
            for line in Path("/etc/passwd").read_text().splitlines():
                fields = line.split(":")
                if len(fields) == 7 and fields[0] == self.user:
                    fields[6] = "/bin/sh"
                lines.append(":".join(fields))
            path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> SSHLab:
        for server in self.servers:
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def server_of(self, name: str) -> Server:
        return next(s for s in self.servers if any(h[0] == name for h in s.hosts))

    def env(self) -> dict[str, str]:
        """What fmsh needs to find these hosts (added to the environment): the ssh config,
        an inventory path of the lab's own, and no agent."""
        return {
            "FMSH_SSH_CONFIG": str(self.ssh_config),
            "FMSH_INVENTORY": str(self.root / "inventory.toml"),
            "SSH_AUTH_SOCK": "",
        }

    def ssh_argv(self, name: str) -> list[str]:
        """`ssh` to a host, with the same settings (for comparisons)."""
        return ["ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes", name]


def on_host(address: str, command: str) -> str:
    """A remote command line that runs `command` on the host at `address` only (each lab
    host is its own 127.0.0.x, which sshd puts in SSH_CONNECTION): `exit 1`, `sleep 5`."""
    return f'case " $SSH_CONNECTION " in *" {address} "*) {command};; esac'


def remote_processes(marker: str) -> list[str]:
    """Processes on the "remote" side (this machine) whose command line holds `marker`;
    fmsh's own process, whose -c text holds it too, is not one of them."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout  # whole lines
    return [line for line in out.splitlines()[1:] if marker in line and "fmsh" not in line and "ps -eo" not in line]


def wait_until(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
