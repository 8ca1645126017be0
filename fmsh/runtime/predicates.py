"""The predicates of `test`, `[` and `[[`: file tests and comparisons."""

from __future__ import annotations

import os
import stat

UNARY_FILE_OPS = frozenset("abcdefghkprstuwxGLNOS")
STRING_BINARY_OPS = frozenset(["=", "==", "!=", "<", ">"])
INTEGER_BINARY_OPS = frozenset(["-eq", "-ne", "-lt", "-le", "-gt", "-ge"])
FILE_BINARY_OPS = frozenset(["-nt", "-ot", "-ef"])


def _stat(path: str, follow: bool = True) -> os.stat_result | None:
    try:
        return os.stat(path) if follow else os.lstat(path)
    except (OSError, ValueError):
        return None


def file_test(op: str, path: str) -> bool:
    """`-f path` and the other one-letter file tests (op without the dash)."""
    if op == "t":
        try:
            return os.isatty(int(path))
        except (ValueError, OSError):
            return False
    if op in "hL":
        st = _stat(path, follow=False)
        return st is not None and stat.S_ISLNK(st.st_mode)
    st = _stat(path)
    if st is None:
        return False
    mode = st.st_mode
    if op in "ae":
        return True
    if op == "f":
        return stat.S_ISREG(mode)
    if op == "d":
        return stat.S_ISDIR(mode)
    if op == "b":
        return stat.S_ISBLK(mode)
    if op == "c":
        return stat.S_ISCHR(mode)
    if op == "p":
        return stat.S_ISFIFO(mode)
    if op == "S":
        return stat.S_ISSOCK(mode)
    if op == "s":
        return st.st_size > 0
    if op == "g":
        return bool(mode & stat.S_ISGID)
    if op == "u":
        return bool(mode & stat.S_ISUID)
    if op == "k":
        return bool(mode & stat.S_ISVTX)
    if op == "r":
        return os.access(path, os.R_OK)
    if op == "w":
        return os.access(path, os.W_OK)
    if op == "x":
        return os.access(path, os.X_OK)
    if op == "O":
        return st.st_uid == os.geteuid()
    if op == "G":
        return st.st_gid == os.getegid()
    if op == "N":
        return st.st_mtime_ns > st.st_atime_ns  # modified since last read (bash 5.2)
    return False


def file_compare(op: str, left: str, right: str) -> bool:
    a, b = _stat(left), _stat(right)
    if op == "-ef":
        return a is not None and b is not None and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
    if op == "-nt":
        return a is not None and (b is None or a.st_mtime > b.st_mtime)
    return b is not None and (a is None or a.st_mtime < b.st_mtime)


def integer_compare(op: str, a: int, b: int) -> bool:
    if op == "-eq":
        return a == b
    if op == "-ne":
        return a != b
    if op == "-lt":
        return a < b
    if op == "-le":
        return a <= b
    if op == "-gt":
        return a > b
    return a >= b


def string_compare(op: str, a: str, b: str) -> bool:
    if op in ("=", "=="):
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    return a > b
