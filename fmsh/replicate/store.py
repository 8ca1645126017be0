"""The replica store: where each owner epoch of a journal is claimed, beats, and replicates.

Litestream copies the journal but does not fence writers, so fmsh does (DESIGN.md §4):

    BASE/epochs/00000001/claim       {"epoch": 1, "owner": "host:pid", ...}  exclusive create
    BASE/epochs/00000001/heartbeat   {"epoch": 1, "owner": ..., "at": ..., "count": n}  atomic replace
    BASE/epochs/00000001/db/         Litestream's replica of the journal for epoch 1

Claiming epoch N+1 is an exclusive create (O_EXCL here, SFTP's EXCL open remotely), so of
two machines that claim it one wins; a stale owner can only write into its dead epoch's
path. Names are zero-padded to sort in a listing; any digits are read.

    file:///abs/path                  FileStore
    sftp://[user@]host[:port]/abs/path  SftpStore (over fmsh/remote/sftp.py)
    s3://...                          refused: a claim needs a conditional put (not yet)
"""

from __future__ import annotations

import errno
import json
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.remote.sftp import SftpSession

SCHEMES = "file:///abs/path or sftp://[user@]host[:port]/abs/path"
_LIMIT = 1 << 20  # a claim or a heartbeat is a few hundred bytes: more is not fmsh's


class StoreError(ShellError):
    """The replica store cannot do what was asked: what happened, and what to do."""


def epoch_name(epoch: int) -> str:
    return f"{epoch:08d}"


def litestream_section(kind: str, path: str, **sftp: str) -> dict[str, str]:
    """Litestream's `replica:` section. Its key names live here and nowhere else (the
    sftp ones: host as addr:port, user, key-path, host-key as "type base64")."""
    if kind == "file":
        return {"type": "file", "path": path}
    return {
        "type": "sftp",
        "host": sftp["host"],
        "user": sftp["user"],
        "path": path,
        "key-path": sftp["key_path"],
        "host-key": sftp["host_key"],
    }


class ReplicaStore(ABC):
    """The epochs under one base URL. The layout, the JSON and the rules are here; a kind
    of store gives the file operations: `_kind` ("dir", "file" or None when missing),
    `_list` (None when missing or not a directory), `_create` (exclusive, 0600, durable
    before it returns; False if the file exists), `_read` (None when missing), `_replace`
    (atomic: a reader sees the old bytes or the new; 0600), `_makedirs` (mkdir -p, 0700)."""

    def __init__(self, url: str, base: str) -> None:
        self.url = url
        self.base = base.rstrip("/") or "/"

    @abstractmethod
    def _kind(self, path: str) -> str | None: ...
    @abstractmethod
    def _list(self, path: str) -> list[str] | None: ...
    @abstractmethod
    def _create(self, path: str, data: bytes) -> bool: ...
    @abstractmethod
    def _read(self, path: str) -> bytes | None: ...
    @abstractmethod
    def _replace(self, path: str, data: bytes) -> None: ...
    @abstractmethod
    def _makedirs(self, path: str) -> None: ...

    @abstractmethod
    def litestream_replica(self, epoch: int) -> dict[str, str]:
        """Litestream's `replica:` section for BASE/epochs/N/db."""

    def describe(self) -> str:
        return self.url

    def close(self) -> None:  # noqa: B027 - most stores hold nothing
        """Release what the store holds (a connection)."""

    # --- the layout ---------------------------------------------------------------------

    def epoch_path(self, epoch: int, *rest: str) -> str:
        return "/".join([self.base.rstrip("/"), "epochs", epoch_name(epoch), *rest])

    def epochs(self) -> list[int]:
        """The claimed epochs, ascending; [] for an empty or missing base."""
        numbers = self._numbers()
        return [n for n in numbers if self._kind(self.epoch_path(n, "claim")) is not None]

    def newest(self) -> int:
        """The newest claimed epoch, 0 if none: looked at from the top down, so it costs one
        listing and (almost always) one stat."""
        for number in reversed(self._numbers()):
            if self._kind(self.epoch_path(number, "claim")) is not None:
                return number
        return 0

    def _numbers(self) -> list[int]:
        # An epoch directory without a claim is a claimer that stopped (or is) between
        # its mkdir and its create: not a claimed epoch.
        names = self._list(self.base.rstrip("/") + "/epochs")
        if names is None:
            if self._kind(self.base) == "file":
                raise StoreError(f"replica {self.url}: {self.base} is a file, not a directory: choose another path")
            return []
        # Any number of digits (epoch 10**8 has nine), but only the names fmsh writes: an
        # unpadded "12" would be read at 00000012.
        return sorted(int(name) for name in names if name.isdigit() and name == epoch_name(int(name)))

    def claim(self, epoch: int, record: Mapping[str, Any]) -> bool:
        """Claim the epoch: True if this call did, False if someone had."""
        self._check(epoch, record)
        self._makedirs(self.epoch_path(epoch))
        return self._create(self.epoch_path(epoch, "claim"), _encode(record))

    def read_claim(self, epoch: int) -> dict[str, Any] | None:
        """The claim's record; None if the epoch is not claimed. A claim file caught between
        its create and its write (or whose writer died there) reads as incomplete."""
        data = self._read(self.epoch_path(epoch, "claim"))
        if data is None:
            return None
        record = _decode(data)
        return record if record is not None else {"epoch": epoch, "incomplete": True}

    def write_heartbeat(self, epoch: int, record: Mapping[str, Any]) -> None:
        self._check(epoch, record)
        self._replace(self.epoch_path(epoch, "heartbeat"), _encode(record))

    def read_heartbeat(self, epoch: int) -> dict[str, Any] | None:
        path = self.epoch_path(epoch, "heartbeat")
        data = self._read(path)
        if data is None:
            return None
        record = _decode(data)
        if record is None:  # it is only ever replaced whole: someone else wrote this
            raise StoreError(f"replica {self.url}: {path} is not a heartbeat fmsh wrote (not a JSON object)")
        return record

    @staticmethod
    def _check(epoch: int, record: Mapping[str, Any]) -> None:
        if epoch < 1 or record.get("epoch", epoch) != epoch:
            raise ValueError(f"epoch {epoch} with the record of epoch {record.get('epoch')}")


