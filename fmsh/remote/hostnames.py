"""The inventory's host names, one a line with what they are (`web01<TAB>group web`), for
the shell completions in completions/: `python -m fmsh.remote.hostnames`.

Every host the inventory lists and every host of its groups, expanded the way fmsh
expands them (`web[01-03]`, Ansible ranges, ClusterShell groups). Quiet on errors: a
completion offers nothing rather than a message.
"""

from __future__ import annotations

import os
import sys


def names() -> dict[str, list[str]]:
    """Each host and the groups it is in."""
    from fmsh.remote.inventory import Inventory, default_path
    from fmsh.remote.nodeset import node_names

    env = os.environ
    inventory = Inventory.load(env.get("FMSH_INVENTORY") or default_path(env.get("XDG_CONFIG_HOME"), env.get("HOME")))
    hosts: dict[str, list[str]] = {name: [] for name in inventory.hosts}
    for group in inventory.groups:
        try:
            for name in node_names(group, inventory):
                hosts.setdefault(name, []).append(group)
        except Exception:  # noqa: BLE001 - a group that does not expand offers nothing
            pass
    return hosts


def main() -> int:
    try:
        hosts = names()
    except Exception:  # noqa: BLE001 - a broken inventory: nothing to offer, quietly
        return 1
    for name, groups in hosts.items():
        sys.stdout.write(name + "\t" + ("group " + ", ".join(groups) if groups else "inventory host") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
