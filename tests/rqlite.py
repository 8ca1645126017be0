"""Real rqlite clusters for the tests: N `rqlited` nodes on 127.0.0.1 (free ports, data in
a scratch directory), the first bootstrapping and the others joining it. Nodes can be
killed, stopped and started again; `leader()` asks the cluster which node leads."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rqlited() -> str | None:
    local = ROOT / ".rqlite" / "bin" / "rqlited"
    return str(local) if local.exists() else shutil.which("rqlited")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    def __init__(self, cluster: RqliteCluster, number: int) -> None:
        self.cluster = cluster
        self.number = number
        self.id = f"n{number}"
        self.http = f"127.0.0.1:{_free_port()}"
        self.raft = f"127.0.0.1:{_free_port()}"
        self.data = cluster.root / self.id
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, join: str | None = None) -> None:
        binary = rqlited()
        assert binary, "rqlited is not installed: run tests/setup (python3 tests/install_rqlite.py)"
        argv = [binary, "-node-id", self.id, "-http-addr", self.http, "-raft-addr", self.raft,
                "-raft-election-timeout", "500ms", "-raft-timeout", "500ms"]  # fmt: skip
        if join:
            argv += ["-join", join]
        log = open(self.cluster.root / f"{self.id}.log", "ab")  # noqa: SIM115 - the process keeps it
        self.proc = subprocess.Popen([*argv, str(self.data)], stdout=log, stderr=log, start_new_session=True)
        log.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def status(self) -> dict | None:  # type: ignore[type-arg]
        try:
            with urllib.request.urlopen(f"http://{self.http}/status", timeout=2) as response:
                return json.load(response)  # type: ignore[no-any-return]
        except OSError:
            return None

    def query(self, sql: str, level: str = "none") -> list[list]:  # type: ignore[type-arg]
        """The rows of a read asked of this node (level none: its own copy, as a user
        checking that node would see it; weak or strong: the leader's)."""
        body = json.dumps([[sql]]).encode()
        request = urllib.request.Request(
            f"http://{self.http}/db/query?level={level}", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        if not answer.get("results"):  # a node still starting
            raise OSError(f"{self.id}: no results: {answer}")
        result = answer["results"][0]
        if "error" in result:
            raise AssertionError(f"{self.id}: {sql}: {result['error']}")
        return result.get("values") or []  # type: ignore[no-any-return]


class RqliteCluster:
    def __init__(self, root: Path, size: int = 3) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.nodes = [Node(self, k + 1) for k in range(size)]

    @property
    def url(self) -> str:
        """FMSH_JOURNAL for this cluster: every node."""
        return "rqlite://" + ",".join(n.http for n in self.nodes)

    def start(self, timeout: float = 30) -> RqliteCluster:
        first = self.nodes[0]
        first.start()
        self.wait_for_leader(timeout)
        for node in self.nodes[1:]:
            node.start(join=first.raft)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = first.status()
            nodes = (status or {}).get("store", {}).get("nodes") or []
            if len(nodes) == len(self.nodes) and all(n.status() for n in self.nodes):
                return self
            time.sleep(0.1)
        raise AssertionError(f"the rqlite cluster did not form: {self.logs()}")

    def leader(self) -> Node | None:
        for node in self.nodes:
            if not node.alive:
                continue
            status = node.status()
            addr = (status or {}).get("store", {}).get("leader", {}).get("addr")
            if addr:
                return next((n for n in self.nodes if n.raft == addr), None)
        return None

    def wait_for_leader(self, timeout: float = 30) -> Node:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None and leader.alive:
                return leader
            time.sleep(0.05)
        raise AssertionError(f"no rqlite leader within {timeout}s: {self.logs()}")

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.root.glob("*.log")))

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.alive:
                os.kill(node.proc.pid, signal.SIGCONT)
            node.stop()
