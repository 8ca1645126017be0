"""Reports on the journal: the summary that opens `tasks` (counts by shown status over the
whole journal, the recent failures and the step each failed at), and `log --json` (each
journaled chunk of output as a JSON object), with real runs and, for remote output, real
sshd hosts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import TRACEBACK, run_fmsh
from journalbox import Box, lab_env
from journalbox import kill_group as _kill


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(tmp_path)


def _interrupted(box: Box, name: str) -> None:
    """A task SIGKILLed in its second step: journaled as running, its owner gone."""
    proc = box.start("-c", f"task {name} {{\n  touch started-{name}\n  sleep 30\n}}")
    box.wait_for(f"started-{name}")
    _kill(proc)


def _parts(out: str) -> tuple[list[str], list[str]]:
    """The summary's lines and the table's (after the blank line between them)."""
    summary, blank, table = out.partition("\n\n")
    assert blank, out
    return summary.splitlines(), table.splitlines()


# --- tasks: the summary ----------------------------------------------------------------


def test_the_summary_counts_every_task_by_its_shown_status(box: Box) -> None:
    box.run("-c", "task ok { /bin/true; }")
    box.run("-c", "set -e\ntask deploy {\n  /bin/true\n  sh -c 'exit 4'\n  echo never\n}")
    box.run("-c", "task ok { /bin/true; }")
    _interrupted(box, "hang")
    out = box.run("--tasks").out
    summary, table = _parts(out)
    # the killed task is still `running` in the journal: counted as what it is, interrupted
    assert summary[0] == "4 tasks: 2 done · 1 failed · 1 interrupted"
    assert table[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert [row.split()[:3] for row in table[1:]] == [
        ["4", "hang", "interrupted"],
        ["3", "ok", "done"],
        ["2", "deploy", "failed"],
        ["1", "ok", "done"],
    ]
    # the table is limited or filtered; the summary is still of the whole journal
    summary, table = _parts(box.run("--tasks", "-n", "1").out)
    assert summary[0] == "4 tasks: 2 done · 1 failed · 1 interrupted" and len(table) == 2
    summary, table = _parts(box.run("--tasks", "--status", "done", "--name", "o*").out)
    assert summary[0].startswith("4 tasks: ") and [row.split()[0] for row in table[1:]] == ["3", "1"]
    summary, table = _parts(box.run("--tasks", "--status", "cancelled").out)
    assert summary[0].startswith("4 tasks: ") and table == ["no tasks match --status cancelled"]


def test_recent_failures_name_the_step_that_failed(box: Box) -> None:
    box.run("-c", "set -e\ntask deploy {\n  /bin/true\n  sh -c 'exit 4'\n  echo never\n}")
    _interrupted(box, "hang")
    summary, _ = _parts(box.run("--tasks").out)
    assert summary[0] == "2 tasks: 1 failed · 1 interrupted"
    assert summary[1] == "recent failures:"
    hang, deploy = summary[2:]
    # newest first: id, name, when it started, its exit status, and the step it stopped at
    assert hang.split()[:2] == ["2", "hang"]
    assert hang.endswith("interrupted at step 2: sleep 30 (in flight)")
    assert deploy.split()[:2] == ["1", "deploy"]
    assert deploy.endswith("exit 4 at step 2: sh -c 'exit 4' (exit 4)")
    started = box.tasks()[1]["created_at"]
    assert " ".join(deploy.split()[2:4]) == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))


def test_only_the_three_newest_failures_are_shown(box: Box) -> None:
    for n in range(1, 5):
        box.run("-c", f"task f{n} {{\n  /bin/true\n  /bin/false\n  exit {n}\n}}")
    box.run("-c", "task ok { /bin/true; }")
    summary, _ = _parts(box.run("--tasks").out)
    assert summary[0] == "5 tasks: 1 done · 4 failed"
    assert [line.split()[:2] for line in summary[2:]] == [["4", "f4"], ["3", "f3"], ["2", "f2"]]
    assert all(line.endswith("at step 2: /bin/false (exit 1)") for line in summary[2:])
    assert "exit 4 at step 2" in summary[2]


def test_no_failures_no_section_and_json_is_unchanged(box: Box) -> None:
    box.run("-c", "task ok { /bin/true; }")
    out = box.run("--tasks").out
    assert out.startswith("1 task: 1 done\n\nID  NAME")
    assert "recent failures" not in out
    listed = box.run("--tasks", "--json").out
    assert [json.loads(line)["name"] for line in listed.splitlines()] == ["ok"]  # one task a line, no summary


def test_an_empty_journal_still_says_no_tasks_yet(box: Box) -> None:
    assert box.run("--tasks").out == "no tasks yet\n"
    box.run("-c", "task t { /bin/true; }")
    box.run("--forget", "1")
    assert box.run("--tasks").out == "no tasks yet\n"


# --- log --json ------------------------------------------------------------------------


def _objects(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.splitlines()]


def _texts(objects: list[dict]) -> dict[tuple[str, str], str]:  # type: ignore[type-arg]
    """(host, stream) → the text of its chunks, joined in journal order."""
    joined: dict[tuple[str, str], str] = {}
    for o in objects:
        joined[o["host"], o["stream"]] = joined.get((o["host"], o["stream"]), "") + o["text"]
    return joined


FIELDS = {"task", "seq", "key", "step", "host", "attempt", "stream", "at", "text", "truncated"}


def test_log_json_of_a_fan_out(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    script = "/bin/true\n@host0[1-3] sh -c 'echo out-$0; echo err-$0 >&2; printf é' x\n"
    env = lab_env(ssh_lab, tmp_path)
    assert run_fmsh("-c", script, env=env, cwd=tmp_path).status == 0
    log = run_fmsh("--log", "1", "--json", env=env, cwd=tmp_path)
    assert (log.status, log.err) == (0, "")
    objects = _objects(log.out)
    assert all(set(o) == FIELDS for o in objects)
    assert {(o["task"], o["seq"], o["key"], o["attempt"], o["truncated"]) for o in objects} == {(1, 2, "2:1", 1, False)}
    assert objects[0]["step"] == "@host0[1-3] sh -c 'echo out-$0; echo err-$0 >&2; printf é' x"
    hosts = ("host01", "host02", "host03")
    expected = {(h, "stdout"): "out-x\né" for h in hosts} | {(h, "stderr"): "err-x\n" for h in hosts}
    assert _texts(objects) == expected
    assert all(isinstance(o["at"], float) for o in objects)
    # the same selection as the text mode: a step, a host
    one = run_fmsh("--log", "1", "2", "--host", "host02", "--json", env=env, cwd=tmp_path)
    assert _texts(_objects(one.out)) == {("host02", "stdout"): "out-x\né", ("host02", "stderr"): "err-x\n"}


def test_log_json_marks_output_journaled_in_part(ssh_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = lab_env(ssh_lab, tmp_path)
    run_fmsh("-c", "@host04 seq 1 1000", env=lab_env(ssh_lab, tmp_path, FMSH_JOURNAL_OUTPUT="100"), cwd=tmp_path)
    log = run_fmsh("--log", "1", "--json", env=env, cwd=tmp_path)
    objects = _objects(log.out)
    assert "".join(o["text"] for o in objects) == "".join(f"{n}\n" for n in range(1, 1001))[:100]
    assert all(o["truncated"] is True for o in objects)
    assert "only the first part of its 3893 bytes was journaled" in log.err  # for a person, as in text mode


def test_log_json_of_a_capture(box: Box) -> None:
    box.run("-c", "task t {\n  a=$(printf 'one\\ntwo')\n  /bin/true\n}")
    log = box.run("--log", "1", "--json")
    assert log.status == 0, log.err
    [capture] = _objects(log.out)
    assert capture["stream"] == "capture" and capture["host"] == ""
    assert (capture["task"], capture["seq"], capture["key"], capture["text"]) == (1, 1, "2:7", "one\ntwo")
    assert capture["step"] == "printf 'one\\ntwo'" and set(capture) == FIELDS


def test_log_json_with_nothing_to_show(box: Box) -> None:
    box.run("-c", "task t {\n  /bin/true\n}")
    text, as_json = box.run("--log", "1"), box.run("--log", "1", "--json")
    assert (as_json.status, as_json.out) == (1, "")
    assert as_json.err == text.err == "fmsh: log: task 1 has no journaled output\n"
    bad = box.run("--log", "9", "--json")
    assert bad.status == 1 and TRACEBACK not in bad.err
