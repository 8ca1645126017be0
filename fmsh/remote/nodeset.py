"""Host patterns: what follows the `@` of a remote stage.

    web1                      one host
    deploy@web1:2222          with a user and a port
    web[01-20]                a padded range (ClusterShell's nodeset syntax)
    web[01-20]!web07          `,` union, `!` exclusion, `&` intersection, `^` either but not both
    webservers                a group of the inventory (also inside an expression)

Operators apply left to right, as in ClusterShell. Ranges are ClusterShell's NodeSet.
"""

from __future__ import annotations

from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ClusterShell.NodeSet import NodeSet

    from fmsh.remote.inventory import Inventory

_OPERATORS = ",!&^"


class HostRef:
    """One host as the pattern names it: name (an inventory name or a host name) and the
    user and port written with it (None: from the inventory or ssh config)."""

    __slots__ = ("name", "user", "port")

    def __init__(self, name: str, user: str | None, port: int | None) -> None:
        self.name = name
        self.user = user
        self.port = port

    def __repr__(self) -> str:
        return f"HostRef({self.name!r}, user={self.user!r}, port={self.port!r})"


def split_user_port(pattern: str) -> tuple[str | None, str, int | None]:
    """`user@nodes:port` into its three parts."""
    user = None
    if "@" in pattern:
        user, _, pattern = pattern.rpartition("@")
        if not user:
            raise ShellError(f"@{pattern}: empty user name before `@'")
    port = None
    depth = 0
    for i in range(len(pattern) - 1, -1, -1):
        c = pattern[i]
        if c == "]":
            depth += 1
        elif c == "[":
            depth -= 1
        elif c == ":" and depth == 0:
            digits = pattern[i + 1 :]
            if not digits.isdigit() or not 0 < int(digits) < 65536:
                raise ShellError(f"{pattern}: bad port `{digits}'")
            port = int(digits)
            pattern = pattern[:i]
            break
    return user, pattern, port


def expand(pattern: str, inventory: Inventory) -> list[HostRef]:
    """The hosts a pattern names, in order, without duplicates."""
    user, nodes, port = split_user_port(pattern)
    if not nodes:
        raise ShellError(f"@{pattern}: no host named")
    return [HostRef(name, user, port) for name in node_names(nodes, inventory)]


def node_names(expression: str, inventory: Inventory, seen: frozenset[str] = frozenset()) -> list[str]:
    return list(_nodeset(expression, inventory, seen))


def fold(names: list[str]) -> str:
    """`web[01-03,05]`: names folded back into a nodeset, for display."""
    from ClusterShell.NodeSet import NodeSet

    return str(NodeSet.fromlist(names)) if names else ""


def _nodeset(expression: str, inventory: Inventory, seen: frozenset[str]) -> NodeSet:
    from ClusterShell.NodeSet import NodeSet, NodeSetParseError

    result: NodeSet | None = None
    for op, atom in _atoms(expression):
        name = atom[1:] if atom.startswith("@") else atom
        group = inventory.group(name)
        try:
            if group is not None:
                if name in seen:
                    raise ShellError(f"group {name} contains itself")
                value = _nodeset(group, inventory, seen | {name})
            else:
                value = NodeSet(atom)
        except NodeSetParseError as e:
            raise ShellError(f"{expression}: bad host pattern ({e})") from None
        if result is None:
            result = value
        elif op == ",":
            result.update(value)
        elif op == "!":
            result.difference_update(value)
        elif op == "&":
            result.intersection_update(value)
        else:
            result.symmetric_difference_update(value)
    assert result is not None
    return result


def _atoms(expression: str) -> list[tuple[str, str]]:
    """(operator before it, atom) pairs at bracket depth 0; the first operator is ","."""
    out: list[tuple[str, str]] = []
    depth = 0
    start = 0
    op = ","
    for i, c in enumerate(expression):
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif c in _OPERATORS and depth == 0:
            atom = expression[start:i].strip()
            if not atom:
                raise ShellError(f"{expression}: nothing before `{c}'")
            out.append((op, atom))
            op = c
            start = i + 1
    atom = expression[start:].strip()
    if not atom:
        raise ShellError(f"{expression}: the pattern ends with an operator")
    out.append((op, atom))
    return out
