"""Host patterns: what follows the `@` of a remote stage.

    web1                      one host
    deploy@web1:2222          with a user and a port
    web[01-20]                a padded range (ClusterShell's nodeset syntax)
    web[01-20]!web07          `,` union, `!` exclusion, `&` intersection, `^` either but not both
    webservers                a group of the inventory (also inside an expression)

Operators apply left to right, as in ClusterShell. Ranges are ClusterShell's NodeSet.

A pattern may name at most a limit of hosts (settings.max_hosts: 10000 unless
FMSH_MAX_HOSTS or `set -o max-hosts=N` says otherwise). Each range is counted before
it is expanded, so `web[1-10000000]` is refused at once, without ten million names
in memory; a range over the limit is still fine as the filter of an intersection or an
exclusion (`web[1-100000]&web[1-5]`, `web[1-5]!web[1-100000]`): it is then matched, not
expanded.
"""

from __future__ import annotations

import os

from fmsh.runtime.errors import ShellError
from fmsh.runtime.settings import MAX_HOSTS

MAX_HOSTS_VARIABLE = MAX_HOSTS[0]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ClusterShell.NodeSet import NodeSet

    from fmsh.remote.inventory import Inventory

_OPERATORS = ",!&^"
FROM_ENVIRONMENT = -1  # expand()'s limit when the caller has no shell: FMSH_MAX_HOSTS in os.environ


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
            if not (digits.isdigit() and digits.isascii()) or not 0 < int(digits) < 65536:
                raise ShellError(f"{pattern}: bad port `{digits}'")
            port = int(digits)
            pattern = pattern[:i]
            break
    return user, pattern, port


def expand(pattern: str, inventory: Inventory, limit: int | None = FROM_ENVIRONMENT) -> list[HostRef]:
    """The hosts a pattern names, in order, without duplicates; at most `limit` of them
    (None: no limit; see limit_of for the shell's setting)."""
    try:
        user, nodes, port = split_user_port(pattern)
        if not nodes:
            raise ShellError(f"@{pattern}: no host named")
        return [HostRef(name, user, port) for name in node_names(nodes, inventory, limit=limit)]
    except ShellError as e:
        raise ShellError(one_line(e.message), e.status) from None


def node_names(
    expression: str, inventory: Inventory, seen: frozenset[str] = frozenset(), limit: int | None = FROM_ENVIRONMENT
) -> list[str]:
    if limit == FROM_ENVIRONMENT:
        limit = limit_of(os.environ.get(MAX_HOSTS_VARIABLE))
    try:
        return list(_nodeset(expression, inventory, seen, limit))
    except ShellError as e:
        raise ShellError(one_line(e.message), e.status) from None


def one_line(message: str) -> str:
    """A message that quotes a pattern as the user wrote it (`@"$h"` may hold a newline or
    an escape sequence) shown on one line, control characters escaped."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in message)


def limit_of(variable: str | None) -> int | None:
    """The host limit, given FMSH_MAX_HOSTS's value (None when unset): see settings.max_hosts."""
    from fmsh.runtime.settings import SettingError, max_hosts

    try:
        return max_hosts(variable)
    except SettingError as e:
        raise ShellError(str(e)) from None


def over_limit(what: str, count: int, limit: int) -> ShellError:
    return ShellError(
        f"{what}: {count} hosts is over the limit of {limit} (set -o max-hosts=N or FMSH_MAX_HOSTS=N; 0 for none)"
    )


def fold(names: list[str]) -> str:
    """`web[01-03,05]`: names folded back into a nodeset, for display (names that no
    nodeset can hold, such as `a&b`, are shown as they are)."""
    try:
        return fold_checked(names)
    except ShellError:
        return ",".join(names)


def fold_checked(names: list[str]) -> str:
    """Names folded into a nodeset that reads back as the same names; ShellError naming
    the first one that cannot be in a nodeset (an inventory's host named `a&b`)."""
    from ClusterShell.NodeSet import NodeSet, NodeSetException

    try:
        return str(NodeSet.fromlist(names)) if names else ""
    except (NodeSetException, ValueError, AssertionError, IndexError):
        pass
    for name in names:
        try:
            NodeSet.fromlist([name])
        except (NodeSetException, ValueError, AssertionError, IndexError) as e:
            raise ShellError(one_line(f"host {name}: not a name a host pattern can hold ({e})")) from None
    raise ShellError(one_line(f"{','.join(names)}: not names a host pattern can hold"))


