"""paramiko, loaded without its package `__init__`.

paramiko's `__init__` imports everything it has (the SFTP server, the SSH config parser
with `invoke`, `importlib.metadata` for its own version): about 100 ms that a fan-out of
ten hosts would pay again at every start. fmsh uses the transport, channels, keys and the
agent, so those submodules are loaded under a plain package object that carries the names
they expect. If this ever fails (another paramiko layout), the ordinary import is used.
"""

from __future__ import annotations

import os
import sys
import types

_NEEDED = {
    "paramiko.transport": ["Transport", "SecurityOptions"],
    "paramiko.channel": ["Channel"],
    "paramiko.message": ["Message"],
    "paramiko.pkey": ["PKey", "PublicBlob"],
    "paramiko.rsakey": ["RSAKey"],
    "paramiko.ecdsakey": ["ECDSAKey"],
    "paramiko.ed25519key": ["Ed25519Key"],
    "paramiko.agent": ["Agent", "AgentKey"],
    "paramiko.ssh_exception": [
        "SSHException", "AuthenticationException", "BadAuthenticationType", "ChannelException",
        "PasswordRequiredException", "BadHostKeyException", "ProxyCommandFailure",
        "NoValidConnectionsError", "IncompatiblePeer", "ConfigParseError", "CouldNotCanonicalize",
        "MessageOrderError",
    ],
}  # fmt: skip


def load() -> types.ModuleType:
    found = sys.modules.get("paramiko")
    if found is not None:
        return found
    location = _location()
    if location is not None:
        try:
            return _load_parts(location)
        except Exception:  # noqa: BLE001 - fall back to the ordinary import below
            for name in [m for m in sys.modules if m == "paramiko" or m.startswith("paramiko.")]:
                del sys.modules[name]
    import paramiko

    return paramiko


def _location() -> tuple[str, str] | None:
    """The package directory and paramiko's version (from its dist-info name)."""
    for entry in sys.path:
        directory = os.path.join(entry or ".", "paramiko")
        if os.path.isfile(os.path.join(directory, "__init__.py")):
            version = "unknown"
            try:
                for name in os.listdir(entry or "."):
                    if name.startswith("paramiko-") and name.endswith(".dist-info"):
                        version = name[len("paramiko-") : -len(".dist-info")]
            except OSError:
                pass
            return directory, version
    return None


def _load_parts(location: tuple[str, str]) -> types.ModuleType:
    import importlib

    directory, version = location
    package = types.ModuleType("paramiko")
    package.__path__ = [directory]
    package.__file__ = os.path.join(directory, "__init__.py")
    package.__version__ = version  # type: ignore[attr-defined]
    package.__package__ = "paramiko"
    sys.modules["paramiko"] = package
    # paramiko.util imports paramiko.config, which tries `invoke` (for Match exec): fmsh
    # reads ssh config through `ssh -G`, so that optional import is made to fail at once.
    sys.modules.setdefault("invoke", None)  # type: ignore[arg-type]
    for module_name, names in _NEEDED.items():
        module = importlib.import_module(module_name)
        for name in names:
            setattr(package, name, getattr(module, name))
    return package
