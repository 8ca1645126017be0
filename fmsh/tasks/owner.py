"""Who owns a task, and whether that owner is gone.

An owner is a process on a machine. It is gone when its lease has expired without a
heartbeat, or, on the same machine (same boot), at once when its pid no longer names the
process that took the lease (the start time tells a reused pid apart).
"""

from __future__ import annotations

import os
import time

from fmsh.journal.base import Owner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.journal.records import TaskRecord


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def process_started(pid: int) -> str | None:
    """`BOOT:TICKS`, the process's start time since boot (/proc/PID/stat field 22); None
    when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return None
    except OSError:
        return ""  # no /proc: only the lease can tell
    fields = stat[stat.rfind(b")") + 2 :].split()
    return f"{_boot_id()}:{fields[19].decode()}"


def this_process() -> Owner:
    import socket

    return Owner(socket.gethostname(), os.getpid(), process_started(os.getpid()) or "")


def owner_gone(task: TaskRecord, here: Owner) -> bool:
    """Whether the task's owner can no longer be running it: its lease expired (it stopped
    sending heartbeats: dead, stopped, cut off), or, on this machine, its process is gone."""
    if task.owner_pid is None or task.lease_expires is None or task.lease_expires < time.time():
        return True
    recorded = task.owner_started or ""
    boot = here.started.partition(":")[0]
    if task.owner_host == here.host and boot and recorded.startswith(boot + ":"):
        if task.owner_pid == here.pid and recorded == here.started:
            return False
        return process_started(task.owner_pid) != recorded
    return False


def describe_owner(task: TaskRecord) -> str:
    if task.owner_pid is None:
        return "nobody"
    return f"{task.owner_host}:{task.owner_pid}"
