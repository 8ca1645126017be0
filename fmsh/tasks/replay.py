"""Replay: matching the steps a resumed script reaches with the steps its journal holds.

The script runs again from the top. Each step it reaches is looked up in the journal:
a finished step returns its result without running, the step that was in flight runs
again, a step the journal does not have is new.

Two ways to match:
    strict   (the script changed since the task began, and the change was not accepted)
             the Nth step reached must be the Nth journaled one, with the same key and
             text; the first that differs stops the resume (Diverged), and so does
             running past the journal into changed text (ChangedAhead).
    aligned  (the script is unchanged, or the change was accepted, or `retry`)
             a step matches the next journaled step with the same kind and text at or
             after the last match; journaled steps the script no longer reaches (a guard
             like `[ -f done ] ||` now skips them) are left alone.
"""

from __future__ import annotations

from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.journal.records import StepRecord

NEW, REPLAY, RERUN = "new", "replay", "rerun"


class Diverged(ShellError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status=1, fatal=True)


class Replay:
    def __init__(
        self, steps: list[StepRecord], strict: bool = False, changed_line: int | None = None, task_id: int = 0
    ) -> None:
        self.steps = steps
        self.strict = strict
        self.changed_line = changed_line  # the first line of the script that changed
        self.task_id = task_id
        self.cursor = 0
        self.next_seq = max((s.seq for s in steps), default=0) + 1
        self.replayed = 0
        self.diverged = False

    def match(self, key: str, kind: str, text: str, fingerprint: str, location: str) -> tuple[str, StepRecord | None]:
        steps = self.steps
        if self.strict:
            if self.cursor < len(steps):
                expected = steps[self.cursor]
                if expected.key != key or expected.fingerprint != fingerprint:
                    self._refuse(_diverged(expected, text, location))
                self.cursor += 1
                return self._decide(expected)
            if self.changed_line is not None:
                self._refuse(
                    f"the steps that ran are unchanged, but the script changed after them (first changed line: "
                    f"{self.changed_line}); the next step, `{text}` ({location}), is not the one the task began with"
                )
            return NEW, None
        for index in range(self.cursor, len(steps)):
            step = steps[index]
            if step.fingerprint == fingerprint and step.kind == kind:
                self.cursor = index + 1
                return self._decide(step)
        return NEW, None

    def _refuse(self, why: str) -> None:
        self.diverged = True
        raise Diverged(
            f"task {self.task_id}: the script changed since the task began: {why}. Not resuming; "
            f"`resume --accept-changes {self.task_id}` runs the script as it is now, reusing the results of the "
            "steps that did not change"
        )

    def _decide(self, step: StepRecord) -> tuple[str, StepRecord]:
        if step.finished:
            self.replayed += 1
            return REPLAY, step
        return RERUN, step

    def new_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq


def _diverged(expected: StepRecord, text: str, location: str) -> str:
    from fmsh.tasks.keys import shown

    return (
        f"step {expected.seq} differs: the task ran `{shown(expected.context, expected.text)}` "
        f"({expected.location}) there, the script now has `{text}` ({location})"
    )