def _nodeset(expression: str, inventory: Inventory, seen: frozenset[str], limit: int | None) -> NodeSet:
    from ClusterShell.NodeSet import NodeSet, NodeSetParseError

    result: NodeSet | None = None
    big: str | None = None  # a first atom over the limit, waiting for an `&` to filter it
    for op, atom in _atoms(expression):
        name = atom[1:] if atom.startswith("@") else atom
        group = inventory.group(name)
        size = None if group is not None else count(atom)
        if limit is not None and size is not None and size > limit:
            # Too many to expand: only a filter can use it (`&` keeps, `!` drops what matches).
            if result is None and big is None and op == ",":
                big = atom
                continue
            if result is not None and op in "&!" and _ranges(atom, strict=True) is not None:
                keep = op == "&"
                result = NodeSet.fromlist([n for n in result if matches(atom, n) == keep])
                continue
            if big is not None:
                atom, size = big, count(big) or 0
            raise over_limit(atom, size, limit)
        try:
            if group is not None:
                if name in seen:
                    raise ShellError(f"group {name} contains itself")
                value = _nodeset(group, inventory, seen | {name}, limit)
            else:
                value = NodeSet(atom)
        except NodeSetParseError as e:
            raise ShellError(f"{expression}: bad host pattern ({e})") from None
        except (ValueError, AssertionError, OverflowError, IndexError) as e:
            # ClusterShell's own checks (`range too large` is an assert): still the pattern's fault.
            raise ShellError(f"{expression}: bad host pattern ({e or type(e).__name__})") from None
        if big is not None:
            if op != "&" or _ranges(big, strict=True) is None:
                raise over_limit(big, count(big) or 0, limit or 0)
            result, big = NodeSet.fromlist([n for n in value if matches(big, n)]), None
        elif result is None:
            result = value
        elif op == ",":
            result.update(value)
        elif op == "!":
            result.difference_update(value)
        elif op == "&":
            result.intersection_update(value)
        else:
            result.symmetric_difference_update(value)
        if limit is not None and len(result) > limit:
            raise over_limit(expression, len(result), limit)
    if big is not None:
        raise over_limit(big, count(big) or 0, limit or 0)
    assert result is not None
    return result


# --- counting and matching a range without expanding it ---------------------------------


def oversized(expression: str, limit: int | None) -> tuple[str, int] | None:
    """The first range of an expression that names more hosts than the limit, and how
    many (groups, `@name`, are not looked into): what to refuse before ClusterShell
    expands the expression itself (a groups file)."""
    if limit is None:
        return None
    depth = 0
    start = 0
    for i, c in enumerate(expression + ","):
        depth += (c == "[") - (c == "]")
        if c in _OPERATORS and depth <= 0:
            atom = expression[start:i].strip()
            start = i + 1
            size = count(atom) if atom and not atom.startswith("@") else None
            if size is not None and size > limit:
                return atom, size
    return None


def _ranges(atom: str, strict: bool) -> list[str | list[tuple[int, int, int, int]]] | None:
    """An atom as literal text and bracket groups, each group its ranges (low, high, step,
    padding width). Not strict: the ranges that read as ranges, the others left out (what
    counting needs: at most that many names); strict: None when one does not read (and
    ClusterShell will say why)."""
    pieces: list[str | list[tuple[int, int, int, int]]] = []
    i = 0
    while i < len(atom):
        open_at = atom.find("[", i)
        if open_at == -1:
            pieces.append(atom[i:])
            break
        close = atom.find("]", open_at)
        if close == -1:
            # ClusterShell builds the ranges before it finds the bracket open: count them.
            return None if strict else pieces + [atom[i:]]
        if open_at > i:
            pieces.append(atom[i:open_at])
        group: list[tuple[int, int, int, int]] = []
        for item in atom[open_at + 1 : close].split(","):
            parsed = _strict_range(item) if strict else _loose_range(item)
            if parsed is None:
                if strict:
                    return None
                continue
            group.append(parsed)
        i = close + 1
        lead = _leading_digits(pieces)
        if (
            lead
            and not "0" <= atom[i : i + 1] <= "9"
            and any((step == 1 and low < high) or low < 0 for low, high, step, _ in group)
        ):
            # ClusterShell moves digits written before a bracket into its ranges, joined:
            # n9[1-100000] is n91..n9100000, nine million names. Counted the same way
            # (over the span, an upper bound); not matched.
            if strict:
                return None
            runs = [item for item in group if item[2] == 1 or item[0] < 0]
            try:
                if any(item[0] < 0 for item in runs):
                    # n9[-5] is n9..n95: the minus joins the digits as a range's dash
                    widest = max(int(lead + str(abs(v))) for item in runs for v in item[:2])
                    span = (-widest, widest, 1, 0)
                else:
                    span = (int(lead + str(min(r[0] for r in runs))), int(lead + str(max(r[1] for r in runs))), 1, 0)
            except ValueError:  # past int()'s 4300 digits
                span = (0, 10**_DIGITS, 1, 0)
            pieces[-1] = str(pieces[-1])[: -len(lead)]
            group = [item for item in group if item not in runs] + [span]
        pieces.append(group)
    return pieces


