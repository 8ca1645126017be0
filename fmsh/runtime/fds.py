"""File descriptors: the shell's own descriptor table is the real one.

A redirection for a builtin, a function or a compound command changes the shell's
descriptors in place; a `Frame` remembers what was there and puts it back. External
commands inherit the table as it is when they are spawned, so one mechanism serves all.

Descriptors 0-9 are the user's. The copies the shell keeps for itself live at 10 and
above, close-on-exec, and are moved out of the way when a user names their number. The
free numbers 3-9 hold close-on-exec placeholders (on /dev/null), so that what Python opens
later (SSH sockets, a journal) lands at 10 or above too; to the user a placeholder is a
closed descriptor.
"""

from __future__ import annotations

import errno
import fcntl
import os

FIRST_INTERNAL_FD = 10
_PIPE_CAPACITY = 65536


class Frame:
    """Descriptors replaced by one command's redirections: (fd, saved copy or -1)."""

    __slots__ = ("saved",)

    def __init__(self) -> None:
        self.saved: list[tuple[int, int]] = []


_USER_RANGE = range(3, 10)


class Descriptors:
    def __init__(self) -> None:
        self.internal: set[int] = set()
        self.placeholders: set[int] = set()
        self.user_high: set[int] = set()  # descriptors >= 10 that the user opened
        self._devnull = -1
        self.protect_high = False  # set once the shell opens descriptors of its own >= 10

    def reserve_low(self) -> None:
        """Put placeholders on the free descriptors 3-9, before the shell opens
        descriptors of its own (SSH connections), so that those land at 10 or above."""
        self.protect_high = True
        for fd in _USER_RANGE:
            if not _is_open(fd):
                self._placeholder(fd)

    def _placeholder(self, fd: int) -> None:
        if self._devnull == -1:
            low = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            self._devnull = fcntl.fcntl(low, fcntl.F_DUPFD_CLOEXEC, FIRST_INTERNAL_FD)
            os.close(low)
        os.dup2(self._devnull, fd, inheritable=False)
        self.placeholders.add(fd)

    def _dup_internal(self, fd: int) -> int:
        new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FIRST_INTERNAL_FD)
        self.internal.add(new)
        return new

    def _close_internal(self, fd: int) -> None:
        self.internal.discard(fd)
        try:
            os.close(fd)
        except OSError:
            pass

    def is_user_fd(self, fd: int) -> bool:
        """Whether `fd` is open and belongs to the user (not one of the shell's copies)."""
        if fd in self.internal or fd in self.placeholders:
            return False
        return _is_open(fd)

    def _make_room(self, fd: int, frame: Frame | None) -> None:
        """The user names descriptor `fd`: move a shell copy that sits there elsewhere."""
        if fd not in self.internal:
            return
        new = self._dup_internal(fd)
        self.internal.discard(fd)
        os.close(fd)
        for f in _ACTIVE_FRAMES:
            f.saved = [(target, new if saved == fd else saved) for target, saved in f.saved]

    def _save(self, fd: int, frame: Frame | None) -> None:
        if frame is None:
            return
        for target, _ in frame.saved:
            if target == fd:
                return  # the first save holds the original
        if fd in self.placeholders:
            saved = -1
        else:
            try:
                saved = self._dup_internal(fd)
            except OSError as e:
                if e.errno != errno.EBADF:
                    raise
                saved = -1
        frame.saved.append((fd, saved))

    def place(self, source: int, target: int, frame: Frame | None) -> None:
        """Make `target` a copy of `source` (dup2), remembering the old `target`."""
        self._make_room(target, frame)
        if target >= FIRST_INTERNAL_FD and self.protect_high and target not in self.user_high and _is_open(target):
            from fmsh.runtime.errors import ShellError

            raise ShellError(f"{target}: the shell itself uses this descriptor (use one below 10, or {{name}}>)")
        self._save(target, frame)
        self.placeholders.discard(target)
        if target >= FIRST_INTERNAL_FD:
            self.user_high.add(target)
        if source != target:
            os.dup2(source, target)
        else:
            # `3>&3`: the descriptor stays, but must become inheritable.
            os.set_inheritable(target, True)

    def close(self, target: int, frame: Frame | None) -> None:
        self._make_room(target, frame)
        self._save(target, frame)
        self._close_user(target)

    def _close_user(self, fd: int) -> None:
        """Close a user's descriptor; in 3-9 a placeholder takes its place again."""
        if fd in _USER_RANGE and self._devnull != -1:
            self._placeholder(fd)
            return
        try:
            os.close(fd)
        except OSError:
            pass

    def push(self) -> Frame:
        frame = Frame()
        _ACTIVE_FRAMES.append(frame)
        return frame

    def restore(self, frame: Frame) -> None:
        for fd, saved in reversed(frame.saved):
            if saved == -1:
                self._close_user(fd)
            else:
                os.dup2(saved, fd)
                self._close_internal(saved)
        frame.saved.clear()
        if _ACTIVE_FRAMES and _ACTIVE_FRAMES[-1] is frame:
            _ACTIVE_FRAMES.pop()
        elif frame in _ACTIVE_FRAMES:
            _ACTIVE_FRAMES.remove(frame)

    def forget_internal(self) -> None:
        """In a forked child: the parent's frames are not ours to restore."""
        _ACTIVE_FRAMES.clear()

    def allocate(self, source: int) -> int:
        """A new user descriptor (for `{name}>file`): the lowest free one from 10 up."""
        fd = FIRST_INTERNAL_FD
        while fd in self.internal or _is_open(fd):
            fd += 1
        os.dup2(source, fd)
        self.user_high.add(fd)
        return fd


_ACTIVE_FRAMES: list[Frame] = []


def _is_open(fd: int) -> bool:
    try:
        fcntl.fcntl(fd, fcntl.F_GETFD)
    except OSError:
        return False
    return True


def _high(fd: int) -> int:
    """Move a freshly opened descriptor to 10 or above, so that it never sits on a
    number the redirection is about to use (`exec 3>file` may open fd 3 itself)."""
    if fd >= FIRST_INTERNAL_FD:
        return fd
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FIRST_INTERNAL_FD)
    finally:
        os.close(fd)


def open_for_redirect(path: str, op: str, noclobber: bool) -> int:
    """Open the file of a redirection (close-on-exec, at 10 or above until placed)."""
    return _high(_open(path, op, noclobber))


def _open(path: str, op: str, noclobber: bool) -> int:
    if op == "<":
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    if op == "<>":
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    if op in (">>", "&>>"):
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
    if noclobber and op in (">", "&>", ">&"):
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            import stat

            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise OSError(errno.EEXIST, "cannot overwrite existing file") from None
            return fd
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)


def text_to_fd(text: str) -> int:
    """A readable descriptor holding `text` (a here-doc or here-string).

    A pipe when the text fits in its buffer (no writer process needed), else an
    unlinked temporary file.
    """
    data = text.encode("utf-8", "surrogateescape")
    if len(data) <= _PIPE_CAPACITY:
        r, w = os.pipe()
        try:
            if data:
                os.write(w, data)
        finally:
            os.close(w)
        return _high(r)
    tmpdir = os.environ.get("TMPDIR", "/tmp")
    try:
        fd = os.open(tmpdir, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except (OSError, AttributeError):
        import tempfile

        fd, path = tempfile.mkstemp()
        os.unlink(path)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return _high(fd)
