"""Host key checking against OpenSSH's known_hosts files, done here rather than by
paramiko: paramiko's loader never matches wildcard lines and fails on a whole file for one
`@revoked` or `@cert-authority` line.

Handled: plain and hashed (`|1|salt|hash`) names, `[host]:port`, `*` and `?` patterns,
`!` negations, comma lists, `@revoked` keys; `@cert-authority` lines are read and skipped
(fmsh does not check host certificates).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

OK = "ok"
UNKNOWN = "unknown"
CHANGED = "changed"
REVOKED = "revoked"


def fingerprint(blob: bytes) -> str:
    """`SHA256:...`, as ssh-keygen -l shows it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def lookup_name(hostname: str, port: int) -> str:
    return hostname if port == 22 else f"[{hostname}]:{port}"


class KnownKey:
    __slots__ = ("marker", "patterns", "key_type", "blob", "path", "line")

    def __init__(self, marker: str, patterns: str, key_type: str, blob: bytes, path: str, line: int) -> None:
        self.marker = marker
        self.patterns = patterns
        self.key_type = key_type
        self.blob = blob
        self.path = path
        self.line = line

    def matches(self, name: str) -> bool:
        matched = False
        for pattern in self.patterns.split(","):
            negated = pattern.startswith("!")
            if negated:
                pattern = pattern[1:]
            if _match(pattern, name):
                if negated:
                    return False
                matched = True
        return matched


def _match(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):
        try:
            _, _, salt, digest = pattern.split("|", 3)
            mac = hmac.new(base64.b64decode(salt), name.encode(), hashlib.sha1).digest()
            return hmac.compare_digest(mac, base64.b64decode(digest))
        except (ValueError, TypeError):
            return False
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == name.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name, re.IGNORECASE) is not None


class KnownHosts:
    """The keys of a list of known_hosts files (missing files are empty)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.keys: list[KnownKey] = []
        for path in paths:
            self._load(path)

    def _load(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return
        for number, raw in enumerate(lines, start=1):
            fields = raw.split()
            if not fields or fields[0].startswith("#"):
                continue
            marker = ""
            if fields[0].startswith("@"):
                marker, fields = fields[0], fields[1:]
            if len(fields) < 3:
                continue  # a damaged line spoils only itself
            try:
                blob = base64.b64decode(fields[2], validate=True)
            except ValueError:
                continue
            self.keys.append(KnownKey(marker, fields[0], fields[1], blob, path, number))

    def known_types(self, name: str) -> list[str]:
        """Key types on record for the host: the ones to ask the server for first."""
        return [k.key_type for k in self.keys if not k.marker and k.matches(name)]

    def check(self, name: str, key_type: str, blob: bytes) -> tuple[str, list[KnownKey]]:
        """OK, UNKNOWN, CHANGED (with the keys on record) or REVOKED."""
        for known in self.keys:
            if known.marker == "@revoked" and known.blob == blob:
                return REVOKED, [known]
        recorded = [k for k in self.keys if not k.marker and k.matches(name)]
        if any(k.key_type == key_type and k.blob == blob for k in recorded):
            return OK, []
        same_type = [k for k in recorded if k.key_type == key_type]
        if same_type:
            return CHANGED, same_type
        return UNKNOWN, recorded

    def add(self, path: str, name: str, key_type: str, blob: bytes, hashed: bool) -> None:
        """Record a newly accepted key (accept-new), as ssh would."""
        if hashed:
            salt = os.urandom(20)
            digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
            host = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
        else:
            host = name
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        line = f"{host} {key_type} {base64.b64encode(blob).decode()}\n"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        self.keys.append(KnownKey("", host, key_type, blob, path, 0))
