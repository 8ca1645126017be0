"""Fuzzing the inventory readers (fmsh/remote/inventory*.py): fmsh's TOML hosts file,
Ansible's INI and YAML inventories, ClusterShell's groups files (`name: nodeset` and
groups.d YAML), and the detection of which a file is.

Property: an Inventory, or ShellError with a one-line message that names the file (and,
when it names a line, a line of the file); never another exception, never a hang, never
more hosts than the limit. Inputs are lines of each format, mutated and mixed with noise,
including hostile ones: ranges of millions of hosts, groups that contain themselves,
YAML aliases that multiply (a billion laughs), deep nesting.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fuzzing import count, within
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import fragments, mutated, noise

from fmsh.remote.inventory import Inventory
from fmsh.remote.inventory_clustershell import read_groups
from fmsh.remote.inventory_formats import detect, read
from fmsh.remote.inventory_ini import read_ini
from fmsh.remote.inventory_yaml import read_yaml
from fmsh.runtime.errors import ShellError

PATH = "/etc/fuzz/inventory"
LIMIT = 10_000

TOML_LINES = (
    "[defaults]", "[hosts.db1]", '[hosts."web[01-20]"]', '[hosts."web[1-10000000]"]', '[hosts."x[1-3]&x2"]',
    'address = "10.0.0.5"', "port = 2222", 'port = "x"', "port = 0", "port = 99999", 'user = "deploy"',
    'jump = "bastion"', "user = 1", 'vars = { role = "primary" }', "vars = 3", "[groups]",
    'web = "web[01-20]"', 'db = ["db1", "db2"]', "db = [1, 2]", 'prod = "web,db"', 'loop = "@loop"',
    'bad = "web["', "[other]", "x = 1", "[hosts]", "hosts = 1", '"a.b" = 1', "[[hosts]]", "= 1",
)  # fmt: skip
INI_LINES = (
    "web00 ansible_host=10.0.0.9", "[web]", "web[01:20] ansible_user=deploy", "web[1:10000000]",
    "web21 ansible_host=10.0.0.21 ansible_port=2222", "[web:vars]", "role=web", "[prod:children]", "web",
    "[all:vars]", "ansible_ssh_common_args='-J bastion'", "db-[a:f]", "web[01:20:2]", "host:2222",
    "[loop:children]", "loop", 'x="unterminated', "[bad", "[a:b:c]", "[a:other]", "ansible_port=99999",
    "ansible_port=abc", "web[1:3][1:3]", "web[3:1]", "web[a:9]", "web[1:2:0]", "web[01:100]", "web[:]",
    "ansible_ssh_extra_args='-o ProxyCommand=\"ssh -W %h:%p -l u -p 22 jump\"'", "v=[1, {'a': 2}]",
    "v=" + "[" * 200 + "]" * 200, "# comment", "; comment", "", "a b=c d", "=x", "k=",
)  # fmt: skip
GROUP_LINES = (
    "web: web[01-20]", "db: db[1-2]", "prod: @web,@db!db2", "loop: @loop", "a: @b", "b: @a",
    "big: n[1-10000000]", "bad line", "x: [", "e:", "n: n9[1-100000]", "y: @nosuch", "# c", ": x",
    "z: web[1-5]&web[3-100000]", "dup: a", "dup: b",
)  # fmt: skip
YAML_PIECES = (
    "all:", "  hosts:", "    web1:", "    web[01:04]:", "    web[1:10000000]:", "      ansible_port: 22",
    "  vars:", "    ntp: ntp1", "  children:", "    web:", "      hosts: {db1: null}", "local:",
    '  web: "web[01-05]"', '  prod: "@web,@db!db2"', "  loop: '@loop'", "  big: 'n[1-10000000]'",
    "---", "...", "- a", "? x", ": y", "&a [x, x]", "*a", "<<: *a", "!!python/object:os.system", "{", "}",
    "[", "]", "'", '"', "|", ">", "%YAML 1.1", "\t", "  ", "hosts: 3", "vars: [1]", "unknown: 1",
)  # fmt: skip
# Nine lines of aliases that name 10**9 x's (`all.vars.i`, and a host named by it).
BILLION_LAUGHS = "all:\n  vars:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"    {chr(98 + k)}: &{chr(98 + k)} [{', '.join(['*' + chr(97 + k)] * 10)}]\n" for k in range(8)
)


def lines(vocabulary: tuple[str, ...]) -> st.SearchStrategy[str]:
    line = st.one_of(st.sampled_from(vocabulary), st.sampled_from(vocabulary), fragments(vocabulary), noise())
    return st.one_of(st.lists(line, max_size=14).map("\n".join), mutated(st.lists(line, max_size=10).map("\n".join)))


def check(error: ShellError, text: str) -> None:
    """A one-line message that names the file, and a line of it when it names one."""
    message = error.message
    assert message.startswith(f"inventory {PATH}"), message
    assert "Traceback" not in message
    found = re.match(rf"inventory {re.escape(PATH)}:(\d+):", message)
    if found:
        # (the end of a text that ends with a newline is on the line after it, as YAML says)
        assert 1 <= int(found.group(1)) <= text.count("\n") + 1, message


def outcome(reader, text: str) -> None:  # type: ignore[no-untyped-def]
    with within(10):
        try:
            inventory: Inventory = reader(PATH, text)
        except ShellError as e:
            check(e, text)
            return
    assert len(inventory.hosts) <= LIMIT


@pytest.fixture(autouse=True)
def limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FMSH_MAX_HOSTS", str(LIMIT))


@given(lines(TOML_LINES))
@example('[hosts."web[1-10000000]"]\nport = 22')
@example('[groups]\nloop = "@loop"\n[hosts."@loop"]')
def test_toml(text: str) -> None:
    count("inventory")
    outcome(Inventory.from_toml, text)


@given(lines(INI_LINES))
@example("[web]\nweb[1:10000000]")
@example("[web]\nweb[1:100000][1:100000]")
@example("[a:children]\nb\n[b:children]\na")
def test_ansible_ini(text: str) -> None:
    count("inventory")
    outcome(read_ini, text)


@given(lines(YAML_PIECES))
@example(BILLION_LAUGHS)
@example(BILLION_LAUGHS + "  hosts:\n    *i :\n")
@example("all:\n  hosts:\n    web[1:10000000]:\n")
@example("local:\n  big: n[1-10000000]\n")
@example("[" * 5000 + "]" * 5000)
@example("  hosts:\n\u2028\nall:")  # YAML breaks lines at U+2028 and \r; the error names the editor's line
@example("{\n\r")
@example("a: " + "{a: " * 2000 + "}" * 2000)
def test_yaml(text: str) -> None:
    count("inventory")
    outcome(read_yaml, text)


@given(lines(GROUP_LINES))
@example("big: n[1-10000000]")
@example("a: @b\nb: @a")
@example("n: n9[1-100000]")
@example("n: n9[-100000]")  # ClusterShell reads n9..n9100000
def test_clustershell_groups(text: str) -> None:
    count("inventory")
    outcome(read_groups, text)


@given(
    st.one_of(lines(TOML_LINES + INI_LINES), lines(YAML_PIECES + GROUP_LINES)), st.sampled_from(["", ".ini", ".yml"])
)
def test_any_file(tmp_path_factory: pytest.TempPathFactory, text: str, extension: str) -> None:
    """A file of any format, as FMSH_INVENTORY names it: detected, then read."""
    count("inventory")
    assert detect("hosts" + extension, text) in ("toml", "ini", "yaml", "groups")
    path: Path = tmp_path_factory.getbasetemp() / f"inventory{extension}"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with within(10):
        try:
            read(str(path))
        except ShellError as e:
            assert e.message.startswith(f"inventory {path}") and "\n" not in e.message.strip(), e.message
