"""Ansible's INI inventory (an `ansible -i hosts.ini` file) as fmsh's Inventory.

    web00 ansible_host=10.0.0.9        # before any section: ungrouped
    [web]                              # a group and its hosts, each with its own vars
    web[01:20] ansible_user=deploy
    web21 ansible_host=10.0.0.21 ansible_port=2222
    [web:vars]                         # vars for every host of the group (and its children)
    role=web
    [prod:children]                    # groups in the group
    web
    [all:vars]
    ansible_ssh_common_args='-J bastion'

Comments start with `#` or `;`. Values are Ansible's: `port=22`, `name="a b"`, `x='y'`.
The mapping to fmsh's settings is inventory_ansible.py's.
"""

from __future__ import annotations

import ast
import re
import shlex

from fmsh.remote.inventory import Inventory, error
from fmsh.remote.inventory_ansible import AnsibleInventory, scalar

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:[#;].*)?$")


def read_ini(path: str, text: str) -> Inventory:
    """Parse the file; an error names its line."""
    ansible = AnsibleInventory(path)
    group, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.split("\n"), 1):  # lines as an editor counts them
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            m = _SECTION.match(line)
            if m is None:
                raise error(path, number, f"bad section header `{line}'")
            group, kind = m.group(1), m.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise error(path, number, f"[{group}:{kind}]: a section is [name], [name:vars] or [name:children]")
            ansible.group(group)
        elif kind == "hosts":
            words = _words(line, path, number)
            host_vars = {}
            for word in words[1:]:
                key, sep, value = word.partition("=")
                if not sep or not key:
                    raise error(path, number, f"{words[0]}: expected key=value, got `{word}'")
                host_vars[key] = (value_of(value), number)
            ansible.add_hosts(group, words[0], host_vars, f"[{group}]", number)
        elif kind == "children":
            m = _GROUP_NAME.match(line)
            if m is None:
                raise error(path, number, f"[{group}:children]: expected a group name, got `{line}'")
            ansible.add_child(group, m.group(1), number)
        else:
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise error(path, number, f"[{group}:vars]: expected key=value, got `{line}'")
            ansible.group(group).vars[key.strip()] = (value_of(value.strip()), number)
    return ansible.build()


def _words(line: str, path: str, number: int) -> list[str]:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as e:
        raise error(path, number, f"{e} in `{line}'") from None
    if not words:
        raise error(path, number, f"expected a host, got `{line}'")
    return words


def value_of(text: str) -> str:
    """A value as Ansible reads it (a Python literal when it is one: `'a'`, `2`, `True`),
    as the string fmsh keeps."""
    import warnings

    try:
        with warnings.catch_warnings():
            # `port=1a` is a value, not Python: no "SyntaxWarning: invalid decimal literal" on stderr
            warnings.simplefilter("ignore")
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return scalar(value) if isinstance(value, str | int | float | bool) else text
