"""`signal ID NAME [VALUE]`: send a named signal (an event, not a Unix signal) to task ID,
for its `await signal NAME` (see fmsh/interp/awaits.py).

The signal goes into the task's journal (the one FMSH_JOURNAL names, as for the other
task commands), so it reaches the task from any process, at the prompt, in a script, or
as `fmsh -c 'signal 42 approve yes'`, whether the task's shell is alive or not. The
journal decides in one transaction what becomes of it: kept until an await takes it
(status 0, nothing printed: also when it is sent before the await starts, or while the
task's shell is dead and will be resumed), or late, because the task has ended or its
await of NAME timed out (a message, status 1; it is journaled all the same, as `late`).
An unknown task: status 1; bad usage: status 2.
"""

from __future__ import annotations

from fmsh.builtins.base import Builtin, UsageError

_USAGE = "usage: signal ID NAME [VALUE]"


class Signal(Builtin):
    name = "signal"

    def is_step(self, argv: list) -> bool:
        # In a task, sending is an effect outside the shell: a resumed task does not send again.
        return True

    def run(self, argv: list[str]) -> int:
        from fmsh.tasks.owner import this_process
        from fmsh.tasks.start import find_task, open_existing

        operands = argv[1:]
        if operands[:1] == ["--"]:
            operands = operands[1:]
        elif operands and operands[0].startswith("-") and operands[0] != "-":
            raise UsageError(f"{operands[0]}: invalid option; {_USAGE}")
        if not 2 <= len(operands) <= 3:
            raise UsageError(_USAGE)
        spec, name = operands[0], operands[1]
        value = operands[2] if len(operands) == 3 else None
        if not spec.isdigit():
            raise UsageError(f"`{spec}': not a task id (a number: `tasks` lists them)")
        if not name or any(c.isspace() or not c.isprintable() for c in name):
            raise UsageError(f"`{name}': not a signal name (one word, as in approve)")
        if name.startswith("callback:"):
            raise UsageError(f"`{name}': names that begin with callback: are the deliveries of callbacks")
        task = self.sh.task
        journal = task.journal if task is not None else open_existing(self.sh.vars.environ())
        try:
            record = find_task(journal, spec)
            state, why = journal.send_signal(record.id, name, value, str(this_process()))
        finally:
            if task is None:
                journal.close()
        if state == "late":
            self.warn(f"task {record.id}: {name} {why}; ignored (journaled as late)")
            return 1
        return 0
