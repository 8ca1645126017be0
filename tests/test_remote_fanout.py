"""Fan-out against 24 real sshd hosts: nodeset operators, output modes, per-host statuses
and failure classes, the `$?` rule, connection reuse."""

from __future__ import annotations

import json

import pytest
from conftest import run_remote


def test_fanout_to_24_hosts(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "@host[01-24] echo up; echo status=$?")
    assert r.status == 0, r.err
    lines = r.out.splitlines()
    assert lines[-1] == "status=0"
    assert lines[:-1] == ["up"] * 24  # piped: whole lines, no prefixes


def test_prefix_names_each_line(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "FMSH_OUTPUT=prefix @host[01-03] echo hi")
    assert sorted(r.out.splitlines()) == ["host01: hi", "host02: hi", "host03: hi"]


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("host[01-05]", ["host01", "host02", "host03", "host04", "host05"]),
        ("host[01-05]!host03", ["host01", "host02", "host04", "host05"]),
        ("host[01-05]&host[04-09]", ["host04", "host05"]),
        ("host01,host[07-08]", ["host01", "host07", "host08"]),
        ("host[01-04]^host[03-06]", ["host01", "host02", "host05", "host06"]),
        ("host[01-10]!host[02-09]", ["host01", "host10"]),
    ],
)
def test_nodeset_operators(ssh_lab, pattern: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The hosts that ran, as HOST_STATUS lists them after the stage."""
    r = run_remote(ssh_lab, f"@{pattern} true; echo ${{!HOST_STATUS[@]}}")
    assert sorted(r.out.split()) == expected


def test_gather_folds_identical_outputs(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    script = 'FMSH_OUTPUT=gather @host[01-06] { if [ "$(hostname)" ] && [ -n "$SSH_CONNECTION" ]; then echo same; fi; }'
    r = run_remote(ssh_lab, script)
    assert r.out == "---------------\nhost[01-06] (6)\n---------------\nsame\n"


def test_gather_keeps_different_outputs_apart(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    # The port differs per host: each output is its own block.
    r = run_remote(ssh_lab, "FMSH_OUTPUT=gather @host[01-03] sh -c 'echo ${SSH_CONNECTION##* }'")
    blocks = r.out.split("---------------\n")
    headers = [b.strip() for b in blocks if b.strip().startswith("host")]
    assert headers == ["host01 (1)", "host02 (1)", "host03 (1)"]


def test_json_lines(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "FMSH_OUTPUT=json @host[01-02] sh -c 'echo out; echo err >&2; exit 3'")
    records = [json.loads(line) for line in r.out.splitlines()]
    for host in ("host01", "host02"):
        mine = [rec for rec in records if rec["host"] == host]
        assert {"host": host, "stream": "stdout", "line": "out"} in mine
        assert {"host": host, "stream": "stderr", "line": "err"} in mine
        end = [rec for rec in mine if "status" in rec]
        assert end and end[0]["status"] == 3 and end[0]["class"] == "exit"


def test_status_rule_and_per_host_statuses(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    script = (
        "@host[01-04] sh -c 'case $SSH_CONNECTION in *) exit $(( ${SSH_CONNECTION##* } % 2 ));; esac' 2>/dev/null\n"
        "echo status=$?\n"
        'for h in "${!HOST_STATUS[@]}"; do echo "$h ${HOST_STATUS[$h]} ${HOST_FAILURE[$h]:-ok}"; done | sort'
    )
    r = run_remote(ssh_lab, script)
    lines = r.out.splitlines()
    ports = {name: port for name, (_, port) in ssh_lab.addresses.items()}
    odd = [h for h in ("host01", "host02", "host03", "host04") if ports[h] % 2]
    assert lines[0] == ("status=1" if odd else "status=0")
    for line in lines[1:]:
        host, status, kind = line.split()
        assert status == str(ports[host] % 2)
        assert kind == ("exit" if ports[host] % 2 else "ok")


def test_failed_hosts_are_summarised(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "@host[01-03],nohost.invalid true; echo status=$?", env={"FMSH_CONNECT_TIMEOUT": "3"})
    assert r.out == "status=255\n"
    assert "nohost.invalid: resolve" in r.err
    assert "1 of 4 hosts failed: nohost.invalid resolve (1)" in r.err


def test_stdin_is_sent_to_every_host(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    r = run_remote(ssh_lab, "printf 'a\\nb\\n' | @host[01-05] wc -l")
    assert r.out.split() == ["2"] * 5


def test_width_limits_concurrency(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    """With FMSH_FANOUT=2, never more than two hosts run at once (counted on the remote side)."""
    marker = ssh_lab.root / "running"
    body = f"echo x >> {marker}.$$; n=$(ls {marker}.* | wc -l); echo $n; sleep 0.3; rm {marker}.$$"
    script = f"FMSH_FANOUT=2 @host[01-06] {{ {body}; }}"
    r = run_remote(ssh_lab, script)
    assert r.status == 0, r.err
    assert max(int(x) for x in r.out.split()) <= 2


def test_connections_are_reused_across_command_lines(ssh_lab) -> None:  # type: ignore[no-untyped-def]
    """The second fan-out in one shell opens no new connection: sshd sees the same client
    ports (SSH_CONNECTION) both times."""
    ports = "@host[01-08] sh -c 'echo ${SSH_CONNECTION% * *}' | sort"
    script = f'a=$({ports}); b=$({ports}); [ "$a" = "$b" ] && echo reused'
    r = run_remote(ssh_lab, script)
    assert r.out == "reused\n", r.err
