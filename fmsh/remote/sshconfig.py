"""A host's SSH settings, as OpenSSH itself answers them (`ssh -G`).

`ssh -G` applies ~/.ssh/config with its Include and Match rules, so fmsh sees what `ssh`
would use: HostName, User, Port, IdentityFile, ProxyJump, known_hosts files, host key
checking, timeouts. Inventory settings are given to it as command-line overrides, which
OpenSSH ranks above the config file. Answers are kept for the life of the shell.

One `ssh -G` costs a few milliseconds of CPU, which a fan-out to hundreds of hosts would
pay per host. So when the config files have no `Match` block and no `%` token, hosts whose
names match the same `Host` lines share one answer (with their own name as HostName where
the config sets none): `web001`..`web500` under one `Host web*` cost one `ssh -G`.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import threading

from fmsh.runtime.errors import ShellError

_DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")


class HostConfig:
    """What is needed to reach one host."""

    __slots__ = (
        "name", "hostname", "user", "port", "identity_files", "identities_only", "proxy_jump",
        "known_hosts_files", "strict_host_keys", "hash_known_hosts", "connect_timeout",
        "alive_interval", "kex", "host_key_alias", "vars", "source",
    )  # fmt: skip

    def __init__(self, name: str) -> None:
        self.name = name  # as the pattern wrote it (what output is labelled with)
        self.hostname = name
        self.user = ""
        self.port = 22
        self.identity_files: list[str] = []
        self.identities_only = False
        self.proxy_jump: str | None = None
        self.known_hosts_files: list[str] = []
        self.strict_host_keys = "ask"
        self.hash_known_hosts = False
        self.connect_timeout: float | None = None
        self.alive_interval = 0
        self.kex: list[str] = []
        self.host_key_alias: str | None = None
        self.vars: dict[str, str] = {}
        self.source = "ssh -G"

    @property
    def key(self) -> tuple[str, str, int, str | None]:
        """What makes two configs the same connection."""
        return (self.user, self.hostname, self.port, self.proxy_jump)

    def address(self) -> str:
        host = self.hostname if ":" not in self.hostname else f"[{self.hostname}]"
        return f"{self.user}@{host}:{self.port}"


class SSHConfigReader:
    """`ssh -G` answers, cached; thread-safe (fan-out resolves hosts in parallel)."""

    def __init__(self, config_file: str | None = None) -> None:
        self.config_file = config_file
        self._cache: dict[tuple[str, ...], HostConfig] = {}
        self._shapes: dict[tuple[object, ...], HostConfig] = {}
        self._asking: dict[tuple[object, ...], threading.Event] = {}  # shapes being asked for now
        self._lock = threading.Lock()
        self._ssh = shutil.which("ssh")
        self._host_lines: list[list[str]] | None = _host_lines(config_file)

    def _shape(self, name: str, *rest: object) -> tuple[object, ...] | None:
        """Which Host lines the name matches (plus the overrides): equal shapes, equal
        answers. None when the config files make that unsafe (Match, % tokens)."""
        if self._host_lines is None:
            return None
        return (tuple(_host_matches(patterns, name) for patterns in self._host_lines), *rest)

    def resolve(
        self,
        name: str,
        user: str | None = None,
        port: int | None = None,
        address: str | None = None,
        jump: str | None = None,
    ) -> HostConfig:
        key = (name, user or "", str(port or ""), address or "", jump or "", self.config_file or "")
        with self._lock:
            found = self._cache.get(key)
        if found is not None:
            return found
        shape = self._shape(name, user, port, address, jump)
        model, turn = self._model(shape)
        try:
            if model is not None:
                config = _renamed(model, name, address)
            else:
                config = (
                    self._ask_ssh(name, user, port, address, jump)
                    if self._ssh
                    else self._without_ssh(name, user, port, address, jump)
                )
            with self._lock:
                self._cache[key] = config
                if shape is not None and model is None:
                    self._shapes[shape] = config
        finally:
            if turn is not None and shape is not None:
                with self._lock:
                    del self._asking[shape]
                turn.set()
        return config

    def _model(self, shape: tuple[object, ...] | None) -> tuple[HostConfig | None, threading.Event | None]:
        """The answer already given for a shape, or else this thread's turn to ask (an event
        to set once answered). While another thread asks for the same shape, wait for its
        answer: a fan-out resolves 16 hosts at once, and they would all run `ssh -G`."""
        if shape is None:
            return None, None
        while True:
            with self._lock:
                model = self._shapes.get(shape)
                if model is not None:
                    return model, None
                asked = self._asking.get(shape)
                if asked is None:
                    turn = self._asking[shape] = threading.Event()
                    return None, turn
            asked.wait()  # then the answer is there (or the ask failed: this thread asks)

    def _ask_ssh(
        self, name: str, user: str | None, port: int | None, address: str | None, jump: str | None
    ) -> HostConfig:
        argv = [self._ssh or "ssh", "-G"]
        if self.config_file:
            argv += ["-F", self.config_file]
        if user:
            argv += ["-l", user]
        if port:
            argv += ["-p", str(port)]
        if address:
            argv += ["-o", f"HostName={address}"]
        if jump:
            argv += ["-J", jump]
        argv += ["--", name]
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            detail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"status {proc.returncode}"
            raise ShellError(f"{name}: ssh -G failed: {detail}")
        return _parse(name, proc.stdout)

    def _without_ssh(
        self, name: str, user: str | None, port: int | None, address: str | None, jump: str | None
    ) -> HostConfig:
        """No OpenSSH client on this machine: defaults, as ssh would have them."""
        config = HostConfig(name)
        config.hostname = address or name
        config.user = user or getpass.getuser()
        config.port = port or 22
        config.identity_files = [os.path.expanduser(p) for p in _DEFAULT_IDENTITIES]
        home = os.path.expanduser("~")
        config.known_hosts_files = [f"{home}/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"]
        config.proxy_jump = jump
        config.source = "defaults (no ssh client found)"
        return config


def _renamed(model: HostConfig, name: str, address: str | None) -> HostConfig:
    """A copy of a shared answer for another name of the same shape."""
    config = HostConfig(name)
    for slot in HostConfig.__slots__:
        value = getattr(model, slot)
        setattr(config, slot, list(value) if isinstance(value, list) else value)
    config.name = name
    if address is None and model.hostname == model.name:
        config.hostname = name  # no HostName in the config: ssh uses the name itself
    return config


def _config_files(config_file: str | None) -> list[str]:
    if config_file:
        return [config_file]
    return [os.path.expanduser("~/.ssh/config"), "/etc/ssh/ssh_config"]


def _host_lines(config_file: str | None) -> list[list[str]] | None:
    """Every `Host` line's patterns in the config files (following Include), or None when a
    file has something that makes equal shapes unsafe to share: Match blocks, % tokens,
    hostname canonicalisation."""
    import glob

    lines: list[list[str]] = []
    pending = [(path, os.path.dirname(path) or ".") for path in _config_files(config_file)]
    seen: set[str] = set()
    while pending:
        path, base = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keyword, _, value = line.replace("=", " ", 1).partition(" ")
            keyword = keyword.lower()
            value = value.strip()
            if keyword == "match" or "%" in value or keyword == "canonicalizehostname" and value.lower() != "no":
                return None
            if keyword == "host":
                lines.append(value.split())
            elif keyword == "include":
                for item in value.split():
                    item = os.path.expanduser(item)
                    if not os.path.isabs(item):
                        item = os.path.join(base, item)
                    pending.extend((found, base) for found in sorted(glob.glob(item)))
    return lines


def _host_matches(patterns: list[str], name: str) -> bool:
    """OpenSSH's rule for a Host line: some pattern matches and no negated one does."""
    import fnmatch

    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if fnmatch.fnmatchcase(name.lower(), (pattern[1:] if negated else pattern).lower()):
            if negated:
                return False
            matched = True
    return matched


