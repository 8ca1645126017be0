"""Fake SSH servers that misbehave in ways a real sshd cannot be made to: a banner that
never ends, a server that accepts and says nothing, one that says its version and then
stalls before the key exchange. Each listens on a loopback port of its own, serves every
connection in a thread, and on `stop()` closes everything it opened.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable


class FakeServer:
    """A TCP server on 127.0.0.1 whose every connection is handled by `behave(conn, stop)`."""

    def __init__(self, behave: Callable[[socket.socket, threading.Event], None], address: str = "127.0.0.1") -> None:
        self.behave = behave
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((address, 0))
        self.listener.listen(64)
        self.address, self.port = self.listener.getsockname()
        self.stopping = threading.Event()
        self.connections: list[socket.socket] = []
        self.accepted = 0
        self.active = 0  # connections whose client has not hung up yet
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=f"fake-sshd-{self.port}", daemon=True)

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections.append(conn)
                self.accepted += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with self._lock:
            self.active += 1
        try:
            self.behave(conn, self.stopping)
            if not self.stopping.is_set():
                _wait_for_hangup(conn, self.stopping)
        except OSError:
            pass  # the client hung up: what a hostile server's client should do
        finally:
            with self._lock:
                self.active -= 1

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(5)
        self.listener.close()
        with self._lock:
            for conn in self.connections:
                try:
                    conn.close()
                except OSError:
                    pass


def _wait_for_hangup(conn: socket.socket, stop: threading.Event) -> None:
    conn.settimeout(0.1)
    while not stop.is_set():
        try:
            if not conn.recv(4096):
                return
        except TimeoutError:
            continue


def endless_banner(conn: socket.socket, stop: threading.Event) -> None:
    """Lines before the version line (RFC 4253 allows them), forever, never `SSH-2.0-`."""
    number = 0
    while not stop.is_set():
        number += 1
        conn.sendall(f"Welcome to the endless banner, line {number}\r\n".encode())
        time.sleep(0.01)


def trickling_banner(conn: socket.socket, stop: threading.Event) -> None:
    """A banner line that never ends: one byte every 50 ms."""
    while not stop.is_set():
        conn.sendall(b"x")
        time.sleep(0.05)


def flooding_banner(conn: socket.socket, stop: threading.Event) -> None:
    """Bytes as fast as the client takes them, never a newline: a banner line that would
    fill the client's memory if it kept reading."""
    block = b"x" * 65536
    while not stop.is_set():
        conn.sendall(block)


def not_ssh(conn: socket.socket, stop: threading.Event) -> None:
    """Another protocol's greeting (an SMTP server on the SSH port), then it hangs up."""
    conn.sendall(b"220 mail.example.com ESMTP Postfix\r\n")
    conn.recv(4096)
    conn.sendall(b"500 5.5.2 Error: bad syntax\r\n")
    conn.shutdown(socket.SHUT_RDWR)


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accepts, then never sends a byte (and reads what the client says)."""
    _wait_for_hangup(conn, stop)


def stall_after_version(conn: socket.socket, stop: threading.Event) -> None:
    """Says its version as sshd would, then never starts the key exchange."""
    conn.sendall(b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n")
    silent(conn, stop)


def closed_port(address: str = "127.0.0.1") -> int:
    """A port where nothing listens (bound, then closed: the kernel answers RST)."""
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])
