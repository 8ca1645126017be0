"""SSH connections: one per host, opened on first use and kept for the life of the shell.

Connecting is where most things go wrong, so it is done carefully: a cap on concurrent
handshakes per server (sshd's MaxStartups drops the excess), connect-phase failures
(refused, reset or closed during the banner or key exchange) retried with jittered
backoff, host keys checked against known_hosts before any key is offered, ProxyJump through
direct-tcpip channels of the jump host's own (pooled) connection.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from contextlib import contextmanager

from fmsh.remote import failures, known_hosts
from fmsh.remote.failures import HostFailure
from fmsh.remote.sshconfig import HostConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import paramiko

    from fmsh.remote.run import HostResult
    from fmsh.runtime.backoff import Backoff

# Ciphers in the order fmsh asks for them: the AEAD ones first (one pass per packet).
_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr")
# What OpenSSH allows a 16-byte block cipher between key exchanges (2^32 blocks), and
# its packet limit (2^31).
_REKEY_BYTES = 1 << 36
_REKEY_PACKETS = 1 << 31
_IDLE_CHECK = 1.0  # seconds between the looks of a connection's thread at whether to stop
# OpenSSH's names for the key exchanges paramiko knows by another name.
_KEX_ALIASES = {"curve25519-sha256": "curve25519-sha256@libssh.org"}


def _quiet_paramiko() -> None:
    """paramiko logs failures (banner errors...) that fmsh reports itself, in its words."""
    import logging

    logger = logging.getLogger("paramiko")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


class Settings:
    """What the shell decides about connecting (from its variables, see interp/remote.py)."""

    def __init__(self) -> None:
        self.connect_timeout = 10.0
        self.host_keys: str | None = None  # overrides StrictHostKeyChecking: yes, accept-new, no
        self.handshakes_per_server = 8
        self.connect_attempts = 3
        # Each host's own limits (a fan-out's hosts time out and retry one by one):
        self.step_timeout: float | None = None  # seconds a try may run on a host, connecting included
        self.stop_signal = "TERM"  # what a host gets when its time is up (`timeout -s`)
        self.kill_after = 2.0  # then KILL, this much later (`timeout -k`)
        self.tries = 1  # `retry N`: tries per host; a host that succeeded is not run again
        self.backoff: Backoff | None = None
        self.retry_on: frozenset[int] | None = None  # `retry ... on 75,255`: only these statuses
        self.on_try: Callable[[int, int, HostResult, float], None] | None = None  # (host index, try, result, started)
        # The whole stage (an enclosing `timeout`): a time.monotonic() value, or None.
        self.stage_deadline: float | None = None


class Pool:
    def __init__(self, resolve_jump: Callable[[str], HostConfig]) -> None:
        from fmsh.remote import _paramiko

        _paramiko.load()  # every later `import paramiko` gets this one
        _quiet_paramiko()
        # resolve_jump turns a ProxyJump entry ("user@host:port") into a HostConfig.
        self.resolve_jump = resolve_jump
        self._transports: dict[tuple[str, str, int, str | None], paramiko.Transport] = {}
        self._locks: dict[tuple[str, str, int, str | None], threading.Lock] = {}
        self._server_slots: dict[str, threading.Semaphore] = {}  # by "host:port"
        self._keys: dict[str, object] = {}  # loaded private keys by path
        self._known: dict[tuple[str, ...], known_hosts.KnownHosts] = {}
        # The last failed connect of each key, and when it ended.
        self._failed: dict[tuple[str, str, int, str | None], tuple[float, HostFailure]] = {}
        self._guard = threading.Lock()

    # --- the pool -----------------------------------------------------------------------

    def transport(self, config: HostConfig, settings: Settings) -> paramiko.Transport:
        """A live, authenticated connection to the host: the kept one, or a new one."""
        key = config.key
        asked = time.monotonic()
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            transport = self._transports.get(key)
            if transport is None or not transport.is_active():
                failed = self._failed.get(key)
                if failed is not None and failed[0] >= asked:
                    # Another name for the same server failed to connect while this one
                    # waited its turn: the same answer, not another connect timeout.
                    raise failed[1]
                try:
                    transport = self._connect_with_retries(config, settings)
                except HostFailure as failure:
                    self._failed[key] = (time.monotonic(), failure)
                    raise
                transport.fmsh_uses = 0  # type: ignore[attr-defined]
                self._transports[key] = transport
            transport.fmsh_uses += 1  # type: ignore[attr-defined]
            return transport

    def discard(self, config: HostConfig) -> None:
        """Drop a host's kept connection (it died): the next use connects anew."""
        with self._guard:
            transport = self._transports.pop(config.key, None)
        if transport is not None:
            try:
                transport.close()
            except Exception:  # noqa: BLE001 - it is dead already
                pass

    def was_reused(self, transport: paramiko.Transport) -> bool:
        """Whether the connection served an earlier stage (a new one failing is news)."""
        return getattr(transport, "fmsh_uses", 0) > 1

    def forget(self) -> None:
        """In a forked child: the connections belong to the parent; do not touch them."""
        self._transports = {}
        self._locks = {}
        self._server_slots = {}
        self._guard = threading.Lock()

    def close(self) -> None:
        for transport in list(self._transports.values()):
            try:
                transport.close()
            except Exception:  # noqa: BLE001 - closing what may already be dead
                pass
        self._transports.clear()

    def connected(self) -> int:
        return sum(1 for t in self._transports.values() if t.is_active())

    # --- connecting ---------------------------------------------------------------------

    def _connect_with_retries(self, config: HostConfig, settings: Settings) -> paramiko.Transport:
        attempts = max(1, settings.connect_attempts)
        delay = 0.1
        for attempt in range(attempts):
            try:
                return self._connect(config, settings)
            except HostFailure:
                raise
            except Exception as e:  # noqa: BLE001 - classified below
                failure = failures.classify_connect_error(e)
                retry = failure.kind == failures.REFUSED and attempt + 1 < attempts
                if not retry:
                    raise failure from None
            time.sleep(delay * (1 + random.random()))
            delay *= 2
        raise AssertionError("unreachable")

    @contextmanager
    def _server_slot(
        self, config: HostConfig, settings: Settings, sock: socket.socket | paramiko.Channel, left: float
    ) -> Iterator[None]:
        """One of the server's handshake slots, waited for no longer than the connect time
        that is left: servers that stall hold theirs until their own timeout, and the
        hosts queued behind them must still end within the connect timeout."""
        server = f"{config.hostname}:{config.port}"
        with self._guard:
            slot = self._server_slots.get(server)
            if slot is None:
                slot = self._server_slots[server] = threading.Semaphore(settings.handshakes_per_server)
        if not slot.acquire(timeout=max(0.0, left)):
            sock.close()
            raise HostFailure(
                failures.CONNECT_TIMEOUT,
                f"waited the whole connect timeout for a turn: {settings.handshakes_per_server} handshakes with "
                f"{server} at a time, and those did not end",
            )
        try:
            yield
        finally:
            slot.release()

    def _connect(self, config: HostConfig, settings: Settings) -> paramiko.Transport:
        timeout = config.connect_timeout or settings.connect_timeout
        start = time.monotonic()
        try:
            return self._handshake(config, settings, timeout, start)
        except HostFailure:
            raise
        except Exception:  # noqa: BLE001 - classified here
            if time.monotonic() - start >= timeout * 0.9:
                # paramiko says "Error reading SSH protocol banner" both when the server
                # closes and when it says nothing: the clock tells them apart.
                raise HostFailure(failures.CONNECT_TIMEOUT, f"no SSH handshake within {timeout:g}s") from None
            raise

    def _handshake(self, config: HostConfig, settings: Settings, timeout: float, start: float) -> paramiko.Transport:
        import paramiko

        sock = self._open_socket(config, settings, timeout)
        with self._server_slot(config, settings, sock, timeout - (time.monotonic() - start)):
            left = max(0.1, timeout - (time.monotonic() - start))  # of the connect timeout
            transport = paramiko.Transport(sock, disabled_algorithms=self._disabled(config))
            # paramiko starts a key re-exchange after 512 MiB, and one it starts can race
            # with a channel's window update into "Key-exchange timed out" mid-stream
            # (paramiko#822; seen here once in six 1 GB outputs). sshd re-keys by its own
            # RekeyLimit; fmsh asks only past OpenSSH's own limit for these ciphers.
            transport.packetizer.REKEY_BYTES = _REKEY_BYTES
            transport.packetizer.REKEY_PACKETS = _REKEY_PACKETS
            try:
                transport.banner_timeout = left
                transport.handshake_timeout = left
                transport.auth_timeout = left
                options = transport.get_security_options()
                options.ciphers = [c for c in _CIPHERS if c in options.ciphers] or options.ciphers
                name = known_hosts.lookup_name(config.host_key_alias or config.hostname, config.port)
                known = self._known_hosts(config)
                preferred = known.known_types(name)
                if preferred:
                    # Ask for the key type on record first, as OpenSSH does.
                    rest = [t for t in options.key_types if t not in preferred]
                    options.key_types = [t for t in preferred if t in options.key_types] + rest
                transport.start_client(timeout=left)
                if not transport.is_active():
                    raise transport.get_exception() or EOFError("the server closed the connection")
                self._check_host_key(transport, config, settings, known, name)
                self._authenticate(transport, config)
            except HostFailure:
                transport.close()
                raise
            except BaseException as e:
                transport.close()
                if isinstance(e, Exception) and time.monotonic() - start >= timeout * 0.9:
                    raise HostFailure(failures.CONNECT_TIMEOUT, _stalled_at(transport, timeout)) from None
                raise
        transport.set_keepalive(config.alive_interval or 30)
        if isinstance(sock, socket.socket):
            # paramiko's thread wakes at each timeout of the socket (0.1 s) to see whether to
            # stop: 500 kept connections would wake 5,000 times a second and fight the
            # fan-out for the GIL. Once connected, once a second will do (closing does not
            # wait for it; keepalives are 30 s apart).
            sock.settimeout(_IDLE_CHECK)
        return transport

    def _open_socket(self, config: HostConfig, settings: Settings, timeout: float) -> socket.socket | paramiko.Channel:
        if config.proxy_jump:
            return self._jump_channel(config, settings, timeout)
        sock = socket.create_connection((config.hostname, config.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _jump_channel(self, config: HostConfig, settings: Settings, timeout: float) -> paramiko.Channel:
        """A direct-tcpip channel to the host through the last jump host of the chain."""
        hops = [h.strip() for h in (config.proxy_jump or "").split(",") if h.strip()]
        jump = self.resolve_jump(hops[-1])
        if len(hops) > 1:
            jump.proxy_jump = ",".join(hops[:-1])
        try:
            via = self.transport(jump, settings)
        except HostFailure as e:
            raise HostFailure(e.kind, f"jump host {jump.name}: {e.message}") from None
        try:
            return via.open_channel("direct-tcpip", (config.hostname, config.port), ("127.0.0.1", 0), timeout=timeout)
        except Exception as e:  # noqa: BLE001 - the jump host's answer
            raise HostFailure(
                failures.REFUSED, f"jump host {jump.name} cannot reach {config.hostname}:{config.port} ({e})"
            ) from None

    @staticmethod
    def _disabled(config: HostConfig) -> dict[str, list[str]] | None:
        """Key exchanges that the ssh config does not allow (KexAlgorithms)."""
        if not config.kex:
            return None
        import paramiko

        allowed = {_KEX_ALIASES.get(k, k) for k in config.kex}
        disabled = [k for k in paramiko.Transport._preferred_kex if k not in allowed]
        return {"kex": disabled} if disabled else None

    # --- host keys ----------------------------------------------------------------------

    def _known_hosts(self, config: HostConfig) -> known_hosts.KnownHosts:
        key = tuple(config.known_hosts_files)
        with self._guard:
            found = self._known.get(key)
            if found is None:
                found = self._known[key] = known_hosts.KnownHosts(list(key))
            return found

    def _check_host_key(
        self,
        transport: paramiko.Transport,
        config: HostConfig,
        settings: Settings,
        known: known_hosts.KnownHosts,
        name: str,
    ) -> None:
        key = transport.get_remote_server_key()
        key_type, blob = key.get_name(), key.asbytes()
        with self._guard:
            verdict, recorded = known.check(name, key_type, blob)
        policy = settings.host_keys or config.strict_host_keys
        shown = known_hosts.fingerprint(blob)
        if verdict == known_hosts.OK:
            return
        if verdict == known_hosts.REVOKED:
            raise HostFailure(failures.HOST_KEY, f"host key {key_type} {shown} is revoked ({recorded[0].path})")
        if verdict == known_hosts.CHANGED:
            old = ", ".join(f"{known_hosts.fingerprint(k.blob)} ({k.path}:{k.line})" for k in recorded)
            raise HostFailure(
                failures.HOST_KEY,
                f"HOST KEY CHANGED: {name} now offers {key_type} {shown}; known: {old}. If the change "
                "is expected, remove the old line (ssh-keygen -R) and connect again",
            )
        if policy in ("accept-new", "no"):
            path = config.known_hosts_files[0] if config.known_hosts_files else os.path.expanduser("~/.ssh/known_hosts")
            with self._guard:
                known.add(path, name, key_type, blob, config.hash_known_hosts)
            return
        raise HostFailure(
            failures.HOST_KEY,
            f"unknown host key {key_type} {shown} for {name}: add it to known_hosts (ssh-keyscan) or "
            "allow new keys with FMSH_HOST_KEYS=accept-new",
        )

    # --- authentication -----------------------------------------------------------------

    def _authenticate(self, transport: paramiko.Transport, config: HostConfig) -> None:
        import paramiko

        tried = 0
        for key in self._candidate_keys(config):
            tried += 1
            try:
                transport.auth_publickey(config.user, key)  # type: ignore[arg-type]
            except paramiko.AuthenticationException:
                continue
            if transport.is_authenticated():
                return
        what = f"{tried} key(s) offered" if tried else "no key to offer (no agent, no readable IdentityFile)"
        raise HostFailure(failures.AUTH, f"{config.user}@{config.hostname}: public key refused; {what}")

    def _candidate_keys(self, config: HostConfig) -> list[object]:
        import paramiko

        keys: list[object] = []
        if not config.identities_only and os.environ.get("SSH_AUTH_SOCK"):
            try:
                keys.extend(paramiko.Agent().get_keys())
            except Exception:  # noqa: BLE001 - an unusable agent is like no agent
                pass
        for path in config.identity_files:
            with self._guard:
                key = self._keys.get(path)
            if key is None:
                if not os.path.isfile(path):
                    continue
                try:
                    key = paramiko.PKey.from_path(path)
                except Exception:  # noqa: BLE001 - encrypted or unreadable: skipped, like ssh -o BatchMode
                    continue
                with self._guard:
                    self._keys[path] = key
            keys.append(key)
        return keys


def _stalled_at(transport: paramiko.Transport, timeout: float) -> str:
    """Which part of the handshake a server that ran out the connect timeout never did."""
    version = transport.remote_version
    if not version:
        return f"no SSH version line within {timeout:g}s"
    shown = "".join(c if c.isprintable() else "?" for c in version)[:100]
    if transport.session_id is None:
        return f"the server ({shown}) did not finish the key exchange within {timeout:g}s"
    return f"the server ({shown}) did not finish authentication within {timeout:g}s"
