"""The inventory (groups, per-host settings, jump hosts), user@host:port, and `hosts`."""

from __future__ import annotations

import json

from conftest import run_remote


def _inventory(tmp_path, text: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """An inventory file of the test's own; the environment that points fmsh at it."""
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    return {"FMSH_INVENTORY": str(path)}


def test_groups_by_name_and_in_expressions(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = _inventory(
        tmp_path,
        '[groups]\nweb = "host[01-04]"\ndb = ["host05", "host06"]\nprod = "web,db"\n',
    )
    r = run_remote(ssh_lab, "@web true; echo ${!HOST_STATUS[@]}", env=env)
    assert sorted(r.out.split()) == ["host01", "host02", "host03", "host04"]
    r = run_remote(ssh_lab, "@prod!host02 true; echo ${!HOST_STATUS[@]}", env=env)
    assert sorted(r.out.split()) == ["host01", "host03", "host04", "host05", "host06"]
    r = run_remote(ssh_lab, "@db,host10 true; echo ${!HOST_STATUS[@]}", env=env)
    assert sorted(r.out.split()) == ["host05", "host06", "host10"]


def test_host_settings_from_the_inventory(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An inventory name with an address and port of its own reaches that host."""
    address, port = ssh_lab.addresses["host07"]
    env = _inventory(tmp_path, f'[hosts.app]\naddress = "{address}"\nport = {port}\nvars = {{ role = "api" }}\n')
    r = run_remote(ssh_lab, "@app sh -c 'echo ${SSH_CONNECTION##* }'", env=env)
    assert r.out == f"{port}\n", r.err


def test_user_and_port_in_the_pattern(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    address, port = ssh_lab.addresses["host03"]
    r = run_remote(ssh_lab, f"@{ssh_lab.user}@{address}:{port} sh -c 'echo $USER ${{SSH_CONNECTION##* }}'")
    assert r.out == f"{ssh_lab.user} {port}\n", r.err


def test_hosts_shows_what_a_pattern_resolves_to(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    address, port = ssh_lab.addresses["host07"]
    env = _inventory(tmp_path, f'[hosts.app]\naddress = "{address}"\nport = {port}\njump = "host01"\n')
    r = run_remote(ssh_lab, "hosts -j app host02", env=env)
    rows = {row["name"]: row for row in map(json.loads, r.out.splitlines())}
    assert rows["app"]["address"] == address and rows["app"]["port"] == port
    assert rows["app"]["jump"] == "host01"
    assert "inventory.toml" in rows["app"]["source"]
    assert rows["host02"]["address"], rows["host02"]["port"] == ssh_lab.addresses["host02"]
    assert rows["host02"]["source"] == "ssh -G"
    r = run_remote(ssh_lab, "hosts app", env=env)
    header, line = r.out.splitlines()
    assert header.split() == ["NAME", "USER", "ADDRESS", "PORT", "JUMP", "SOURCE"]
    assert line.split()[:5] == ["app", ssh_lab.user, address, str(port), "host01"]


def test_jump_host(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Through a jump host, the TCP connection to the target belongs to the jump host's
    sshd (a direct-tcpip channel), not to fmsh: checked on the target with ss."""
    address, port = ssh_lab.addresses["host09"]
    env = _inventory(tmp_path, f'[hosts.far]\naddress = "{address}"\nport = {port}\njump = "host01"\n')
    script = "@far { p=$(echo $SSH_CONNECTION | cut -d' ' -f2); ss -tnpH \"sport = :$p\"; }"
    r = run_remote(ssh_lab, script, env=env)
    assert r.status == 0, r.err
    assert "sshd" in r.out and "python" not in r.out, r.out


def test_bad_inventory_is_reported(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = _inventory(tmp_path, "[hosts.x]\nport = 'ssh'\n")
    r = run_remote(ssh_lab, "@x true; echo status=$?", env=env)
    assert "port must be a number" in r.err
    assert r.status != 0


def test_no_inventory_file_is_an_empty_inventory(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "@host[01-02] true; echo $?", env={"FMSH_INVENTORY": str(tmp_path / "none.toml")})
    assert r.out == "0\n"


def test_command_line_options_name_the_files(ssh_lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from conftest import run_fmsh

    inventory = tmp_path / "inv.toml"
    inventory.write_text('[groups]\npair = "host[01-02]"\n')
    env = {"FMSH_SSH_CONFIG": "", "FMSH_INVENTORY": "", "SSH_AUTH_SOCK": ""}
    r = run_fmsh(
        "--ssh-config",
        str(ssh_lab.ssh_config),
        f"--inventory={inventory}",
        "-c",
        "@pair true; echo ${!HOST_STATUS[@]}",
        env=env,
    )
    assert sorted(r.out.split()) == ["host01", "host02"], r.err
