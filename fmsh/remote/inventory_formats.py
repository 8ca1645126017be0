"""Which reader an inventory file gets: by its extension, then by its content.

.toml                        fmsh's own file (inventory.py)
.yml .yaml                   YAML: an Ansible inventory (`all:`, groups with hosts,
                             vars, children), or ClusterShell's groups.d/*.yaml
                             (`source: {group: nodeset}`): inventory_yaml.py
.ini                         an Ansible INI inventory (inventory_ini.py)
anything else (hosts, .cfg, .conf, no extension), by the first line that is not blank
or a comment:
    [section]                Ansible INI (fmsh's TOML when it reads as one)
    name:  or  ---           YAML, as above
    name: nodeset            ClusterShell's `groups` file (inventory_clustershell.py)
    host [key=value...]      Ansible INI (hosts outside any group)
"""

from __future__ import annotations

import os
import re

from fmsh.remote.inventory import Inventory, error

_YAML_START = re.compile(r"^(---|[^\s:#\[][^:#]*:\s*(#.*)?$)")
_GROUPS_LINE = re.compile(r"^[^\s:=\[#;]+\s*:\s*(?!\d+(\s|$))\S")


def read(path: str) -> Inventory:
    """One inventory file, in whichever format it is."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise error(path, None, str(e)) from None
    kind = detect(path, text)
    if kind == "toml":
        return Inventory.from_toml(path, text)
    if kind == "ini":
        from fmsh.remote.inventory_ini import read_ini

        return read_ini(path, text)
    if kind == "yaml":
        from fmsh.remote.inventory_yaml import read_yaml

        return read_yaml(path, text)
    from fmsh.remote.inventory_clustershell import read_groups

    return read_groups(path, text)


def detect(path: str, text: str) -> str:
    """toml, ini, yaml or groups."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".toml":
        return "toml"
    if ext in (".yml", ".yaml"):
        return "yaml"
    if ext == ".ini":
        return "ini"
    first = next((s for s in (line.strip() for line in text.splitlines()) if s and s[0] not in "#;"), "")
    if first.startswith("["):
        return "toml" if _reads_as_toml(text) else "ini"
    if _YAML_START.match(first):
        return "yaml"
    if _GROUPS_LINE.match(first):
        return "groups"
    return "ini"


def _reads_as_toml(text: str) -> bool:
    """fmsh's TOML: it parses, and with fmsh's sections only."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return bool(data) and set(data) <= {"defaults", "hosts", "groups"}