def _strict_range(item: str) -> tuple[int, int, int, int] | None:
    """`low-high/step` (padded or not) written plainly, as a matcher can trust it."""
    bounds, _, step_text = item.strip().partition("/")
    low_text, dash, high_text = bounds.partition("-")
    high_text = high_text if dash else low_text
    step_text = step_text or "1"
    width = len(low_text) if low_text.startswith("0") and len(low_text) > 1 else 0
    if not all(t.isdigit() and t.isascii() and len(t) <= _DIGITS for t in (low_text, high_text, step_text)):
        return None
    low, high, step = int(low_text), int(high_text), int(step_text)
    if low > high or step == 0 or (width and len(high_text) != width):
        return None
    return low, high, step, width


def _loose_range(item: str) -> tuple[int, int, int, int] | None:
    """A range read the way ClusterShell's RangeSet reads it (signs, blanks, whatever
    int() takes), for counting what it would build; None when it would refuse it first."""
    base, slash, step_text = item.strip().partition("/")
    parts = [part.strip() for part in base.split("-")]
    try:
        step = int(step_text) if slash else 1
        if len(parts) == 1:
            low = high = int(parts[0])
        elif len(parts) == 2:
            low, high = (-int(parts[1]), -int(parts[1])) if not parts[0] else (int(parts[0]), int(parts[1]))
        elif len(parts) == 3:
            low, high = -int(parts[1]), int(parts[2])
        elif len(parts) == 4:
            low, high = -int(parts[1]), -int(parts[3])
        else:
            return None
    except ValueError:  # also a number past int()'s 4300 digits
        return None
    if step < 1 or low > high:
        return None
    return low, high, step, 0


def _leading_digits(pieces: list[str | list[tuple[int, int, int, int]]]) -> str:
    """The digits that end the text just before a bracket ("9" in n9[...])."""
    if not pieces or not isinstance(pieces[-1], str):
        return ""
    text = pieces[-1]
    return text[len(text.rstrip("0123456789")) :]


_DIGITS = 18  # the longest number a matcher takes; a span past int() counts as 10**18


def count(atom: str) -> int | None:
    """How many names an atom (no operator, not a group) has at most, counted, not
    expanded (ranges that do not read are not counted); None when it is not a range."""
    pieces = _ranges(atom, strict=False)
    if pieces is None:
        return None
    total = 1
    for piece in pieces:
        if isinstance(piece, list):
            # A group with no range that reads still lets ClusterShell build the others
            # before it fails: it counts as one, never as nothing.
            total *= max(1, sum((high - low) // step + 1 for low, high, step, _ in piece))
    return total


def matches(atom: str, name: str) -> bool:
    """Whether `name` is one of the names of a well-formed atom (one that count() counts)."""
    pieces = _ranges(atom, strict=True)
    return pieces is not None and _match(pieces, 0, name, 0)


def _match(pieces: list[str | list[tuple[int, int, int, int]]], k: int, name: str, at: int) -> bool:
    if k == len(pieces):
        return at == len(name)
    piece = pieces[k]
    if isinstance(piece, str):
        return name.startswith(piece, at) and _match(pieces, k + 1, name, at + len(piece))
    end = at
    while end < len(name) and "0" <= name[end] <= "9":
        end += 1
    # Every split of the digits run: `n[1-2]0[1-3]` against n103 tries n1|0|3.
    for stop in range(end, at, -1):
        digits = name[at:stop]
        value = int(digits)
        for low, high, step, width in piece:
            if low <= value <= high and (value - low) % step == 0 and digits == str(value).zfill(width):
                if _match(pieces, k + 1, name, stop):
                    return True
    return False


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
