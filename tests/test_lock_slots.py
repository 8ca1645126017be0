"""`lock -n N NAME`: a counting semaphore over the journal's `locks` table (its slots are
the locks NAME#1 .. NAME#N), between real fmsh processes sharing a journal file: at most N
holders at once, a killed holder's slot freed at once, 124 when all are taken, LOCK_SLOT
and LOCK_EPOCH, unlock, `-n 1` as the mutex, a task (and a resumed one) as the holder,
and the usage errors.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import journalbox
import pytest
from journalbox import finish as _finish
from journalbox import kill_group as _kill

HERE = os.uname().nodename
GATE = 'gate() { sh -c \'touch "waiting-$1"; while [ ! -e "$1" ]; do sleep 0.02; done\' gate "$1"; }\n'


@pytest.fixture
def box(tmp_path: Path) -> journalbox.Box:
    return journalbox.Box(tmp_path)


def _holding(*procs: subprocess.Popen[str]) -> None:
    """Wait until each of `procs` says it holds its lock (`echo held`)."""
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"


def _rows(box: journalbox.Box) -> list[tuple[str, str | None, int]]:
    return box.query("SELECT name, holder, epoch FROM locks ORDER BY name")


def test_at_most_n_run_at_once_and_all_run(box: journalbox.Box) -> None:
    log = box.root / "log"
    work = f'echo "$0 in $(date +%s.%N)" >> {log}; sleep 0.4; echo "$0 out $(date +%s.%N)" >> {log}'
    procs = [box.start("-c", f"lock -n 2 job 30s -- sh -c '{work}' {who}; echo status=$?") for who in "abcde"]
    try:
        results = [_finish(proc) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                _kill(proc)
    assert [r[:2] for r in results] == [(0, "status=0\n")] * 5, results
    stamps = {(who, edge): float(at) for who, edge, at in (line.split() for line in log.read_text().splitlines())}
    assert {who for who, _ in stamps} == set("abcde")  # all 5 ran
    # A sweep over the starts and ends (an end before a start at the same instant).
    events = sorted((at, 0 if edge == "out" else 1) for (_, edge), at in stamps.items())
    running, most = 0, 0
    for _, start in events:
        running += 1 if start else -1
        most = max(most, running)
    assert most == 2, sorted(stamps.items(), key=lambda item: item[1])  # 2 at once, never 3
    rows = _rows(box)
    assert [(name, holder) for name, holder, _ in rows] == [("job#1", None), ("job#2", None)]  # all released
    assert sum(epoch for _, _, epoch in rows) == 5  # 5 acquisitions in all


def test_a_killed_holders_slot_is_free_at_once(box: journalbox.Box) -> None:
    first = box.start("-c", "lock -n 2 k; echo held; sleep 60")
    second = box.start("-c", "lock -n 2 k; echo held; sleep 60")
    try:
        _holding(first, second)
        [(slot,)] = box.query("SELECT name FROM locks WHERE holder = ?", f"{HERE}:{first.pid}")
        _kill(first)  # SIGKILL: no exit handler runs
        assert box.query("SELECT holder FROM locks WHERE name = ?", slot) == [(f"{HERE}:{first.pid}",)]
        started = time.monotonic()
        r = box.run("-c", "lock -n 2 k 10s; echo status=$? slot=$LOCK_SLOT epoch=$LOCK_EPOCH")
        assert r.out == f"status=0 slot={slot[-1]} epoch=2\n", r.err
        assert time.monotonic() - started < 5  # its process is gone: no need to wait for the lease
    finally:
        _kill(first)
        _kill(second)


def test_all_slots_taken_is_124_and_says_by_whom(box: journalbox.Box) -> None:
    first = box.start("-c", "lock -n 2 x; echo held; sleep 30")
    second = box.start("-c", "lock -n 2 x; echo held; sleep 30")
    try:
        _holding(first, second)
        r = box.run("-c", "lock -n 2 x 0; echo status=$?")
        assert r.out == "status=124\n"
        holders = {f"{HERE}:{first.pid}", f"{HERE}:{second.pid}"}
        found = re.fullmatch(
            r"fmsh: lock: x: timed out after 0s: all 2 slots are taken: "
            r"x#1 by (\S+) since [-\d: ]+ \(epoch 1\), x#2 by (\S+) since [-\d: ]+ \(epoch 1\)\n",
            r.err,
        )
        assert found and set(found.groups()) == holders, r.err
        waited = box.run("-c", "lock -n 2 x 1s; echo status=$?")
        assert waited.out == "status=124\n" and "timed out after 1s: all 2 slots are taken" in waited.err
        listed = [line.split()[:3] for line in box.run("-c", "lock -l").out.splitlines()]
        assert listed[0] == ["NAME", "HOLDER", "EPOCH"]
        assert [(name, epoch) for name, _, epoch in listed[1:]] == [("x#1", "1"), ("x#2", "1")]
        assert {holder for _, holder, _ in listed[1:]} == holders  # the slots as they are
        # Another N is another set of slots: -n 3 finds its third free.
        more = box.run("-c", "lock -n 3 x 0; echo status=$? slot=$LOCK_SLOT; unlock x; echo status=$?")
        assert (more.out, more.err) == ("status=0 slot=3\nstatus=0\n", "")
        # Not this shell's: unlock says whose they are.
        refused = box.run("-c", "unlock x; echo status=$?; unlock -f x; echo status=$?")
        assert refused.out == "status=1\nstatus=1\n"
        assert "unlock: x: its slots are held by others, not this shell: x#1 by" in refused.err
        assert "(`unlock -f x#1' forces one open)" in refused.err
        forced = box.run("-c", "unlock -f x#2; echo status=$?; lock -n 2 x 0; echo status=$? slot=$LOCK_SLOT")
        assert forced.out == "status=0\nstatus=0 slot=2\n"
    finally:
        _kill(first)
        _kill(second)


def test_lock_slot_epoch_unlock_and_one_holder_one_slot(box: journalbox.Box) -> None:
    r = box.run(
        "-c",
        "set -eu; lock -n 2 x; echo slot=$LOCK_SLOT epoch=$LOCK_EPOCH; s=$LOCK_SLOT; "
        "lock -n 2 x 0; echo again=$LOCK_SLOT epoch=$LOCK_EPOCH; lock -l | wc -l; "  # renewed, not a second slot
        "unlock x; lock -l | wc -l; unlock x || echo status=$?",
    )
    assert r.status == 0, r.err
    slot = r.out.split()[0].removeprefix("slot=")
    assert slot in ("1", "2")
    assert r.out.split("\n")[:5] == [f"slot={slot} epoch=1", f"again={slot} epoch=1", "2", "0", "status=1"]
    assert "unlock: x: not locked" in r.err
    assert _rows(box) == [(f"x#{slot}", None, 1)]
    # The one holder the other holds, a second holder takes the other slot.
    holder = box.start("-c", "lock -n 2 y; echo held; echo $LOCK_SLOT; sleep 30")
    try:
        _holding(holder)
        assert holder.stdout is not None
        taken = int(holder.stdout.readline())
        other = box.run("-c", "lock -n 2 y 0; echo slot=$LOCK_SLOT")
        assert other.out == f"slot={3 - taken}\n", other.err
    finally:
        _kill(holder)


def test_n_1_is_the_mutex(box: journalbox.Box) -> None:
    holder = box.start("-c", "lock -n 1 m; echo held; echo slot=$LOCK_SLOT epoch=$LOCK_EPOCH; sleep 30")
    try:
        _holding(holder)
        assert holder.stdout is not None and holder.stdout.readline() == "slot=1 epoch=1\n"
        assert box.query("SELECT name FROM locks") == [("m",)]  # no #: the mutex's own row
        r = box.run("-c", "lock m 0; echo status=$?; lock -n 1 m 0; echo status=$?")
        assert r.out == "status=124\nstatus=124\n"
        held_by = rf"held by {re.escape(HERE)}:{holder.pid} since [-\d: ]+ \(epoch 1\)"
        assert re.fullmatch(rf"(fmsh: lock: m: timed out after 0s: {held_by}\n){{2}}", r.err), r.err
    finally:
        _kill(holder)
    plain = box.run("-c", "lock m 5s; echo slot=$LOCK_SLOT epoch=$LOCK_EPOCH; unlock m; lock -l")
    assert (plain.out, plain.err) == ("slot=1 epoch=2\n", "")


def test_a_tasks_slot_is_held_by_the_task(box: journalbox.Box) -> None:
    r = box.run("-c", "task t { lock -n 2 x; lock -l; echo slot=$LOCK_SLOT epoch=$LOCK_EPOCH; }")
    assert r.status == 0, r.err
    lines = r.out.splitlines()
    slot = lines[2].split()[0].removeprefix("slot=")
    assert lines[1].split()[:4] == [f"x#{slot}", "task", "1", "1"] and lines[2] == f"slot={slot} epoch=1"
    assert _rows(box) == [(f"x#{slot}", None, 1)]  # released when the task ended


def test_a_resumed_task_takes_its_slot_again(box: journalbox.Box) -> None:
    box.script(
        "job.fmsh",
        GATE + "task job {\n"
        "  lock -n 2 x\n"
        '  echo "before $LOCK_SLOT $LOCK_EPOCH" >> seen\n'
        "  gate go\n"
        '  echo "after $LOCK_SLOT $LOCK_EPOCH" >> seen\n'
        "  lock -l >> seen\n"
        "}\n",
    )
    proc = box.start("job.fmsh")
    try:
        box.wait_for("waiting-go")
    finally:
        _kill(proc)
    [(row, holder)] = box.query("SELECT name, holder FROM locks")
    assert holder == "task 1"
    # Its shell is dead, so any other holder could take the slot; this task takes it again
    # (not the other slot, which is free too: it holds one slot of x, never two).
    (box.root / "go").touch()
    resumed = box.run("--resume", "1")
    assert resumed.status == 0, resumed.err
    seen = (box.root / "seen").read_text().splitlines()
    slot = row.removeprefix("x#")
    assert seen[:2] == [f"before {slot} 1", f"after {slot} 1"]  # the same slot, the same epoch
    assert [line.split()[:4] for line in seen[3:]] == [[row, "task", "1", "1"]]
    assert _rows(box) == [(row, None, 1)]


def test_lock_n_usage(box: journalbox.Box) -> None:
    for args, message in [
        ("-n 0 x", "lock: -n `0': not a number of slots (a whole number, 1 or more)"),
        ("-n x x", "lock: -n `x': not a number of slots"),
        ("-n -1 x", "lock: -n `-1': not a number of slots"),
        ("-n 1.5 x", "lock: -n `1.5': not a number of slots"),
        ("-n", "lock: -n: needs a number of slots"),
        ("-n 2", "usage: lock NAME"),
        ("-n 2 -x", "usage: lock NAME"),
        ("-n 2 'a b'", "lock: `a b': not a lock name"),
    ]:
        r = box.run("-c", f"lock {args}; echo status=$?")
        assert r.out == "status=2\n" and message in r.err, (args, r.err)
    assert _rows(box) == []
