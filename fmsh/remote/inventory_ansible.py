"""Ansible inventories as fmsh's: what the INI and YAML readers share.

The readers declare groups, hosts (with their vars), group vars and children; `build`
makes the Inventory:

    ansible_host (ansible_ssh_host)   address
    ansible_port (ansible_ssh_port)   port
    ansible_user (ansible_ssh_user)   user
    ansible_ssh_common_args, ansible_ssh_extra_args with `-J host`, `-o ProxyJump=host`
    or `-o ProxyCommand="ssh -W %h:%p [user@]host"`      jump
    any other variable                vars

Variables apply as in Ansible: `all`'s, then each group's from the outermost to the
innermost (by depth, then name), then the host's own. Every group is a group of fmsh with
the hosts of its children too; `all` has every host, `ungrouped` those in no other group.
A group with no host is left out (see inventory.literal_groups). Host names take
Ansible's ranges: `web[01:20]`, `db-[a:f]`, `web[01:20:2]`, and `host:port`.
"""

from __future__ import annotations

import os
import re
import shlex

from fmsh.remote.inventory import HostEntry, Inventory, error, literal_groups
from fmsh.remote.nodeset import MAX_HOSTS_VARIABLE, limit_of, over_limit
from fmsh.runtime.errors import ShellError

Vars = dict[str, tuple[str, int]]  # name -> (value, line it was set on)

_ADDRESS = ("ansible_host", "ansible_ssh_host")
_PORT = ("ansible_port", "ansible_ssh_port")
_USER = ("ansible_user", "ansible_ssh_user")
_SSH_ARGS = ("ansible_ssh_common_args", "ansible_ssh_extra_args")


class Group:
    __slots__ = ("hosts", "vars", "children", "parents")

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.vars: Vars = {}
        self.children: list[str] = []
        self.parents: set[str] = set()


