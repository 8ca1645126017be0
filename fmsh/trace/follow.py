"""`trace ID --follow`: watch a task until it ends.

On a terminal the tree is redrawn in place (cropped to the screen: the header, then the
newest lines) every interval, and drawn whole once the task has ended. Into a pipe or a
file, where a redraw would be noise, it writes one line as each step starts and ends,
like `tail -f`. Either way it ends when the task ends (or its owner is found gone), with
the task's exit status: 0 done, the task's own status when it failed, 1 otherwise.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Any

from fmsh.tasks.views import duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from fmsh.trace.tree import Paint

_ENDED = ("done", "failed", "cancelled", "interrupted")
_HEADER = 3  # lines of the tree's header, always shown


def follow(environ: Mapping[str, str], spec: str, interval: float, each_host: bool, color: str) -> int:
    from fmsh.trace.command import load, paint_for

    paint = paint_for(color)
    live = os.isatty(1) and os.environ.get("TERM") != "dumb"
    view: _Live | _Lines = _Live(paint, each_host) if live else _Lines(paint)
    try:
        while True:
            started = time.monotonic()
            document = load(environ, spec)
            ended = document["task"]["status"] in _ENDED
            view.show(document, final=ended)
            if ended:
                return _status(document["task"])
            # a big journal takes a while to read: look less often rather than all the time
            time.sleep(max(interval, 2 * (time.monotonic() - started)))
    except KeyboardInterrupt:
        view.stop()
        return 130


def _status(task: dict[str, Any]) -> int:
    if task["status"] == "done":
        return 0
    if task["status"] == "failed" and task["exit_status"]:
        return int(task["exit_status"])
    return 1


class _Live:
    """The tree, redrawn in place."""

    def __init__(self, paint: Paint, each_host: bool) -> None:
        self.paint = paint
        self.each_host = each_host
        self.height = 0  # lines drawn last time

    def show(self, document: dict[str, Any], final: bool) -> None:
        from fmsh.trace.tree import render

        lines = render(document, self.paint, self.each_host).splitlines()
        if not final:
            rows = shutil.get_terminal_size((80, 24)).lines - 1
            if len(lines) > rows:
                hidden = len(lines) - rows + 1
                lines = [*lines[:_HEADER], f"  … {hidden} lines above", *lines[_HEADER + hidden :]]
            lines.append(self.paint("dim", f"following task {document['task']['id']}: Ctrl-C to stop"))
        erase = f"\x1b[{self.height}F\x1b[J" if self.height else ""
        sys.stdout.write(erase + "\n".join(lines) + "\n")
        sys.stdout.flush()
        self.height = len(lines)

    def stop(self) -> None:
        sys.stdout.write("\n")
        sys.stdout.flush()


class _Lines:
    """A line as each step starts and ends."""

    def __init__(self, paint: Paint) -> None:
        self.paint = paint
        self.started: set[int] = set()
        self.ended: set[int] = set()
        self.first = True

    def show(self, document: dict[str, Any], final: bool) -> None:
        from fmsh.trace.tree import render

        out = sys.stdout
        if self.first:
            out.write("\n".join(render(document, self.paint).splitlines()[:_HEADER]) + "\n")
            self.first = False
        for step in document["steps"]:
            seq = step["seq"]
            done = step["ended_at"] is not None or step["status"] not in ("running",)
            if seq not in self.started and not done:
                self.started.add(seq)
                out.write(f"{_clock(step['started_at'])}  {seq}  L{step['line']}  {step['text']}  started\n")
            if done and seq not in self.ended:
                self.started.add(seq)
                self.ended.add(seq)
                out.write(self._ended(step))
        if final:
            task = document["task"]
            status = task["status"] + (f" (exit {task['exit_status']})" if task["exit_status"] is not None else "")
            out.write(f"task {task['id']} {task['name']}: {self.paint.status(status)}, {duration(task['duration'])}\n")
        out.flush()

    def _ended(self, step: dict[str, Any]) -> str:
        when = step["ended_at"] or step["started_at"]
        line = f"{_clock(when)}  {step['seq']}  L{step['line']}  {step['text']}  "
        line += f"{self.paint.status(step['label'])}  {duration(step['duration'])}"
        if step["groups"] and len(step["hosts"]) > 1:
            line += "  " + " · ".join(f"{g['nodeset']} {g['label']} ({g['count']})" for g in step["groups"])
        return line + "\n"

    def stop(self) -> None:
        sys.stdout.flush()


def _clock(at: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) if at else "--:--:--"
