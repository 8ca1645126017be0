"""SFTP on fmsh's own SSH connections: the few file operations the replica store needs.

Only fmsh/remote speaks SSH, so the replica store (fmsh/replicate/store.py) comes here for
an exclusive create (the fencing claim), a small read, an atomic replace (write a temporary
file, then `posix-rename@openssh.com`), mkdir -p and a listing. The host is reached exactly
as `@host` reaches it: inventory, then `ssh -G` (FMSH_SSH_CONFIG or ~/.ssh/config), the
same Pool with its known_hosts check (an unknown or changed key is refused unless
FMSH_HOST_KEYS says otherwise), its keys and its agent.

paramiko: the Pool loads paramiko without its package `__init__` (fmsh/remote/_paramiko.py).
`paramiko.sftp_client` needs no name from that `__init__` (it imports paramiko.util,
paramiko.sftp, paramiko.sftp_file... by their module names), and the partial package keeps
paramiko's directory as its `__path__`, so `import paramiko.sftp_client` just loads the
submodules on that same path. If paramiko was loaded whole instead (_paramiko's fallback),
the import is the ordinary one.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import sys
import threading
from collections.abc import Mapping

from fmsh.remote import failures
from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    import paramiko

    from fmsh.remote.pool import Pool, Settings
    from fmsh.remote.sshconfig import HostConfig

    T = TypeVar("T")

# What to do about a failure to connect, by its class (the Pool's message says what happened).
_ADVICE = {
    failures.RESOLVE: "check the host name (inventory, ssh config)",
    failures.REFUSED: "is sshd running there, and is the port right?",
    failures.CONNECT_TIMEOUT: "check the address, the port and any firewall",
    failures.AUTH: "the key (IdentityFile in the ssh config, or the agent) must be in authorized_keys there",
    failures.CHANNEL: "the server must allow SFTP (`Subsystem sftp` in its sshd_config)",
}


# Seconds an SFTP request may wait for its answer (a claim or a heartbeat is a few round trips).
_REQUEST_TIMEOUT = 30.0


class SftpError(ShellError):
    """An SFTP operation that failed, with the failure's class (failures.py, or "sftp")."""

    def __init__(self, message: str, kind: str = "sftp") -> None:
        super().__init__(message)
        self.kind = kind


def host_config(name: str, user: str | None, port: int | None, environ: Mapping[str, str]) -> HostConfig:
    """A host's settings as fan-out finds them: the inventory first, then `ssh -G`."""
    from fmsh.remote.inventory import Inventory, default_path
    from fmsh.remote.sshconfig import SSHConfigReader

    path = environ.get("FMSH_INVENTORY") or default_path(environ.get("XDG_CONFIG_HOME"), environ.get("HOME"))
    inventory = Inventory.load(path)  # one file or several (a:b); none that exists: empty
    entry = inventory.entry(name) or inventory.default_entry(name)
    reader = SSHConfigReader(environ.get("FMSH_SSH_CONFIG") or None)
    return reader.resolve(
        name,
        user=user or (entry.user if entry else None),
        port=port or (entry.port if entry else None),
        address=entry.address if entry else None,
        jump=entry.jump if entry else None,
    )


def _settings(environ: Mapping[str, str]) -> Settings:
    from fmsh.remote.pool import Settings
    from fmsh.runtime import settings as defaults

    settings = Settings()
    try:
        connect = defaults.timeout("connect-timeout", environ.get("FMSH_CONNECT_TIMEOUT"))
    except defaults.SettingError as e:
        raise SftpError(str(e)) from None
    settings.connect_timeout = connect or 3600.0
    keys = environ.get("FMSH_HOST_KEYS")
    if keys:
        if keys not in ("yes", "accept-new", "no"):
            raise SftpError(f"FMSH_HOST_KEYS={keys}: not one of yes, accept-new, no")
        settings.host_keys = keys
    return settings


