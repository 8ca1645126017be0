"""fmsh's inventory: a TOML file of hosts, groups and per-host settings.

    # ~/.config/fmsh/inventory.toml  (FMSH_INVENTORY names another file)
    [defaults]                   # settings for every host listed below
    user = "deploy"

    [hosts.db1]                  # one host: any of address, port, user, jump, vars
    address = "10.0.0.5"
    port = 2222
    jump = "bastion"             # a ProxyJump host (itself resolved like any host)
    vars = { role = "primary" }

    [hosts."web[01-20]"]         # a nodeset: the same settings for each host in it
    vars = { role = "web" }

    [groups]                     # names usable in patterns: @web, @prod!db2
    web = "web[01-20]"
    db = ["db1", "db2"]
    prod = "web,db"

What the inventory does not say, `ssh -G` does (see sshconfig.py).
"""

from __future__ import annotations

import os

from fmsh.runtime.errors import ShellError

_HOST_KEYS = frozenset(["address", "port", "user", "jump", "vars"])


class HostEntry:
    """A host's inventory settings and where they came from."""

    __slots__ = ("name", "address", "port", "user", "jump", "vars", "source")

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.address: str | None = None
        self.port: int | None = None
        self.user: str | None = None
        self.jump: str | None = None
        self.vars: dict[str, str] = {}
        self.source = source


class Inventory:
    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.hosts: dict[str, HostEntry] = {}
        self.groups: dict[str, str] = {}
        self.defaults: dict[str, object] = {}

    def group(self, name: str) -> str | None:
        """A group's nodeset expression, or None when `name` is not a group."""
        return self.groups.get(name)

    def entry(self, name: str) -> HostEntry | None:
        return self.hosts.get(name)

    @classmethod
    def load(cls, path: str | None) -> Inventory:
        """Read the file; a missing default file is an empty inventory."""
        inventory = cls(path)
        if path is None or not os.path.exists(path):
            return inventory
        import tomllib

        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ShellError(f"inventory {path}: {e}") from None
        inventory._read(data, path)
        return inventory

    def _read(self, data: dict[str, object], path: str) -> None:
        from fmsh.remote.nodeset import node_names

        unknown = set(data) - {"defaults", "hosts", "groups"}
        if unknown:
            raise ShellError(f"inventory {path}: unknown section(s) {', '.join(sorted(unknown))}")
        defaults = _table(data.get("defaults", {}), f"{path}: [defaults]")
        groups = _table(data.get("groups", {}), f"{path}: [groups]")
        for name, value in groups.items():
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                self.groups[name] = ",".join(value)
            elif isinstance(value, str):
                self.groups[name] = value
            else:
                raise ShellError(f"inventory {path}: group {name} must be a pattern or a list of names")
        for pattern, settings in _table(data.get("hosts", {}), f"{path}: [hosts]").items():
            merged = {**defaults, **_table(settings, f"{path}: [hosts.{pattern}]")}
            for name in node_names(pattern, self):
                self.hosts[name] = _entry(name, merged, f"{path} [hosts.{pattern}]")
        self.defaults = defaults

    def default_entry(self, name: str) -> HostEntry | None:
        """A host the inventory does not list still gets its [defaults]."""
        if not self.defaults or self.path is None:
            return None
        return _entry(name, self.defaults, f"{self.path} [defaults]")


def _table(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ShellError(f"inventory {where} must be a table")
    return value


def _entry(name: str, settings: dict[str, object], source: str) -> HostEntry:
    entry = HostEntry(name, source)
    unknown = set(settings) - _HOST_KEYS
    if unknown:
        raise ShellError(f"inventory {source}: unknown setting(s) {', '.join(sorted(unknown))}")
    for key in ("address", "user", "jump"):
        if key in settings:
            if not isinstance(settings[key], str):
                raise ShellError(f"inventory {source}: {key} must be a string")
            setattr(entry, key, settings[key])
    if "port" in settings:
        port = settings["port"]
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ShellError(f"inventory {source}: port must be a number from 1 to 65535")
        entry.port = port
    if "vars" in settings:
        table = _table(settings["vars"], f"{source} vars")
        entry.vars = {str(k): str(v) for k, v in table.items()}
    return entry


def default_path(config_home: str | None, home: str | None) -> str:
    base = config_home or os.path.join(home or os.path.expanduser("~"), ".config")
    return os.path.join(base, "fmsh", "inventory.toml")
