"""YAML inventories: Ansible's (`all:` and groups) and ClusterShell's groups.d/*.yaml.

    all:                                  # Ansible: groups with hosts, vars and children
      hosts: {mail1: {ansible_host: 10.0.0.2}}
      vars: {ntp: ntp1}
      children:
        web:
          hosts:
            web[01:20]: {ansible_port: 22}
          vars: {role: web}
          children: {canary: {hosts: {web21: null}}}

    local:                                # ClusterShell: source -> group -> nodeset
      web: "web[01-20]"
      db: "db[1-2]"

The file is ClusterShell's when every top-level value is a map and none of them has an
Ansible group's keys (hosts, vars, children), nor is named `all`; Ansible's otherwise. PyYAML is imported
here only, when such a file is read. Errors name the file's line: the document is
walked node by node.
"""

from __future__ import annotations

from typing import Any

from fmsh.remote.inventory import Inventory, error
from fmsh.remote.inventory_ansible import AnsibleInventory, Vars, scalar

_GROUP_KEYS = ("hosts", "vars", "children")


def read_yaml(path: str, text: str) -> Inventory:
    try:
        import yaml
    except ImportError:
        raise error(path, None, "a YAML inventory needs PyYAML (pip install PyYAML)") from None
    try:
        loader = yaml.SafeLoader(text)
        root = loader.get_single_node()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).split("\n", 1)[0]
        raise error(path, _mark_line(mark) if mark else None, f"bad YAML: {problem}") from None
    except RecursionError:
        raise error(path, None, "bad YAML: nested too deeply") from None
    if root is None:
        return Inventory(path)
    reader = _Reader(path, loader)
    pairs = reader.mapping(root, "the document")
    if pairs and all(_is_groups_source(key, value) for key, value in pairs):
        from fmsh.remote.inventory_clustershell import GroupFile

        groups = GroupFile(path)
        for key, value in pairs:
            source = reader.name(key)
            for name, nodes in reader.mapping(value, source):
                groups.add(source, reader.name(name), reader.nodeset(nodes), _line(name))
        return groups.build()
    ansible = AnsibleInventory(path)
    for key, value in pairs:
        name = reader.name(key)
        reader.group(ansible, name, value, name)
    return ansible.build()


def _line(node: Any) -> int:
    return _mark_line(node.start_mark)


def _mark_line(mark: Any) -> int:
    """The line of a YAML mark as an editor counts lines (YAML also breaks lines at \r,
    U+2028...): newlines before its offset, plus one."""
    buffer = getattr(mark, "buffer", None)
    if isinstance(buffer, str):
        return buffer.count("\n", 0, mark.index) + 1
    return int(mark.line) + 1


def _is_groups_source(key: Any, node: Any) -> bool:
    """A ClusterShell source: a map of groups, none of its keys one of an Ansible group's,
    and not named `all` (Ansible's)."""
    import yaml

    if getattr(key, "value", None) == "all" or not isinstance(node, yaml.MappingNode):
        return False
    return not any(isinstance(k, yaml.ScalarNode) and k.value in _GROUP_KEYS for k, _ in node.value)


_MAX_ITEMS = 100_000  # in one value, once its aliases are followed


def _too_big(value: object) -> str | None:
    """What is wrong with a value whose aliases make it huge (nine lines of `&a [*b, *b,
    ...]` name a billion items: a "billion laughs") or make it contain itself; None when
    it is fine. Shared parts are counted once per use, without expanding them."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(item: object) -> int:
        if not isinstance(item, list | dict):
            return 1
        key = id(item)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise ValueError("a value that contains itself")
        open_.add(key)
        children = list(item.items()) if isinstance(item, dict) else item
        total = 1
        for child in children:
            total += size(child[0]) + size(child[1]) if isinstance(item, dict) else size(child)  # type: ignore[index]
            if total > _MAX_ITEMS:
                break
        open_.discard(key)
        sizes[key] = total
        return total

    try:
        if size(value) > _MAX_ITEMS:
            return f"a value of more than {_MAX_ITEMS} items (YAML aliases multiply it)"
    except ValueError as e:
        return str(e)
    except RecursionError:
        return "a value nested too deeply"
    return None


class _Reader:
    """The document's nodes, checked, with the line of each error."""

    def __init__(self, path: str, loader: Any) -> None:
        self.path = path
        self.loader = loader

    def value(self, node: Any) -> object:
        import yaml

        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e).split("\n", 1)[0]
            raise error(self.path, _line(node), f"bad YAML: {problem}") from None
        except RecursionError:
            raise error(self.path, _line(node), "bad YAML: nested too deeply") from None
        problem = _too_big(value)
        if problem:
            raise error(self.path, _line(node), problem)
        return value

    def mapping(self, node: Any, what: str) -> list[tuple[Any, Any]]:
        """A map's (key, value) node pairs (`<<` merges applied); null is an empty map."""
        import yaml

        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        if not isinstance(node, yaml.MappingNode):
            raise error(self.path, _line(node), f"{what} must be a map")
        self.loader.flatten_mapping(node)
        return list(node.value)

    def name(self, node: Any) -> str:
        value = self.value(node)
        if not isinstance(value, str | int | float) or isinstance(value, bool) or value == "":
            raise error(self.path, _line(node), f"`{value}' is not a name")
        return str(value)

    def nodeset(self, node: Any) -> str:
        value = self.value(node)
        if value is not None and not isinstance(value, str | int):
            raise error(self.path, _line(node), "a group is a nodeset (a string)")
        return "" if value is None else str(value)

    def vars(self, node: Any, what: str) -> Vars:
        return {self.name(k): (scalar(self.value(v)), _line(k)) for k, v in self.mapping(node, what)}

    def group(self, ansible: AnsibleInventory, name: str, node: Any, where: str) -> None:
        """An Ansible group at `where` (all.children.web) and what is under it."""
        ansible.group(name)
        for key_node, value in self.mapping(node, where):
            key = self.name(key_node)
            if key == "hosts":
                for host, host_vars in self.mapping(value, f"{where}.hosts"):
                    pattern = self.name(host)
                    ansible.add_hosts(name, pattern, self.vars(host_vars, pattern), where, _line(host))
            elif key == "vars":
                ansible.group(name).vars.update(self.vars(value, f"{where}.vars"))
            elif key == "children":
                for child, child_node in self.mapping(value, f"{where}.children"):
                    child_name = self.name(child)
                    ansible.add_child(name, child_name, _line(child))
                    self.group(ansible, child_name, child_node, f"{where}.children.{child_name}")
            else:
                raise error(self.path, _line(key_node), f"{where}: unknown key {key} (hosts, vars or children)")
