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
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

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
    __slots__ = ("marker", "patterns", "key_type", "blob", "path", "line", "_parts")

    def __init__(self, marker: str, patterns: str, key_type: str, blob: bytes, path: str, line: int) -> None:
        self.marker = marker
        self.patterns = patterns
        self.key_type = key_type
        self.blob = blob
        self.path = path
        self.line = line
        self._parts: list[tuple[bool, Callable[[str], bool]]] | None = None  # parsed at the first match

    def names(self) -> list[str] | None:
        """The names of a line that only lists names (no pattern, negation or hash),
        lowercased: such a line can be found by name. None for any other line."""
        names = self.patterns.lower().split(",")
        if any(not n or n[0] in "!|" or "*" in n or "?" in n for n in names):
            return None
        return names

    def matches(self, name: str) -> bool:
        if self._parts is None:
            self._parts = [
                _parse(p[1:] if p.startswith("!") else p, p.startswith("!")) for p in self.patterns.split(",")
            ]
        matched = False
        for negated, test in self._parts:
            if test(name):
                if negated:
                    return False
                matched = True
        return matched


def _parse(pattern: str, negated: bool) -> tuple[bool, Callable[[str], bool]]:
    """A pattern as a test of a name: a hashed name (its salt and hash decoded once), a
    plain one, or `*` and `?` wildcards (compiled once)."""
    if pattern.startswith("|1|"):
        try:
            _, _, salt64, digest64 = pattern.split("|", 3)
            salt, digest = base64.b64decode(salt64), base64.b64decode(digest64)
        except (ValueError, TypeError):
            return negated, lambda name: False
        return negated, lambda name: hmac.compare_digest(hmac.digest(salt, name.encode(), "sha1"), digest)
    if "*" not in pattern and "?" not in pattern:
        plain = pattern.lower()
        return negated, lambda name: plain == name.lower()
    regex = re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.IGNORECASE)
    return negated, lambda name: regex.fullmatch(name) is not None


class KnownHosts:
    """The keys of a list of known_hosts files (missing files are empty)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.keys: list[KnownKey] = []
        # A fan-out looks up every host: lines that only list names are found by name, the
        # others (patterns, hashed names) are tried one by one; and a name's keys are kept.
        self._by_name: dict[str, list[KnownKey]] = {}
        self._tried: list[KnownKey] = []
        self._found: dict[str, list[KnownKey]] = {}
        self._order: dict[int, int] = {}  # id(key) -> its place in self.keys
        self._revoked: dict[bytes, KnownKey] = {}
        self._lock = threading.Lock()
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
            self._keep(KnownKey(marker, fields[0], fields[1], blob, path, number))

    def _keep(self, key: KnownKey) -> None:
        self._order[id(key)] = len(self.keys)
        self.keys.append(key)
        if key.marker:
            if key.marker == "@revoked":
                self._revoked.setdefault(key.blob, key)
            return  # @cert-authority lines are read and not used
        names = key.names()
        if names is None:
            self._tried.append(key)
        for name in set(names or ()):
            self._by_name.setdefault(name, []).append(key)

    def recorded(self, name: str) -> list[KnownKey]:
        """The keys on record for the host (not the marker lines), in file order."""
        with self._lock:
            found = self._found.get(name)
            if found is None:
                found = self._by_name.get(name.lower(), []) + [k for k in self._tried if k.matches(name)]
                found.sort(key=lambda k: self._order[id(k)])
                self._found[name] = found
            return found

    def known_types(self, name: str) -> list[str]:
        """Key types on record for the host: the ones to ask the server for first."""
        return [k.key_type for k in self.recorded(name)]

    def check(self, name: str, key_type: str, blob: bytes) -> tuple[str, list[KnownKey]]:
        """OK, UNKNOWN, CHANGED (with the keys on record) or REVOKED."""
        revoked = self._revoked.get(blob)
        if revoked is not None:
            return REVOKED, [revoked]
        recorded = self.recorded(name)
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
        with self._lock:
            self._keep(KnownKey("", host, key_type, blob, path, 0))
            self._found.clear()