class SftpSession:
    """One host's SFTP channel, opened on first use, reopened after a lost connection.
    Thread-safe: a heartbeat thread and the shell may share it (one request at a time)."""

    def __init__(self, name: str, user: str | None, port: int | None, environ: Mapping[str, str]) -> None:
        self.name = name
        self._want = (user, port)
        self._environ = dict(environ)
        self._config: HostConfig | None = None
        self._pool: Pool | None = None
        self._client: paramiko.SFTPClient | None = None
        self._fsync = True  # fsync@openssh.com, until the server says it has none
        self._lock = threading.Lock()

    # --- connecting ---------------------------------------------------------------------

    @property
    def config(self) -> HostConfig:
        if self._config is None:
            self._config = host_config(self.name, *self._want, self._environ)
        return self._config

    def _sftp(self) -> paramiko.SFTPClient:
        client = self._client
        if client is not None and client.get_channel().get_transport().is_active():
            return client
        from fmsh.remote.failures import HostFailure
        from fmsh.remote.pool import Pool

        if self._pool is None:
            self._pool = Pool(self._jump)
        config = self.config
        try:
            transport = self._pool.transport(config, _settings(self._environ))
        except HostFailure as e:
            advice = _ADVICE.get(e.kind)
            raise SftpError(
                f"{config.address()}: {e.kind}: {e.message}{'; ' + advice if advice else ''}", e.kind
            ) from None
        try:  # see the module docstring: fine on the partial load
            import paramiko.sftp_client
        except ImportError as e:  # a paramiko whose SFTP client wants more of its __init__
            version = getattr(sys.modules.get("paramiko"), "__version__", "?")
            raise SftpError(f"paramiko {version}: its SFTP client cannot be loaded ({e})") from None
        try:
            client = paramiko.sftp_client.SFTPClient.from_transport(transport)
        except Exception as e:  # noqa: BLE001 - the server's refusal, reported in words
            raise SftpError(
                f"{config.address()}: no SFTP ({e}); {_ADVICE[failures.CHANNEL]}", failures.CHANNEL
            ) from None
        if client is None:
            raise SftpError(f"{config.address()}: no SFTP channel; {_ADVICE[failures.CHANNEL]}", failures.CHANNEL)
        # A server that stops answering must not hang a heartbeat (or a step) for ever.
        client.get_channel().settimeout(max(_REQUEST_TIMEOUT, config.connect_timeout or 0))
        self._client = client
        return client

    def _jump(self, spec: str) -> HostConfig:
        from fmsh.remote.nodeset import split_user_port

        user, name, port = split_user_port(spec)
        return host_config(name, user, port, self._environ)

    def _run(self, what: str, path: str, action: Callable[[paramiko.SFTPClient], T]) -> T:
        """One operation, its failure in words: the SFTP status, or a lost connection."""
        with self._lock:
            client = self._sftp()
            try:
                return action(client)
            except SftpError:
                raise
            except Exception as e:  # noqa: BLE001 - classified here
                if isinstance(e, TimeoutError):
                    # A late answer would be taken for the next request's, and a new channel
                    # on a silent connection would wait an hour to open: connect anew.
                    self._client = None
                    if self._pool is not None:
                        self._pool.discard(self.config)
                    raise SftpError(
                        f"{self.config.address()}: no answer to {what} {path} in time", failures.TIMEOUT
                    ) from None
                if not client.get_channel().get_transport().is_active():
                    self._client = None  # the next operation connects again
                    raise SftpError(f"{self.config.address()}: connection lost during {what}", failures.LOST) from None
                raise _said(what, path, e) from None

    # --- operations ---------------------------------------------------------------------

    def kind(self, path: str) -> str | None:
        """What is at the path: "dir", "file" (anything else) or None (nothing)."""
        return self._run("stat", path, lambda c: _kind(c, path))

    def listdir(self, path: str) -> list[str] | None:
        """The names in a directory; None if it is missing (or not a directory)."""

        def action(c: paramiko.SFTPClient) -> list[str] | None:
            try:
                return list(c.listdir(path))
            except FileNotFoundError:
                return None

        return self._run("list", path, action)

    def read(self, path: str, limit: int = 1 << 20) -> bytes | None:
        """A small file's bytes; None if it is missing."""

        def action(c: paramiko.SFTPClient) -> bytes | None:
            try:
                f = c.open(path, "r")
            except FileNotFoundError:
                return None
            with f:
                data = f.read(limit + 1)
            if len(data) > limit:
                raise SftpError(f"read {path}: larger than {limit} bytes: not a file fmsh wrote")
            return bytes(data)

        return self._run("read", path, action)

    def create_exclusive(self, path: str, data: bytes, mode: int = 0o600) -> bool:
        """Create the file with `data` unless it exists (SFTP open with CREATE|EXCL, the
        server's O_EXCL): True if this call created it, False if it was there."""

        def action(c: paramiko.SFTPClient) -> bool:
            try:
                f = _open_new(c, path, mode)
            except OSError as e:
                # OpenSSH's server reports EEXIST as the generic SSH_FX_FAILURE ("Failure",
                # no errno): whether the file is there now tells the two apart.
                if e.errno in (errno.ENOENT, errno.EACCES, errno.EPERM) or _kind(c, path) is None:
                    raise
                return False
            self._fill(c, f, data)
            return True

        return self._run("create", path, action)

    def replace(self, path: str, data: bytes, mode: int = 0o600) -> None:
        """Atomically replace the file: a reader sees the old bytes or the new, never a mix."""
        directory, name = posixpath.split(path)
        temporary = posixpath.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")

        def action(c: paramiko.SFTPClient) -> None:
            self._fill(c, _open_new(c, temporary, mode), data)
            try:
                c.posix_rename(temporary, path)
            except BaseException:
                try:
                    c.remove(temporary)
                except Exception:  # noqa: BLE001 - the rename's failure is the news
                    pass
                raise

        self._run("replace", path, action)

    def makedirs(self, path: str, mode: int = 0o700) -> None:
        """mkdir -p; a component that exists and is not a directory is an error."""

        def action(c: paramiko.SFTPClient) -> None:
            missing: list[str] = []
            here = path
            while (found := _kind(c, here)) != "dir":  # up to one that exists ("/" does)
                if found == "file":
                    raise SftpError(f"{here} is a file, not a directory: choose another replica path")
                missing.append(here)
                here = posixpath.dirname(here)
            for directory in reversed(missing):
                try:
                    c.mkdir(directory, mode)
                except OSError as e:
                    if _kind(c, directory) != "dir":  # not created by a racing claimer either
                        raise _said("mkdir", directory, e) from None

        self._run("mkdir", path, action)

    def _fill(self, c: paramiko.SFTPClient, f: paramiko.SFTPFile, data: bytes) -> None:
        """Write the new file whole, on the server's disk (fsync@openssh.com, OpenSSH >= 6.5)."""
        from paramiko.sftp import CMD_EXTENDED

        with f:
            f.write(data)
            f.flush()
            if self._fsync:
                try:
                    c._request(CMD_EXTENDED, "fsync@openssh.com", f.handle)
                except OSError as e:
                    if "unsupported" not in str(e).lower():
                        raise
                    self._fsync = False  # a server without it: the write is all there is

    # --- what Litestream needs ----------------------------------------------------------

    def server_key_line(self) -> str:
        """The server's host key as `type base64` (checked against known_hosts on connect)."""

        def action(c: paramiko.SFTPClient) -> str:
            key = c.get_channel().get_transport().get_remote_server_key()
            return f"{key.get_name()} {key.get_base64()}"

        return self._run("host key", self.name, action)

    def identity_file(self) -> str | None:
        """The first identity file of the host's config that exists (Litestream takes a key
        file, not the agent)."""
        return next((p for p in self.config.identity_files if os.path.isfile(p)), None)

    def address(self) -> str:
        """`host:port` as resolved (HostName, Port): Litestream does not read ssh config."""
        config = self.config
        host = config.hostname if ":" not in config.hostname else f"[{config.hostname}]"
        return f"{host}:{config.port}"

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                except Exception:  # noqa: BLE001 - closing what may be dead
                    pass
                self._client = None
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _kind(c: paramiko.SFTPClient, path: str) -> str | None:
    try:
        attributes = c.stat(path)
    except FileNotFoundError:  # also ENOTDIR: OpenSSH reports it as "no such file"
        return None
    return "dir" if stat.S_ISDIR(attributes.st_mode or 0) else "file"


def _open_new(c: paramiko.SFTPClient, path: str, mode: int) -> paramiko.SFTPFile:
    """SFTP open with WRITE|CREATE|EXCL and the mode: the server's open(O_CREAT|O_EXCL).
    The low-level request, because paramiko's open(path, "x") sends no WRITE flag and no
    mode ("wx" would create it 0666 & umask, to be chmod-ed afterwards)."""
    from paramiko.sftp import CMD_HANDLE, CMD_OPEN, SFTP_FLAG_CREATE, SFTP_FLAG_EXCL, SFTP_FLAG_WRITE
    from paramiko.sftp_attr import SFTPAttributes
    from paramiko.sftp_file import SFTPFile

    attributes = SFTPAttributes()
    attributes.st_mode = mode
    kind, message = c._request(CMD_OPEN, path, SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_EXCL, attributes)
    if kind != CMD_HANDLE:
        raise SftpError(f"create {path}: the server answered without a file handle")
    return SFTPFile(c, message.get_binary(), "w")


def _said(what: str, path: str, e: Exception) -> SftpError:
    """The server's answer to an operation, in words."""
    if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM):
        return SftpError(f"{what} {path}: permission denied (check its owner and mode)")
    detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
    return SftpError(f"{what} {path}: {detail}")