def _encode(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(dict(record), sort_keys=True) + "\n").encode()


def _decode(data: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(data)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class FileStore(ReplicaStore):
    """A directory on this machine (or a mounted one): O_EXCL claims, fsync'd files and
    directories, so a claim that returned True survives a crash of the machine."""

    def _kind(self, path: str) -> str | None:
        try:
            return "dir" if stat.S_ISDIR(os.stat(path).st_mode) else "file"
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise self._error("stat", path, e) from None

    def _list(self, path: str) -> list[str] | None:
        try:
            return os.listdir(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise self._error("list", path, e) from None

    def _create(self, path: str, data: bytes) -> bool:
        try:
            self._write_new(path, data)
        except FileExistsError:
            return False
        except OSError as e:
            raise self._error("create", path, e) from None
        _sync_directory(os.path.dirname(path))  # the name survives a crash too
        return True

    def _read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as f:
                data = f.read(_LIMIT + 1)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise self._error("read", path, e) from None
        if len(data) > _LIMIT:
            raise StoreError(f"replica {self.url}: {path} is larger than {_LIMIT} bytes: not a file fmsh wrote")
        return data

    def _replace(self, path: str, data: bytes) -> None:
        directory, name = os.path.split(path)
        temporary = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            self._write_new(temporary, data)
            os.replace(temporary, path)
        except OSError as e:
            if os.path.lexists(temporary):
                os.unlink(temporary)
            raise self._error("replace", path, e) from None
        _sync_directory(directory)

    def _makedirs(self, path: str) -> None:
        missing: list[str] = []
        here = path
        while (found := self._kind(here)) != "dir":
            if found == "file":
                raise StoreError(f"replica {self.url}: {here} is a file, not a directory: choose another path")
            missing.append(here)
            here = os.path.dirname(here)
        for directory in reversed(missing):
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                continue  # a racing claimer made it
            except OSError as e:
                raise self._error("mkdir", directory, e) from None
            _sync_directory(os.path.dirname(directory))

    @staticmethod
    def _write_new(path: str, data: bytes) -> None:
        """Create the file (O_EXCL, 0600), write it all, fsync it."""
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def _error(self, what: str, path: str, e: OSError) -> StoreError:
        advice = {
            errno.EACCES: "check the owner and mode of the directories on the way",
            errno.EPERM: "check the owner and mode of the directories on the way",
            errno.EROFS: "the file system is read-only",
            errno.ENOSPC: "the disk is full",
            errno.ENOTDIR: "a component of the path is a file: choose another path",
        }.get(e.errno or 0)
        return StoreError(f"replica {self.url}: {what} {path}: {e.strerror or e}" + (f"; {advice}" if advice else ""))

    def litestream_replica(self, epoch: int) -> dict[str, str]:
        return litestream_section("file", self.epoch_path(epoch, "db"))


def _sync_directory(path: str) -> None:
    """fsync a directory, so that a name created in it survives a crash of the machine."""
    try:
        fd = os.open(path or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the file itself was fsync'd
    finally:
        os.close(fd)


class SftpStore(ReplicaStore):
    """A directory on an SSH server, over SFTP on fmsh's own connection (fmsh/remote/sftp.py:
    the same ssh config, known_hosts check and keys as `@host`)."""

    def __init__(self, url: str, base: str, session: SftpSession) -> None:
        super().__init__(url, base)
        self.session = session

    @contextmanager
    def _said(self) -> Iterator[None]:
        """The session's errors (and ssh -G's), prefixed with the replica's URL."""
        try:
            yield
        except ShellError as e:
            raise StoreError(f"replica {self.url}: {e.message}", e.status) from None

    def _kind(self, path: str) -> str | None:
        with self._said():
            return self.session.kind(path)

    def _list(self, path: str) -> list[str] | None:
        with self._said():
            return self.session.listdir(path)

    def _create(self, path: str, data: bytes) -> bool:
        with self._said():
            return self.session.create_exclusive(path, data)

    def _read(self, path: str) -> bytes | None:
        with self._said():
            return self.session.read(path, _LIMIT)

    def _replace(self, path: str, data: bytes) -> None:
        with self._said():
            self.session.replace(path, data)

    def _makedirs(self, path: str) -> None:
        with self._said():
            self.session.makedirs(path)

    def litestream_replica(self, epoch: int) -> dict[str, str]:
        with self._said():
            config, host_key = self.session.config, self.session.server_key_line()
        if config.proxy_jump:
            raise StoreError(f"replica {self.url}: {config.name} is reached through ProxyJump ({config.proxy_jump}), "
                             "which Litestream cannot do; use a host it reaches directly")  # fmt: skip
        key_path = self.session.identity_file()
        if key_path is None:
            raise StoreError(f"replica {self.url}: Litestream needs a private key file (it does not use the agent): "
                             f"set IdentityFile for {config.name} in the ssh config")  # fmt: skip
        host = self.session.address()
        path = self.epoch_path(epoch, "db")
        return litestream_section("sftp", path, host=host, user=config.user, key_path=key_path, host_key=host_key)

    def close(self) -> None:
        self.session.close()


def open_store(url: str, environ: Mapping[str, str]) -> ReplicaStore:
    """The store a replica URL names (nothing is reached until it is used)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = unquote(parts.path)
    if scheme == "s3":
        raise StoreError("s3:// replicas: fencing needs a conditional put, not supported yet; use file:// or sftp://",
                         status=2)  # fmt: skip
    if scheme == "file" or (not scheme and url.startswith("/")):
        if parts.netloc not in ("", "localhost") or not path.startswith("/") or path.rstrip("/") == "":
            raise StoreError(f"replica {url}: a file replica is an absolute path: file:///abs/path", status=2)
        return FileStore(url, os.path.normpath(path))
    if scheme == "sftp":
        from fmsh.remote.sftp import SftpSession

        if not parts.hostname or not path.startswith("/") or path.rstrip("/") == "":
            raise StoreError(f"replica {url}: an sftp replica is sftp://[user@]host[:port]/abs/path", status=2)
        try:
            port = parts.port
        except ValueError:
            raise StoreError(f"replica {url}: bad port", status=2) from None
        if parts.password is not None:
            shown = f"sftp://{parts.hostname}{path}"  # not the password
            raise StoreError(f"replica {shown}: a password in the URL is not used: fmsh logs in with keys "
                             "(IdentityFile in the ssh config, or the agent)", status=2)  # fmt: skip
        user = unquote(parts.username) if parts.username else None
        session = SftpSession(parts.hostname, user, port, environ)
        return SftpStore(url, os.path.normpath(path), session)
    raise StoreError(f"replica {url}: unknown kind of replica `{scheme or url}'; fmsh replicates to {SCHEMES}",
                     status=2)  # fmt: skip
