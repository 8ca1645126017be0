"""fmsh loads paramiko without its package __init__ (start-up time); what it loads must be
paramiko's own classes, and a fan-out must work with them (tests/test_remote_*.py)."""

from __future__ import annotations

import subprocess
import sys


def test_partial_load_gives_paramikos_classes() -> None:
    code = (
        "from fmsh.remote._paramiko import load\n"
        "p = load()\n"
        "import paramiko.transport, paramiko.pkey\n"
        "assert p.Transport is paramiko.transport.Transport\n"
        "assert p.PKey is paramiko.pkey.PKey and p.Ed25519Key.__name__ == 'Ed25519Key'\n"
        "assert p.Transport._CLIENT_ID.startswith('paramiko_') and p.__version__[0].isdigit()\n"
        "import sys; assert 'importlib.metadata' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout == "ok\n", out.stderr
