"""`callback NAME`: in a task, a one-shot callback URL in the variable NAME.

Hand the URL to whatever will report back (`@ci1 start-build --notify "$NAME"`), then
`await callback "$NAME" into BODY timeout 30m` waits for the POST that `fmsh serve`
takes at it (fmsh/tasks/callbacks.py says what a URL is). Making one is a step of the
task: a resumed task gets the same URL again, so the far side's copy stays good. The
callback is delivered at most once; `fmsh serve` refuses a second POST (409) and one
that comes after the task's await timed out or the task ended (410, journaled as late).
Status 0; 2 for bad usage or outside a task; 1 when FMSH_CALLBACK_URL is not a URL.
"""

from __future__ import annotations

from fmsh.builtins.base import Builtin, UsageError
from fmsh.runtime.errors import ShellError
from fmsh.tasks.result import StepResult

_USAGE = "usage: callback NAME"


class Callback(Builtin):
    name = "callback"

    def run(self, argv: list[str]) -> int:
        from fmsh.syntax.word_parser import is_name
        from fmsh.tasks import callbacks

        operands = argv[1:]
        if operands[:1] == ["--"]:
            operands = operands[1:]
        elif operands and operands[0].startswith("-"):
            raise UsageError(f"{operands[0]}: invalid option; {_USAGE}")
        if len(operands) != 1:
            raise UsageError(_USAGE)
        variable = operands[0]
        if not is_name(variable):
            raise UsageError(f"`{variable}': not a variable name")
        sh = self.sh
        task = sh.task
        if task is None or task.depth:
            raise UsageError(self._refusal())
        try:
            base = callbacks.base_url(sh.vars.get("FMSH_CALLBACK_URL"))
        except ValueError as e:
            raise ShellError(str(e)) from None
        journal = task.journal

        def make() -> StepResult:
            active = task.current
            assert active is not None
            token = callbacks.new_token()
            journal.create_callback(task.id, task.epoch, active.seq, callbacks.token_hash(token))
            return StepResult(0, output=callbacks.url_for(base, token))

        result = task.run_step("callback", sh.current_pos, make)
        if result.exit_status == 0:
            sh.vars.set(variable, result.output or "")
        return result.exit_status

    def _refusal(self) -> str:
        sh = self.sh
        if sh.task is not None:
            return "cannot make a callback inside another step (a $(...) or a pipeline): write it on its own"
        if (sh.vars.get("FMSH_JOURNAL") or "") == "none":
            return "FMSH_JOURNAL=none runs no task, and only a task can receive a callback"
        return (
            "only a task can receive a callback: run it in a `task NAME { ... }` block, or in a script "
            "that is a task (one with a remote stage or an await)"
        )