def _parse(name: str, text: str) -> HostConfig:
    config = HostConfig(name)
    known_user: list[str] = []
    known_global: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        key = key.lower()
        if key == "hostname":
            config.hostname = value
        elif key == "user":
            config.user = value
        elif key == "port":
            config.port = int(value)
        elif key == "identityfile":
            config.identity_files.append(os.path.expanduser(value))
        elif key == "identitiesonly":
            config.identities_only = value == "yes"
        elif key == "proxyjump" and value != "none":
            config.proxy_jump = value
        elif key == "userknownhostsfile":
            known_user += [os.path.expanduser(p) for p in value.split()]
        elif key == "globalknownhostsfile":
            known_global += [os.path.expanduser(p) for p in value.split()]
        elif key == "stricthostkeychecking":
            config.strict_host_keys = {"true": "yes", "false": "no", "off": "no"}.get(value, value)
        elif key == "hashknownhosts":
            config.hash_known_hosts = value == "yes"
        elif key == "connecttimeout" and value != "none":
            config.connect_timeout = float(value)
        elif key == "serveraliveinterval":
            config.alive_interval = int(value)
        elif key == "kexalgorithms":
            config.kex = value.split(",")
        elif key == "hostkeyalias":
            config.host_key_alias = value
    config.known_hosts_files = known_user + known_global
    if not config.user:
        config.user = getpass.getuser()
    return config
