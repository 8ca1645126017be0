"""The task builtins: tasks, trace, log, resume, cancel, retry, forget.

Each runs the task command of the same name (`fmsh --NAME ARGS`, fmsh/tasks/commands.py)
as a child process: one implementation, whether typed at the prompt, written in a script
or run from outside; and a resumed task runs in a shell of its own, made as the task's
first one was, not in the shell that asked for it.
"""

from __future__ import annotations

import sys

from fmsh.builtins.base import Builtin


class TaskCommand(Builtin):
    def run(self, argv: list[str]) -> int:
        from fmsh.runtime import process

        sh = self.sh
        command = [sys.executable, "-m", "fmsh", f"--{self.name}", *argv[1:]]
        pid = process.spawn(sys.executable, command, sh.vars.environ(), process.reset_signals_for_exec())
        return sh.wait_foreground([pid])[-1]


class Tasks(TaskCommand):
    """`tasks [-a] [-n N] [--status S] [--name GLOB] [--json]`: the tasks in the journal."""

    name = "tasks"


class Trace(TaskCommand):
    """`trace ID [--json] [--hosts] [--html FILE] [--follow] ...`: a task as a tree of its steps."""

    name = "trace"


class Log(TaskCommand):
    """`log ID [STEP] [--host HOST] [--json]`: the output a task's steps left in the journal."""

    name = "log"


class Resume(TaskCommand):
    """`resume ID [--accept-changes]`: run an interrupted task again; finished steps are not run again."""

    name = "resume"


class Cancel(TaskCommand):
    """`cancel ID`: its owner stops before its next step; it will not be resumed."""

    name = "cancel"


class Retry(TaskCommand):
    """`retry ID --from STEP`: a new task, the finished steps before STEP carried over."""

    name = "retry"


class Forget(TaskCommand):
    """`forget ID`: remove a task and all that was journaled for it."""

    name = "forget"
