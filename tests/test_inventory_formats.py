"""Inventories in the formats people already have: Ansible INI and YAML, ClusterShell group
files, and several files at once (FMSH_INVENTORY=a.toml:hosts.ini). The samples are in
tests/inventories/: hosts.ini and inventory.yml are the same inventory."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import FMSH_ARGV, run_fmsh, run_remote

from fmsh.remote.inventory import Inventory
from fmsh.remote.inventory_ansible import expand_range, jump_host
from fmsh.remote.inventory_formats import detect
from fmsh.runtime.errors import ShellError

SAMPLES = Path(__file__).parent / "inventories"
NO_SSH = {"FMSH_SSH_CONFIG": "/dev/null", "SSH_AUTH_SOCK": ""}


def _members(inventory: Inventory, group: str) -> set[str]:
    from fmsh.remote.nodeset import node_names

    return set(node_names(group, inventory))


def _hosts(pattern: str, inventory: str, cwd: Path = SAMPLES) -> dict[str, dict[str, object]]:
    """`hosts -j PATTERN` through the real CLI: a row per host, by name."""
    r = run_fmsh("-c", f"hosts -j {pattern}", cwd=cwd, env={"FMSH_INVENTORY": inventory, **NO_SSH})
    assert r.status == 0, r.err
    return {row["name"]: row for row in map(json.loads, r.out.splitlines())}


# --- Ansible ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hosts.ini", "inventory.yml"])
def test_ansible_hosts_settings_and_vars(name: str) -> None:
    inventory = Inventory.load(str(SAMPLES / name))
    assert set(inventory.hosts) == {
        "bastion",
        *(f"web0{i}" for i in range(1, 6)),
        "db-a",
        "db-b",
        "db-c",
        "db1",
        "batch01",
        "batch04",
        "batch07",
        "batch10",
    }
    bastion = inventory.hosts["bastion"]
    assert (bastion.address, bastion.port, bastion.user, bastion.jump) == ("10.0.0.1", None, "admin", None)
    web05 = inventory.hosts["web05"]
    assert (web05.address, web05.port, web05.user) == ("10.0.1.5", 2222, "root")  # [all:vars] user
    assert web05.vars == {"ntp": "ntp1", "env": "prod", "role": "generic", "note": "two words"}
    assert inventory.hosts["web01"].user == "deploy" and inventory.hosts["web01"].address is None
    db1 = inventory.hosts["db1"]  # host:port, a host var over the group's, ProxyJump from ssh args
    assert (db1.port, db1.user, db1.jump) == (5432, "pg", "bastion")
    # a child group's vars win over its parent's, and the mapped variables are not vars
    assert inventory.hosts["db-a"].vars == {"ntp": "ntp1", "env": "prod", "role": "database"}
    assert inventory.hosts["batch04"].vars == {"ntp": "ntp1"}


@pytest.mark.parametrize("name", ["hosts.ini", "inventory.yml"])
def test_ansible_groups_children_all_ungrouped(name: str) -> None:
    inventory = Inventory.load(str(SAMPLES / name))
    webs = {f"web0{i}" for i in range(1, 6)}
    dbs = {"db-a", "db-b", "db-c", "db1"}
    assert _members(inventory, "web") == webs
    assert _members(inventory, "@db") == dbs
    assert _members(inventory, "prod") == webs | dbs  # its children's hosts
    assert _members(inventory, "batch") == {"batch01", "batch04", "batch07", "batch10"}
    assert _members(inventory, "ungrouped") == {"bastion"}
    assert _members(inventory, "all") == set(inventory.hosts)
    assert _members(inventory, "@prod!web02&web") == webs - {"web02"}


def test_ini_and_yaml_are_the_same_inventory() -> None:
    ini = Inventory.load(str(SAMPLES / "hosts.ini"))
    yml = Inventory.load(str(SAMPLES / "inventory.yml"))

    def settings(inventory: Inventory) -> dict[str, tuple[object, ...]]:
        return {n: (e.address, e.port, e.user, e.jump, e.vars) for n, e in inventory.hosts.items()}

    assert settings(ini) == settings(yml)
    assert {g: _members(ini, g) for g in ini.groups} == {g: _members(yml, g) for g in yml.groups}


def test_ansible_ranges() -> None:
    assert expand_range("web[01:03]", "f", 1) == ["web01", "web02", "web03"]
    assert expand_range("db-[a:c].lan", "f", 1) == ["db-a.lan", "db-b.lan", "db-c.lan"]
    assert expand_range("n[1:9:4]", "f", 1) == ["n1", "n5", "n9"]
    assert expand_range("r[1:2]n[a:b]", "f", 1) == ["r1na", "r1nb", "r2na", "r2nb"]
    assert expand_range("n[:2]", "f", 1) == ["n0", "n1", "n2"]
    assert expand_range("plain", "f", 1) == ["plain"]
    with pytest.raises(ShellError, match=r"^inventory f:7: .*same width"):
        expand_range("web[01:100]", "f", 7)


def test_jump_hosts_from_ssh_arguments() -> None:
    assert jump_host("-J bastion") == "bastion"
    assert jump_host("-o ProxyJump=ops@bastion:2222 -o StrictHostKeyChecking=no") == "ops@bastion:2222"
    assert jump_host("-o 'ProxyCommand=ssh -W %h:%p -q -p 2200 ops@bastion'") == "ops@bastion:2200"
    assert jump_host('-o ProxyCommand="ssh -W %h:%p -l ops bastion"') == "ops@bastion"
    assert jump_host("-o ServerAliveInterval=5") is None


# --- ClusterShell ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["groups", "groups.yaml"])
def test_clustershell_groups(name: str) -> None:
    inventory = Inventory.load(str(SAMPLES / name))
    assert _members(inventory, "web") == {f"web0{i}" for i in range(1, 6)}
    assert _members(inventory, "db") == {"db1", "db2"}
    assert _members(inventory, "prod") == {f"web0{i}" for i in range(1, 6)} | {"db1"}
    assert inventory.hosts["db1"].source == f"{SAMPLES / name} @db @prod"
    assert inventory.hosts["web03"].address is None  # a name for ssh -G
    if name == "groups.yaml":
        assert "spare" not in inventory.groups  # no host: left out
        assert _members(inventory, "racks") == {f"ignored{i}" for i in range(1, 10)}  # @other:web
    else:
        assert _members(inventory, "login") == {"login"}  # a host named as its group


# --- which format, several files ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("inventory.toml", "[groups]\n", "toml"),
        ("hosts.ini", "web1\n", "ini"),
        ("inventory.yml", "all:\n  hosts:\n", "yaml"),
        ("groups.yaml", "local:\n  web: web1\n", "yaml"),
        ("hosts", "# comment\n[web]\nweb1 ansible_port=22\n", "ini"),
        ("hosts", "web1 ansible_host=10.0.0.1\n", "ini"),
        ("hosts", "web1:2222\n", "ini"),
        ("inventory", '[hosts.db1]\naddress = "10.0.0.5"\n', "toml"),
        ("inventory", "---\nall:\n", "yaml"),
        ("inventory", "all:\n  children:\n", "yaml"),
        ("groups", "web: web[1-4]\n", "groups"),
        ("local.cfg", "# groups.d\nweb: @a,b\n", "groups"),
        ("hosts.cfg", "[web]\nweb1\n", "ini"),
    ],
)
def test_the_format_is_detected(name: str, text: str, kind: str) -> None:
    assert detect(name, text) == kind


def test_several_files_later_settings_win_groups_add(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text(
        '[defaults]\nuser = "ops"\n\n[hosts.web01]\naddress = "192.168.0.1"\nport = 2200\n'
        'vars = { tier = "front", ntp = "old" }\n\n[groups]\nweb = "web09"\n'
    )
    inventory = Inventory.load(f"{base}:{SAMPLES / 'hosts.ini'}:{tmp_path / 'missing.ini'}")
    web01 = inventory.hosts["web01"]
    assert (web01.address, web01.port, web01.user) == ("192.168.0.1", 2200, "deploy")  # user: hosts.ini's
    assert web01.vars["tier"] == "front" and web01.vars["ntp"] == "ntp1"  # vars key by key
    assert web01.source == f"{SAMPLES / 'hosts.ini'} [web] + {base} [hosts.web01]"
    assert _members(inventory, "web") == {f"web0{i}" for i in range(1, 6)} | {"web09"}
    assert inventory.hosts["batch01"].user == "root"  # [all:vars] over [defaults]
    # [defaults] fill what no file sets; a later file's defaults win
    inventory = Inventory.load(f"{SAMPLES / 'groups'}:{base}")
    assert inventory.hosts["db2"].user == "ops" and inventory.default_entry("x").user == "ops"  # type: ignore[union-attr]


# --- through the CLI ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inventory", "source"),
    [
        ("hosts.ini", "hosts.ini [web]"),
        ("inventory.yml", "inventory.yml all.children.prod.children.web"),
        ("groups.yaml", "groups.yaml @web @prod"),
        ("groups", "groups @web @prod"),
    ],
)
def test_hosts_shows_where_each_host_came_from(inventory: str, source: str) -> None:
    r = run_fmsh("-c", "hosts @web!web02", cwd=SAMPLES, env={"FMSH_INVENTORY": inventory, **NO_SSH})
    assert r.status == 0, r.err
    header, *lines = r.out.splitlines()
    assert header.split() == ["NAME", "USER", "ADDRESS", "PORT", "JUMP", "SOURCE"]
    assert [line.split()[0] for line in lines] == ["web01", "web03", "web04", "web05"]
    assert all(line.endswith(f"{source} + ssh -G") for line in lines), r.out
    rows = _hosts("'prod&db'", inventory)  # `@` inside a pattern is a user's: groups go without
    assert "db1" in rows and "web01" not in rows


def test_hosts_rows_from_an_ansible_inventory() -> None:
    rows = _hosts("@db,bastion,web05", "hosts.ini")
    assert rows["web05"]["address"] == "10.0.1.5" and rows["web05"]["port"] == 2222
    assert rows["db1"]["port"] == 5432 and rows["db1"]["user"] == "pg" and rows["db1"]["jump"] == "bastion"
    assert rows["db-b"]["vars"] == {"ntp": "ntp1", "env": "prod", "role": "database"}
    assert rows["bastion"]["source"] == "hosts.ini [ungrouped] + ssh -G"


def test_several_files_through_the_cli(tmp_path: Path) -> None:
    """Needs fmsh/interp/remote.py to cache the inventory by inventory.stamp (each file)."""
    (tmp_path / "base.toml").write_text('[hosts.web01]\naddress = "192.168.0.1"\n[groups]\nweb = "web09"\n')
    (tmp_path / "hosts.ini").write_text((SAMPLES / "hosts.ini").read_text())
    rows = _hosts("@web", "base.toml:hosts.ini", cwd=tmp_path)
    assert sorted(rows) == ["web01", "web02", "web03", "web04", "web05", "web09"]
    assert rows["web01"]["address"] == "192.168.0.1" and rows["web01"]["user"] == "deploy"
    assert rows["web01"]["source"] == "hosts.ini [web] + base.toml [hosts.web01] + ssh -G"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.ini", "[web\nx\n", "a.ini:1: bad section header"),
        ("b.ini", "[web]\n\nweb[01:1x]\n", "b.ini:3: web[01:1x]: a range is of numbers or of single letters"),
        ("c.ini", "[web]\nw1\n[web:vars]\nansible_port=ssh\n", "c.ini:4: w1: ansible_port must be a number"),
        ("d.ini", "[a:children]\nb\n[b:children]\na\n", "d.ini:4: group a in b makes a loop"),
        ("e.ini", "[web:sub]\n", "e.ini:1: [web:sub]: a section is"),
        ("f.ini", '[web]\nw1 x="open\n', "f.ini:2: No closing quotation"),
        ("g.ini", "[web]\nw1 port\n", "g.ini:2: w1: expected key=value, got `port'"),
        ("h.yml", "all:\n  hosts:\n    a: [\n", "h.yml:4: bad YAML"),
        ("i.yml", "all:\n  hosts:\n    - a\n", "i.yml:3: all.hosts must be a map"),
        ("j.yml", "all:\n  childs:\n", "j.yml:2: all: unknown key childs"),
        ("k.yml", "all:\n  hosts:\n    a:\n      ansible_port: 70000\n", "k.yml:4: a: ansible_port must be"),
        ("groups", "a: b\nb: @c\nc: @b\n", "groups:2: group b contains itself"),
        ("groups.d", "# x\nweb: web[1-\n", "groups.d:2: group web: bad nodeset"),
        ("l.yaml", "local:\n  a: [1]\n", "l.yaml:2: a group is a nodeset"),
        ("m.toml", "[hosts.x]\nport = 'ssh'\n", "m.toml [hosts.x]: port must be a number"),
    ],
)
def test_bad_files_are_positioned(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    r = run_fmsh("-c", "hosts @a", cwd=tmp_path, env={"FMSH_INVENTORY": name, **NO_SSH})  # no traceback
    assert r.status == 1
    assert r.err.startswith(f"fmsh: hosts: inventory {message}"), r.err


def test_yaml_is_not_imported_at_start_up(tmp_path: Path) -> None:
    """PyYAML is imported when a YAML inventory is read, never by fmsh starting (nor by an
    inventory of another format)."""
    (tmp_path / "hosts.ini").write_text("[web]\nweb1\n")
    for script, inventory in (("echo hi", "none.yml"), ("hosts @web >/dev/null", "hosts.ini")):
        proc = subprocess.run(
            [*FMSH_ARGV, "-c", script],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "FMSH_INVENTORY": inventory, **NO_SSH},
        )
        assert proc.returncode == 0, proc.stderr
        imported = [line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "import time:" in line]
        assert "fmsh.remote.inventory" in imported or script == "echo hi"
        assert not [m for m in imported if m.split(".")[0] in ("yaml", "_yaml")], script


# --- on the lab's sshd -------------------------------------------------------------------


def test_an_ansible_inventory_reaches_the_lab(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two lab hosts by aliases of an Ansible INI (ansible_host, ansible_port): a group of
    them runs a command on both, each reached at its own port."""
    lines = ["[pair]"]
    for alias, host in (("alpha", "host03"), ("beta", "host11")):
        address, port = ssh_lab.addresses[host]
        lines.append(f"{alias} ansible_host={address} ansible_port={port} ansible_user={ssh_lab.user}")
    (tmp_path / "hosts.ini").write_text("\n".join(lines) + "\n")
    env = {"FMSH_INVENTORY": str(tmp_path / "hosts.ini"), "FMSH_OUTPUT": "prefix"}
    r = run_remote(ssh_lab, "@pair sh -c 'echo $(uname -n) ${SSH_CONNECTION##* }'", env=env)
    assert r.status == 0, r.err
    got = {line.split(":", 1)[0]: line.split()[-1] for line in r.out.splitlines()}
    assert got == {"alpha": str(ssh_lab.addresses["host03"][1]), "beta": str(ssh_lab.addresses["host11"][1])}, r.out
    r = run_remote(ssh_lab, "@pair!beta true; echo ${!HOST_STATUS[@]}", env=env)
    assert r.out.split() == ["alpha"], r.err
