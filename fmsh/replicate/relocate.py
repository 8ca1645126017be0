"""Taking a replicated journal over on another machine, by hand or by a standby.

    fmsh --recover --from URL      restore the newest epoch here, claim the next one, and
                                   resume the tasks that were running
    fmsh --standby --from URL      watch the owner's heartbeat; recover once it has been
                                   silent for the TTL (measured on this machine's own
                                   monotonic clock, so clocks that disagree do not matter)
    fmsh --replicate status        the replica, the epochs, the heartbeat, the last sync

Claiming epoch N+1 is an exclusive create on the replica, so two machines that recover at
once cannot both win; the loser says who won. The tasks the old owner was running are
marked interrupted (their owner is fenced: whatever it still writes goes to its dead
epoch's path) and resumed here, each by `fmsh --resume ID` in a child process, while this
process runs the Litestream that streams the journal to the new epoch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from fmsh.replicate.control import (
    DEFAULT_TTL,
    ReplicaSettings,
    Replication,
    owner_record,
    read_sidecar,
    write_sidecar,
)
from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def recover(url: str, environ: Mapping[str, str], report: Callable[[str], None], resume: bool = True) -> int:
    from fmsh.journal import journal_path, open_journal
    from fmsh.replicate.litestream import restore
    from fmsh.replicate.store import open_store

    path = journal_path(environ)
    if os.path.exists(path):
        raise ShellError(f"{path} exists: recover restores the journal into a new file; move it away, or set "
                         "FMSH_JOURNAL to a new path", status=2)  # fmt: skip
    store = open_store(url, environ)
    try:
        newest = store.newest()
        if newest == 0:
            raise ShellError(f"{url} holds no journal yet (no epoch was ever claimed there)", status=1)
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        state = path + ".litestream"
        os.makedirs(state, mode=0o700, exist_ok=True)
        started = time.monotonic()
        restore(store.litestream_replica(newest), path, state)
        os.chmod(path, 0o600)
        took = time.monotonic() - started
        mine = newest + 1
        if not store.claim(mine, owner_record(mine)):
            winner = (store.read_claim(mine) or {}).get("owner", "another machine")
            _discard(path)
            raise ShellError(f"epoch {mine} of {url} was claimed by {winner} first: it recovers, not this machine",
                             status=75)  # fmt: skip
        write_sidecar(path, url, mine)
    finally:
        store.close()
    report(f"recover: restored {path} from {url} (epoch {newest}) in {took * 1000:.0f} ms; "
           f"this machine now holds epoch {mine}")  # fmt: skip
    journal = open_journal(dict(environ), create=False)
    assert journal is not None
    try:
        fenced = journal.fence_running(f"its owner held replica epoch {newest}; epoch {mine} took over")
    finally:
        journal.close()
    if not fenced:
        report("recover: no task was running there")
        return 0
    report(f"recover: resuming task{'s' if len(fenced) > 1 else ''} {', '.join(map(str, fenced))}")
    if not resume:
        return 0
    return _resume_all(url, path, fenced, environ)


def _discard(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass


def _resume_all(url: str, path: str, task_ids: list[int], environ: Mapping[str, str]) -> int:
    """Resume each task in a child, while this process runs the journal's Litestream."""
    settings = ReplicaSettings.from_environ({**environ, "FMSH_REPLICA": url})
    assert settings is not None
    child_environ = {**os.environ, **environ, "FMSH_REPLICA": url, "FMSH_JOURNAL": path}
    replication = Replication(path, settings, child_environ)
    replication.attach()
    try:
        children = [
            subprocess.Popen([sys.executable, "-m", "fmsh", "--resume", str(task_id)], env=child_environ)
            for task_id in task_ids
        ]
        statuses = [child.wait() for child in children]
    finally:
        replication.detach()
    return next((status for status in statuses if status != 0), 0)


def standby(url: str, environ: Mapping[str, str], ttl: float, report: Callable[[str], None]) -> int:
    """Watch the newest epoch's heartbeat; recover when it has been silent for `ttl`
    seconds while a task was running there (an owner with no task running says so in its
    last heartbeat, and its silence is not a death)."""
    from fmsh.replicate.store import open_store

    store = open_store(url, environ)
    report(f"standby: watching {url}; taking over after {ttl:g}s without a heartbeat")
    seen: tuple[int, str] | None = None
    since = time.monotonic()
    try:
        while True:
            newest = store.newest()
            beat = store.read_heartbeat(newest) if newest else None
            now = (newest, json.dumps(beat, sort_keys=True))
            if now != seen:
                seen, since = now, time.monotonic()
            elif newest and (beat or {}).get("state") != "idle" and time.monotonic() - since >= ttl:
                owner = (beat or store.read_claim(newest) or {}).get("owner", "?")
                report(f"standby: no heartbeat from epoch {newest} ({owner}) for {ttl:g}s: taking over")
                break
            time.sleep(min(0.25, ttl / 8))
    finally:
        store.close()
    return recover(url, environ, report)


def status(environ: Mapping[str, str]) -> str:
    from fmsh.journal import journal_path
    from fmsh.replicate.store import open_store

    settings = ReplicaSettings.from_environ(environ)
    path = journal_path(environ)
    sidecar = read_sidecar(path)
    url = settings.url if settings is not None else (sidecar or {}).get("url")
    if not url:
        return f"the journal {path} does not replicate (FMSH_REPLICA or [replicate] url in the config file)\n"
    lines = [f"replica     {url}", f"journal     {path}"]
    mine = int((sidecar or {}).get("epoch") or 0)
    store = open_store(url, environ)
    try:
        newest = store.newest()
        claim = store.read_claim(newest) if newest else None
        beat = store.read_heartbeat(newest) if newest else None
    finally:
        store.close()
    held = f"{mine} (this journal)" if mine else "none (this journal has not replicated yet)"
    lines.append(f"epoch       {held}; newest on the replica: {newest or 'none'}"
                 + (f", claimed by {claim.get('owner')}" if claim else ""))  # fmt: skip
    if mine and newest > mine:
        lines.append(f"            taken over: epoch {newest} is another machine's; no task of the journal runs here")
    if beat:
        state = "idle (no task running)" if beat.get("state") == "idle" else f"{time.time() - beat['at']:.1f}s ago"
        lines.append(f"heartbeat   {state}, from {beat.get('owner')}")
    synced = _last_sync(path)
    if synced is not None:
        lag = max(0.0, _modified(path) - synced["at"])
        lines.append(f"last sync   {time.time() - synced['at']:.1f}s ago, took {synced['seconds'] * 1000:.0f} ms; "
                     f"lag {lag:.1f}s (journal written since)")  # fmt: skip
    configured = ReplicaSettings.from_environ({**environ, "FMSH_REPLICA": url})
    ttl = configured.ttl if configured is not None else DEFAULT_TTL
    lines.append(f"ttl         {ttl:g}s (a standby takes over after this much silence)")
    return "\n".join(lines) + "\n"


def _last_sync(path: str) -> dict[str, float] | None:
    try:
        with open(os.path.join(path + ".litestream", "last-sync"), encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _modified(path: str) -> float:
    times = []
    for suffix in ("", "-wal"):
        try:
            times.append(os.stat(path + suffix).st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)
