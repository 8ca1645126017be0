"""ClusterShell's group files as fmsh's Inventory.

    # /etc/clustershell/groups (or groups.d/local.cfg): `name: nodeset` a line
    web: web[01-20]
    db: db[1-2]
    prod: @web,@db!db2

    # groups.d/*.yaml: group sources, each a map of groups (inventory_yaml.py reads it)
    local:
      web: "web[01-20]"

Each group is a group of fmsh (`@web`), its nodeset (ClusterShell's syntax, fmsh's
operators: `@other` groups, `,` `!` `&` `^`) expanded when the file is read; every host
in a group is a host of the inventory, with no settings of its own, its source naming its
groups (`groups.yaml @web @prod`). In a YAML file, the groups of every source are named
without it; when two sources have a group of the same name, the first source's is kept
(`@source:group` inside a nodeset names one exactly). A group with no host is left out,
as is a group of only a host of its own name (`login: login`): see inventory.literal_groups.
"""

from __future__ import annotations

import os
import re

from fmsh.remote.inventory import HostEntry, Inventory, error, literal_groups
from fmsh.remote.nodeset import MAX_HOSTS_VARIABLE, limit_of, over_limit, oversized
from fmsh.runtime.errors import ShellError

_LINE = re.compile(r"^([^\s:#]+)\s*:(.*)$")


def read_groups(path: str, text: str) -> Inventory:
    """The `name: nodeset` file; a name on several lines has the hosts of all of them."""
    groups = GroupFile(path)
    for number, raw in enumerate(text.split("\n"), 1):  # lines as an editor counts them
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise error(path, number, f"expected `group: nodeset', got `{line}'")
        groups.add(None, m.group(1), m.group(2).strip(), number)
    return groups.build()


class GroupFile:
    """Groups as a file declares them (source -> name -> nodeset and its line), for `build`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sources: dict[str, dict[str, tuple[str, int]]] = {}

    def add(self, source: str | None, name: str, nodeset: str, line: int) -> None:
        groups = self.sources.setdefault(source or "local", {})
        old = groups.get(name)
        if old is not None:
            nodeset, line = (f"{old[0]},{nodeset}" if old[0] and nodeset else old[0] or nodeset), old[1]
        groups[name] = (nodeset, line)

    def build(self) -> Inventory:
        """Each group's nodeset expanded by ClusterShell, `@group` resolved in this file
        (the first source when none is named); hosts and groups of fmsh."""
        from ClusterShell.NodeSet import NodeSet, NodeSetException
        from ClusterShell.NodeUtils import GroupResolver, GroupResolverError, GroupSource

        resolver = None
        for source, groups in self.sources.items():
            group_source = GroupSource(source, {name: nodeset for name, (nodeset, _) in groups.items()})
            if resolver is None:
                resolver = GroupResolver(group_source)
            else:
                resolver.add_source(group_source)
        inventory = Inventory(self.path)
        members: dict[str, list[str]] = {}
        lines: dict[str, int] = {}
        try:
            limit = limit_of(os.environ.get(MAX_HOSTS_VARIABLE))
        except ShellError as e:
            raise error(self.path, None, e.message) from None
        for groups in self.sources.values():
            for name, (nodeset, line) in groups.items():
                if name in members:
                    continue  # a group of an earlier source
                big = oversized(nodeset, limit)
                if big is not None and limit is not None:
                    # Refused before ClusterShell expands it: `n[1-10000000]` is ten million names.
                    raise error(self.path, line, f"group {name}: {over_limit(big[0], big[1], limit).message}")
                try:
                    members[name] = list(NodeSet(nodeset, resolver=resolver)) if nodeset else []
                except (NodeSetException, GroupResolverError, RecursionError) as e:
                    if "recursion" in str(e):  # ClusterShell's own message for a loop
                        raise error(self.path, line, f"group {name} contains itself") from None
                    raise error(self.path, line, f"group {name}: bad nodeset `{nodeset}' ({e})") from None
                lines[name] = line
        inventory.groups = literal_groups(self.path, members, lines)
        places: dict[str, list[str]] = {}
        for name, hosts in members.items():
            for host in hosts:
                places.setdefault(host, []).append(f"@{name}")
        for host, where in places.items():
            inventory.hosts[host] = HostEntry(host, f"{self.path} {' '.join(where)}")
        return inventory
