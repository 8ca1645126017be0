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


def _fake_ssh(tmp_path):  # type: ignore[no-untyped-def]
    """An ssh config (`Host web*`, `Host db*`) and an `ssh` that answers `-G` for it slowly
    (0.2 s), logging the names it was asked about."""
    config = tmp_path / "ssh_config"
    config.write_text("Host web*\n  User deploy\n  Port 2222\nHost db*\n  User pg\n")
    log = tmp_path / "asked"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(
        "#!/bin/sh\n"
        f'for a; do name="$a"; done; echo "$name" >> {log}; sleep 0.2\n'
        'case "$name" in web*) user=deploy port=2222;; *) user=pg port=22;; esac\n'
        'printf "hostname %s\\nuser %s\\nport %s\\n" "$name" "$user" "$port"\n'
    )
    ssh.chmod(0o755)
    return config, ssh, log


def test_hosts_of_one_shape_cost_one_ssh_G_even_resolved_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """16 threads resolve 200 hosts under one `Host` line: one `ssh -G` in all (the others
    wait for its answer), each host with its own name; another shape asks again."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from fmsh.remote.sshconfig import SSHConfigReader

    config, ssh, log = _fake_ssh(tmp_path)
    reader = SSHConfigReader(str(config))
    reader._ssh = str(ssh)
    names = [f"web{i:03d}" for i in range(200)] + ["db1", "db2"]
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        configs = list(pool.map(reader.resolve, names))
    assert [(c.name, c.hostname, c.user, c.port) for c in configs[:2]] == [
        ("web000", "web000", "deploy", 2222),
        ("web001", "web001", "deploy", 2222),
    ]
    assert [(c.hostname, c.user, c.port) for c in configs[-2:]] == [("db1", "pg", 22), ("db2", "pg", 22)]
    asked = log.read_text().split()
    assert len(asked) == 2 and sorted(name[:2] for name in asked) == ["db", "we"], asked
    assert time.monotonic() - started < 3  # 0.2 s a shape, not a queue of them
    assert not reader._asking


def test_a_pattern_of_many_hosts_costs_one_ssh_G(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """As a fan-out resolves its hosts (16 threads): 40 hosts of one shape, one `ssh -G`,
    though making the reader takes a while (reading the config files)."""
    import os
    import time

    from fmsh.interp.shell import Shell
    from fmsh.remote import sshconfig

    config, ssh, log = _fake_ssh(tmp_path)
    monkeypatch.setenv("PATH", f"{ssh.parent}{os.pathsep}{os.environ['PATH']}")  # where the reader finds ssh
    environ = dict(os.environ) | {"FMSH_SSH_CONFIG": str(config)} | _inventory(tmp_path, "")
    made = sshconfig.SSHConfigReader.__init__

    def slowly(self, config_file=None) -> None:  # type: ignore[no-untyped-def]
        time.sleep(0.05)
        made(self, config_file)

    monkeypatch.setattr(sshconfig.SSHConfigReader, "__init__", slowly)
    targets = Shell("fmsh", [], environ=environ).remote.targets("web[01-40]")
    assert [(t.name, t.config.user, t.config.port) for t in targets[::39]] == [  # type: ignore[union-attr]
        ("web01", "deploy", 2222),
        ("web40", "deploy", 2222),
    ]
    assert len(log.read_text().split()) == 1, log.read_text()
