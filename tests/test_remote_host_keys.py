"""Host keys, checked against known_hosts as OpenSSH does: changed keys always refused
(both fingerprints shown), unknown keys refused unless accept-new, revoked keys refused;
hashed names, wildcard patterns and marker lines all understood."""

from __future__ import annotations

import subprocess

from conftest import run_remote
from sshd import keygen


def _fingerprint(public_line: str) -> str:
    proc = subprocess.run(["ssh-keygen", "-lf", "-"], input=public_line, capture_output=True, text=True, check=True)
    return proc.stdout.split()[1]


def _known_line(lab, name: str) -> str:  # type: ignore[no-untyped-def]
    address, port = lab.addresses[name]
    return f"[{address}]:{port} {lab.server_of(name).public}"


def test_changed_host_key_is_refused_with_both_fingerprints(private_lab) -> None:  # type: ignore[no-untyped-def]
    server = private_lab.server_of("host01")
    old = server.public
    server.stop()
    server.key.unlink()
    server.key.with_name(server.key.name + ".pub").unlink()
    server.public = keygen(server.key)
    server.start()
    r = run_remote(private_lab, "@host01 echo should-not-run; echo status=$?")
    assert r.out == "status=255\n"
    assert "host-key" in r.err and "HOST KEY CHANGED" in r.err
    assert _fingerprint(server.public) in r.err and _fingerprint(old) in r.err
    # The other hosts are not affected.
    r = run_remote(private_lab, "@host02 echo fine")
    assert r.out == "fine\n"


def test_unknown_host_is_refused_by_default(private_lab) -> None:  # type: ignore[no-untyped-def]
    private_lab.known_hosts.write_text(_known_line(private_lab, "host02") + "\n")
    r = run_remote(private_lab, "@host01 echo should-not-run; echo status=$?")
    assert r.out == "status=255\n"
    assert "unknown host key" in r.err and "host-key" in r.err


def test_accept_new_records_the_key(private_lab) -> None:  # type: ignore[no-untyped-def]
    private_lab.known_hosts.write_text("")
    r = run_remote(private_lab, "FMSH_HOST_KEYS=accept-new @host01 echo ok")
    assert r.out == "ok\n", r.err
    recorded = private_lab.known_hosts.read_text()
    assert private_lab.server_of("host01").public.split()[1] in recorded
    r = run_remote(private_lab, "@host01 echo again")  # now known: the default policy accepts it
    assert r.out == "again\n"


def test_accept_new_never_accepts_a_changed_key(private_lab) -> None:  # type: ignore[no-untyped-def]
    address, port = private_lab.addresses["host01"]
    other = keygen(private_lab.root / "other_key")
    private_lab.known_hosts.write_text(f"[{address}]:{port} {other}\n")
    r = run_remote(private_lab, "FMSH_HOST_KEYS=accept-new @host01 echo should-not-run")
    assert r.out == "" and "HOST KEY CHANGED" in r.err


def test_hashed_names(private_lab) -> None:  # type: ignore[no-untyped-def]
    subprocess.run(["ssh-keygen", "-H", "-f", str(private_lab.known_hosts)], check=True, capture_output=True)
    assert "|1|" in private_lab.known_hosts.read_text()
    r = run_remote(private_lab, "@host01 echo hashed")
    assert r.out == "hashed\n", r.err


def test_wildcard_pattern_and_marker_lines(private_lab) -> None:  # type: ignore[no-untyped-def]
    """A `*` pattern matches; @cert-authority and @revoked lines for other keys, a comment
    and a damaged line do not stop the file from loading."""
    address, port = private_lab.addresses["host01"]
    other = keygen(private_lab.root / "ca_key")
    public = private_lab.server_of("host01").public
    private_lab.known_hosts.write_text(
        "# comment\n"
        f"@cert-authority *.example.com {other}\n"
        f"@revoked * {other}\n"
        "garbage line\n"
        f"[{address.rsplit('.', 1)[0]}.*]:* {public}\n"
    )
    r = run_remote(private_lab, "@host01 echo wildcard")
    assert r.out == "wildcard\n", r.err


def test_revoked_key_is_refused(private_lab) -> None:  # type: ignore[no-untyped-def]
    public = private_lab.server_of("host01").public
    private_lab.known_hosts.write_text(_known_line(private_lab, "host01") + f"\n@revoked * {public}\n")
    r = run_remote(private_lab, "@host01 echo should-not-run; echo status=$?")
    assert r.out == "status=255\n" and "revoked" in r.err


def test_known_hosts_lookup_by_name_pattern_and_hash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The lookup a fan-out does per host (lines found by name, patterns and hashed names
    tried): the same keys, in file order, as a line-by-line match; accept-new's key found."""
    import base64
    import hashlib
    import hmac

    from fmsh.remote import known_hosts as kh

    def key(n: int) -> str:
        return "ssh-ed25519 " + base64.b64encode(bytes([n]) * 51).decode()

    salt = b"s" * 20
    hashed = "|1|%s|%s" % (
        base64.b64encode(salt).decode(),
        base64.b64encode(hmac.new(salt, b"[10.0.0.9]:2222", hashlib.sha1).digest()).decode(),
    )
    path = tmp_path / "known_hosts"
    path.write_text(
        f"web1,Web2,[10.0.0.9]:2222 {key(1)}\n"  # 1: a list of names (any case)
        f"web* {key(2)}\n"  # 2: a pattern
        f"db?,!db9 {key(3)}\n"  # 3: a pattern and a negation
        f"{hashed} {key(4)}\n"  # 4: a hashed name
        f"@revoked web1 {key(5)}\n"  # not a key on record: revoked
        f"@cert-authority * {key(6)}\n"
        f"WEB1 {key(7)}\n"  # 7: the same name again, after the others
    )
    known = kh.KnownHosts([str(path)])
    lines = {name: [k.line for k in known.recorded(name)] for name in ("web1", "web2", "web3", "db1", "db9",
                                                                        "[10.0.0.9]:2222", "other")}  # fmt: skip
    assert lines == {"web1": [1, 2, 7], "web2": [1, 2], "web3": [2], "db1": [3], "db9": [],
                     "[10.0.0.9]:2222": [1, 4], "other": []}  # fmt: skip
    for name, found in lines.items():  # as a line-by-line match finds them
        assert found == [k.line for k in known.keys if not k.marker and k.matches(name)], name
    blob = base64.b64decode(key(7).split()[1])
    assert known.check("web1", "ssh-ed25519", blob) == (kh.OK, [])
    assert known.check("web3", "ssh-ed25519", blob)[0] == kh.CHANGED
    assert known.check("web1", "ssh-ed25519", base64.b64decode(key(5).split()[1]))[0] == kh.REVOKED
    assert known.check("other", "ssh-ed25519", blob) == (kh.UNKNOWN, [])
    known.add(str(path), "other", "ssh-ed25519", blob, hashed=True)  # accept-new
    assert known.check("other", "ssh-ed25519", blob) == (kh.OK, [])
    assert kh.KnownHosts([str(path)]).check("other", "ssh-ed25519", blob) == (kh.OK, [])