class AnsibleInventory:
    """An Ansible inventory as its reader declares it, for `build`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.groups: dict[str, Group] = {"all": Group(), "ungrouped": Group()}
        self.host_vars: dict[str, Vars] = {}
        self.where: dict[str, list[str]] = {}  # host -> the sections/groups that name it
        try:
            self.limit = limit_of(os.environ.get(MAX_HOSTS_VARIABLE))
        except ShellError as e:
            raise error(path, None, e.message) from None

    def group(self, name: str) -> Group:
        return self.groups.setdefault(name, Group())

    def add_hosts(self, group: str, pattern: str, host_vars: Vars, where: str, line: int) -> None:
        """`pattern` (a name, a range, `name:port`) in `group`, with its own vars."""
        pattern, port = _split_port(pattern)
        if port is not None:
            host_vars = {**host_vars, "ansible_port": (port, line)}
        size = range_count(pattern)
        if self.limit is not None and size > self.limit:
            # Counted, not expanded: `web[1:10000000]` is refused before ten million names exist.
            raise error(self.path, line, over_limit(pattern, size, self.limit).message)
        for name in expand_range(pattern, self.path, line):
            self.group(group).hosts.append(name)
            self.host_vars.setdefault(name, {}).update(host_vars)
            places = self.where.setdefault(name, [])
            if where not in places:
                places.append(where)

    def add_child(self, parent: str, child: str, line: int) -> None:
        if child == parent or parent in self._descendants(child):
            raise error(self.path, line, f"group {child} in {parent} makes a loop")
        if child not in self.group(parent).children:
            self.group(parent).children.append(child)
        self.group(child).parents.add(parent)

    def _descendants(self, name: str) -> set[str]:
        out: set[str] = set()
        todo = [name]
        while todo:
            for child in self.groups.get(todo.pop(), Group()).children:
                if child not in out:
                    out.add(child)
                    todo.append(child)
        return out

    def build(self) -> Inventory:
        """The Inventory: entries for every host, groups as folded host lists."""
        inventory = Inventory(self.path)
        members = {name: self._members(name) for name in self.groups}
        members["all"] = list(self.host_vars)
        grouped = {h for g, hosts in members.items() if g not in ("all", "ungrouped") for h in hosts}
        members["ungrouped"] = [h for h in members["ungrouped"] + list(self.host_vars) if h not in grouped]
        depth = self._depths()
        order = sorted(self.groups, key=lambda g: (depth[g], g))
        of_host: dict[str, list[str]] = {}
        for g in order:
            for h in dict.fromkeys(members[g]):
                of_host.setdefault(h, []).append(g)
        for name, own in self.host_vars.items():
            merged: Vars = {}
            for g in of_host.get(name, []):
                merged.update(self.groups[g].vars)
            merged.update(own)
            inventory.hosts[name] = self._entry(name, merged)
        inventory.groups = literal_groups(self.path, members, {})
        return inventory

    def _members(self, name: str, seen: frozenset[str] = frozenset()) -> list[str]:
        group = self.groups[name]
        out = list(group.hosts)
        for child in group.children:
            if child not in seen:
                out += self._members(child, seen | {name})
        return out

    def _depths(self) -> dict[str, int]:
        """How far each group is from `all` (the longest way)."""
        depth: dict[str, int] = {}

        def of(name: str) -> int:
            if name not in depth:
                parents = self.groups[name].parents - {"all"}
                depth[name] = 0 if name == "all" else 1 + max((of(p) for p in parents), default=0)
            return depth[name]

        for name in self.groups:
            of(name)
        return depth

    def _entry(self, name: str, merged: Vars) -> HostEntry:
        entry = HostEntry(name, f"{self.path} {' '.join(self.where[name])}")
        values = {k: v for k, (v, _) in merged.items()}
        for key in (*_ADDRESS, *_PORT, *_USER):
            values.pop(key, None)
        entry.address = _first(merged, _ADDRESS)
        entry.user = _first(merged, _USER)
        port = next((merged[k] for k in _PORT if k in merged), None)
        if port is not None:
            if not (port[0].isdigit() and port[0].isascii()) or not 0 < int(port[0]) < 65536:
                raise error(self.path, port[1], f"{name}: ansible_port must be a number from 1 to 65535")
            entry.port = int(port[0])
        for key in _SSH_ARGS:
            if key in merged and entry.jump is None:
                entry.jump = jump_host(merged[key][0])
                if entry.jump is not None:
                    values.pop(key)
        entry.vars = values
        return entry


def scalar(value: object) -> str:
    """A variable's value as a string: `true`/`false` for booleans, JSON for lists and
    maps, nothing for null."""
    import json

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, default=str)


def _first(merged: Vars, keys: tuple[str, ...]) -> str | None:
    return next((merged[k][0] for k in keys if k in merged), None)


def _split_port(pattern: str) -> tuple[str, str | None]:
    """`web01:2222` into the name and the port (a colon inside brackets is a range)."""
    head, sep, tail = pattern.rpartition(":")
    if sep and tail.isdigit() and tail.isascii() and head.count("[") == head.count("]"):
        return head, tail
    return pattern, None


_RANGE = re.compile(r"\[([^\]]*)\]")


def range_count(pattern: str) -> int:
    """How many names expand_range makes of a pattern, counted without making them (a
    range that does not read counts as one: expand_range says what is wrong with it)."""
    total = 1
    for m in _RANGE.finditer(pattern):
        bounds = m.group(1).split(":")
        if len(bounds) == 1:
            break  # expand_range stops at a bracket that is not a range
        if len(bounds) not in (2, 3) or not bounds[1]:
            continue
        begin, end = bounds[0] or "0", bounds[1]
        step_text = bounds[2] if len(bounds) == 3 else "1"
        step = int(step_text) if step_text.isdigit() and step_text.isascii() and len(step_text) < 19 else 0
        if not step:
            continue
        if begin.isdigit() and end.isdigit() and begin.isascii() and end.isascii():
            if len(begin) > 4000 or len(end) > 4000:
                return 10**18  # past int(): more than any limit
            total *= max(1, len(range(int(begin), int(end) + 1, step)))
        elif len(begin) == 1 and len(end) == 1:
            total *= max(1, len(range(ord(begin), ord(end) + 1, step)))
    return total


def expand_range(pattern: str, path: str, line: int) -> list[str]:
    """Ansible's host ranges: `web[01:20]` (padded as written), `[a:f]`, `[1:20:2]`, several
    in one name; a name without one is itself."""
    m = _RANGE.search(pattern)
    if m is None or ":" not in m.group(1):
        return [pattern]
    bounds = m.group(1).split(":")
    if len(bounds) not in (2, 3) or not bounds[1]:
        raise error(path, line, f"{pattern}: a range is [begin:end] or [begin:end:step]")
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not (step_text.isdigit() and step_text.isascii()) or int(step_text) == 0:
        raise error(path, line, f"{pattern}: bad range step `{step_text}'")
    step = int(step_text)
    if begin.isdigit() and end.isdigit() and begin.isascii() and end.isascii():
        width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
        if width and len(end) != width:
            raise error(path, line, f"{pattern}: a padded range has begin and end of the same width")
        values = [str(i).zfill(width) for i in range(int(begin), int(end) + 1, step)]
    elif len(begin) == 1 and len(end) == 1 and begin.isalpha() and end.isalpha():
        values = [chr(c) for c in range(ord(begin), ord(end) + 1, step)]
    else:
        raise error(path, line, f"{pattern}: a range is of numbers or of single letters")
    if not values:
        raise error(path, line, f"{pattern}: an empty range")
    head, tail = pattern[: m.start()], pattern[m.end() :]
    return [name for v in values for name in expand_range(head + v + tail, path, line)]


def jump_host(args: str) -> str | None:
    """The jump host in ssh options: `-J h`, `-o ProxyJump=h`, `-o ProxyCommand="ssh -W
    %h:%p [-l user] [-p port] [user@]h"`; None when there is none."""
    try:
        words = shlex.split(args)
    except ValueError:
        return None
    options: list[str] = []
    for i, word in enumerate(words):
        if word == "-J" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("-J") and len(word) > 2:
            return word[2:]
        if word == "-o" and i + 1 < len(words):
            options.append(words[i + 1])
        elif word.startswith("-o") and len(word) > 2:
            options.append(word[2:])
    for option in options:
        key, _, value = option.replace("=", " ", 1).partition(" ")
        if key.lower() == "proxyjump" and value.strip():
            return value.strip()
        if key.lower() == "proxycommand":
            return _proxy_command_host(value.strip())
    return None


def _proxy_command_host(command: str) -> str | None:
    """`ssh -W %h:%p [-l user] [-p port] [user@]host`: `user@host:port`."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or not words[0].endswith("ssh") or "-W" not in words:
        return None
    user = port = host = None
    i = 1
    while i < len(words):
        word = words[i]
        if word in ("-l", "-p") and i + 1 < len(words):
            user, port = (words[i + 1], port) if word == "-l" else (user, words[i + 1])
            i += 2
        elif word in ("-W", "-i", "-F", "-o", "-J") and i + 1 < len(words):
            i += 2
        elif word.startswith("-"):
            i += 1
        else:
            host = word
            i += 1
    if host is None:
        return None
    if user and "@" not in host:
        host = f"{user}@{host}"
    return f"{host}:{port}" if port else host
