"""fmsh's inventory: hosts, groups and per-host settings.

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

FMSH_INVENTORY may also name an Ansible inventory (INI or YAML) or a ClusterShell groups
file (inventory_formats.py tells them apart), or several files separated by `:`
(`base.toml:hosts.ini`), read left to right: for a host in more than one, a later file's
settings win field by field (vars key by key), as Ansible merges several `-i`; a group in
more than one has the hosts of all of them; [defaults] fill what no file sets. A file that
does not exist is an empty inventory.

What the inventory does not say, `ssh -G` does (see sshconfig.py).
"""

from __future__ import annotations

import os

from fmsh.runtime.errors import ShellError

_HOST_KEYS = frozenset(["address", "port", "user", "jump", "vars"])
_FIELDS = ("address", "port", "user", "jump")


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


def error(path: str, line: int | None, message: str) -> ShellError:
    """An inventory error, positioned (`inventory FILE:LINE: message`) when the line is known."""
    return ShellError(f"inventory {path}:{line}: {message}" if line else f"inventory {path}: {message}")


def literal_groups(path: str, members: dict[str, list[str]], lines: dict[str, int]) -> dict[str, str]:
    """Groups given as their hosts, as fmsh's groups (folded: `web[01-20]`). In a pattern a
    name is a group before it is a host, so a group of only a host of its own name is left
    out (`@login` reaches the host login all the same); another host named like a group is
    an error. Groups with no host are left out."""
    from fmsh.remote.nodeset import fold_checked

    kept = {g: list(dict.fromkeys(hosts)) for g, hosts in members.items() if hosts and set(hosts) != {g}}
    folded: dict[str, str] = {}
    for group, hosts in kept.items():
        clash = next((h for h in hosts if h in kept), None)
        if clash is not None:
            raise error(path, lines.get(group), f"group {group}: its host {clash} has the name of a group")
        try:
            folded[group] = fold_checked(hosts)
        except ShellError as e:
            raise error(path, lines.get(group), f"group {group}: {e.message}") from None
    return folded


def paths(spec: str | None) -> list[str]:
    """The existing files FMSH_INVENTORY names: one path, or several separated by `:`."""
    if not spec:
        return []
    if os.path.exists(spec):
        return [spec]
    return [p for p in spec.split(":") if p and os.path.exists(p)]


def stamp(spec: str | None) -> tuple[tuple[str, float], ...]:
    """What tells a cached inventory is stale: each named file with its mtime."""
    out = []
    for path in paths(spec):
        try:
            out.append((path, os.stat(path).st_mtime))
        except OSError:
            pass
    return tuple(out)


class Inventory:
    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.hosts: dict[str, HostEntry] = {}
        self.groups: dict[str, str] = {}
        self.defaults: dict[str, object] = {}
        self.defaults_source = f"{path} [defaults]"

    def group(self, name: str) -> str | None:
        """A group's nodeset expression, or None when `name` is not a group."""
        return self.groups.get(name)

    def entry(self, name: str) -> HostEntry | None:
        return self.hosts.get(name)

    @classmethod
    def load(cls, spec: str | None) -> Inventory:
        """Read the file(s) FMSH_INVENTORY names (`a.toml:hosts.ini`); no file is an empty
        inventory. Each file's format is found by inventory_formats.read."""
        from fmsh.remote.inventory_formats import read

        inventory = cls(spec)
        for path in paths(spec):
            inventory.merge(read(path))
        if inventory.defaults:
            for entry in inventory.hosts.values():
                _fill(entry, _entry(entry.name, inventory.defaults, inventory.defaults_source))
        return inventory

    @classmethod
    def from_toml(cls, path: str, text: str) -> Inventory:
        """fmsh's own TOML file."""
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ShellError(f"inventory {path}: {e}") from None
        inventory = cls(path)
        inventory._read(data, path)
        return inventory

    def merge(self, later: Inventory) -> None:
        """Add a file read after this one: its settings win, its groups add hosts."""
        for name, entry in later.hosts.items():
            old = self.hosts.get(name)
            self.hosts[name] = entry if old is None else _combine(old, entry, f"{entry.source} + {old.source}")
        for name, value in later.groups.items():
            old_value = self.groups.get(name)
            self.groups[name] = value if old_value is None else _union(old_value, value, later)
        if later.defaults:
            self.defaults = {**self.defaults, **later.defaults}
            self.defaults_source = later.defaults_source

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
        _entry("-", defaults, f"{path} [defaults]")  # checked here, whether or not a host uses it
        for pattern, settings in _table(data.get("hosts", {}), f"{path}: [hosts]").items():
            merged = {**defaults, **_table(settings, f"{path}: [hosts.{pattern}]")}
            try:
                names = node_names(pattern, self)
            except ShellError as e:
                raise ShellError(f"inventory {path}: [hosts.{pattern}]: {e.message}") from None
            for name in names:
                self.hosts[name] = _entry(name, merged, f"{path} [hosts.{pattern}]")
        self.defaults = defaults

    def default_entry(self, name: str) -> HostEntry | None:
        """A host the inventory does not list still gets its [defaults]."""
        if not self.defaults or self.path is None:
            return None
        return _entry(name, self.defaults, self.defaults_source)


def _combine(base: HostEntry, over: HostEntry, source: str) -> HostEntry:
    """`over`'s settings on top of `base`'s: a field it sets wins, vars key by key."""
    entry = HostEntry(over.name, source)
    for key in _FIELDS:
        value = getattr(over, key)
        setattr(entry, key, value if value is not None else getattr(base, key))
    entry.vars = {**base.vars, **over.vars}
    return entry


def _fill(entry: HostEntry, defaults: HostEntry) -> None:
    """[defaults] where a host sets nothing (vars: as a whole, as in one TOML file)."""
    for key in _FIELDS:
        if getattr(entry, key) is None:
            setattr(entry, key, getattr(defaults, key))
    if not entry.vars:
        entry.vars = dict(defaults.vars)


def _union(old: str, new: str, new_inventory: Inventory) -> str:
    """Two nodeset expressions as one. Operators apply left to right (`a!b,c` is a union
    with c, `c,a!b` is not), so a side with other operators goes first or is expanded."""
    from fmsh.remote.nodeset import fold, node_names

    if _unions_only(new):
        return f"{old},{new}"
    if _unions_only(old):
        return f"{new},{old}"
    return f"{old},{fold(node_names(new, new_inventory))}"


def _unions_only(expression: str) -> bool:
    """No operator but `,` outside brackets."""
    depth = 0
    for c in expression:
        depth += (c == "[") - (c == "]")
        if depth == 0 and c in "!&^":
            return False
    return True


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
