"""Fuzzing host patterns (fmsh/remote/nodeset.py): ClusterShell ranges, fmsh's operators
`, ! & ^`, inventory groups (one of which contains itself), `user@` and `:port`.

Properties: the hosts, or ShellError; never more hosts than the limit, never a hang. The
counting and matching that let fmsh refuse or filter a range without expanding it agree
with ClusterShell's own expansion of it.
"""

from __future__ import annotations

from fuzzing import count, within
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import nodeset_texts

from fmsh.remote import nodeset
from fmsh.remote.inventory import Inventory
from fmsh.runtime.errors import ShellError

LIMIT = 1000


def inventory() -> Inventory:
    inv = Inventory(None)
    inv.groups = {
        "web": "web[01-20]",
        "db": "db[1-3]",
        "all": "@web,@db",
        "grp": "web[1-5]!web3",
        "loop": "x,@loop2",
        "loop2": "@loop",
        "big": "n[1-100000]",
    }
    return inv


INVENTORY = inventory()


@given(nodeset_texts())
@example("web[1-10000000]")
@example("web[1-100000]&web[1-5]")
@example("web[1-5]!web[1-100000]")
@example("@big&web[1-3]")
@example("@loop")
@example("web[1-3]&web[" + "9" * 30 + "-" + "9" * 31 + "]")
@example("web[1-" + "9" * 5000 + "]")
@example("u@web[1-3]:22")
@example("web[01-100]")
@example("[1-10000000]web[]")  # a group that does not read still lets the others be built
@example("n9[1-100000]")  # ClusterShell reads n91..n9100000
@example("1[1-10000000][")
@example("n9[-100000]")
@example("webwebweb[1-1000001-10000000]")  # ClusterShell reads -1000001..10000000
@example("web[1_0000000]&web1")  # and 1_0000000 as int() does
def test_pattern_gives_hosts_or_shell_error(pattern: str) -> None:
    count("nodeset")
    with within(5):
        try:
            refs = nodeset.expand(pattern, INVENTORY, LIMIT)
        except ShellError as e:
            assert e.message and "\n" not in e.message
            return
    assert len(refs) <= LIMIT
    assert len({r.name for r in refs}) == len(refs)


@st.composite
def ranges(draw: st.DrawFn) -> str:
    """A well-formed ClusterShell atom: text and bracket groups of ranges, padded or not."""
    out = draw(st.sampled_from(["n", "web", "db-", "r"]))
    for _ in range(draw(st.integers(1, 2))):
        items = []
        for _ in range(draw(st.integers(1, 3))):
            low = draw(st.integers(0, 120))
            high = low + draw(st.integers(0, 40))
            width = draw(st.sampled_from([0, 0, len(str(high)) + 1]))
            step = draw(st.sampled_from(["", "", "/2", "/3"]))
            lo, hi = (str(low).zfill(width), str(high).zfill(width)) if width else (str(low), str(high))
            items.append(f"{lo}-{hi}{step}" if high > low else lo)
        out += "[" + ",".join(items) + "]" + draw(st.sampled_from(["", "-x", "s", "0"]))
    return out


@given(ranges(), st.lists(st.text("nwebdr-0123456789sx", min_size=1, max_size=8), max_size=5))
def test_counting_and_matching_agree_with_clustershell(atom: str, others: list[str]) -> None:
    from ClusterShell.NodeSet import NodeSet, NodeSetParseError

    count("nodeset")
    try:
        names = set(NodeSet(atom))
    except NodeSetParseError:
        return
    size = nodeset.count(atom)
    assert size is not None and size >= len(names)
    for name in names:
        assert nodeset.matches(atom, name), f"{name} is in {atom}"
    for name in others:
        assert nodeset.matches(atom, name) == (name in names), f"{name} in {atom}: {name in names}"


@given(ranges(), ranges())
def test_filtering_by_a_big_range_is_the_intersection(small: str, big: str) -> None:
    """`small&big` and `small!big` with `big` over the limit (matched, not expanded) give
    what ClusterShell gives when it expands both."""
    from ClusterShell.NodeSet import NodeSet, NodeSetParseError

    count("nodeset")
    try:
        small_names, big_names = NodeSet(small), NodeSet(big)
    except NodeSetParseError:
        return
    limit = max(1, min(len(big_names) - 1, LIMIT))
    if (nodeset.count(small) or 0) > limit or len(big_names) <= limit:
        return  # (ranges are counted as written: `[1-3,2-4]` counts 6)
    both = nodeset.node_names(f"{small}&{big}", INVENTORY, limit=limit)
    assert set(both) == set(small_names & big_names)
    rest = nodeset.node_names(f"{small}!{big}", INVENTORY, limit=limit)
    assert set(rest) == set(small_names) - set(big_names)
