"""The command evaluator: walks the command AST and returns exit statuses.

Compound commands and control flow live here; simple commands (builtins, functions,
external programs) in simple.py; pipelines, subshells and `&` in pipeline.py;
redirections in redirect.py.
"""

from __future__ import annotations

from fmsh.expand.pattern import matches
from fmsh.runtime.errors import ExitShell, ExpansionError, LoopControl
from fmsh.syntax import ast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fmsh.interp.awaits import AwaitRunner
    from fmsh.interp.modifiers import HostPolicy, ModifierRunner
    from fmsh.interp.redirect import Redirector
    from fmsh.interp.shell import Shell
    from fmsh.syntax.source import Pos


class CommandEvaluator:
    def __init__(self, shell: Shell) -> None:
        from fmsh.interp.pipeline import PipelineRunner
        from fmsh.interp.simple import SimpleCommandRunner

        self.sh = shell
        self.simple = SimpleCommandRunner(shell, self)
        self.pipelines = PipelineRunner(shell, self)
        # Inside an if/while condition, a non-final && || element or a `!` pipeline,
        # a failure does not trip `set -e`.
        self.errexit_suppressed = 0
        self.loop_depth = 0
        self.loop_bound: tuple[int, Pos] | None = None  # `max N` for the loop about to start

    # --- dispatch -----------------------------------------------------------------------

    def run(self, node: ast.Command) -> int:
        sh = self.sh
        deadlines = sh.deadlines
        if deadlines is not None and deadlines.any_expired:
            deadlines.check()  # a `timeout` around this passed: unwind to it
        status = _DISPATCH[type(node)](self, node)
        sh.last_status = status
        if status and not self.errexit_suppressed and type(node) in _ERREXIT_CHECKED:
            if type(node) is not ast.Pipeline or not node.negated:  # type: ignore[attr-defined]
                # The ERR trap and `set -e` see the same failures.
                sh.traps.run_err()
                if sh.options.errexit:
                    raise ExitShell(status)
        if sh.traps.has_pending():
            sh.traps.run_pending()
        return status

    def run_list(self, body: ast.CommandList) -> int:
        status = 0
        run = self.run
        options = self.sh.options
        for command in body.commands:
            if options.noexec and not options.interactive:
                break  # set -n: read, do not run
            status = run(command)
        return status

    def run_suppressed(self, body: ast.CommandList) -> int:
        """A condition: `set -e` does not apply inside it."""
        self.errexit_suppressed += 1
        try:
            return self.run_list(body)
        finally:
            self.errexit_suppressed -= 1

    @property
    def redirector(self) -> Redirector:
        redirector = self.__dict__.get("_redirector")
        if redirector is None:
            from fmsh.interp.redirect import Redirector

            redirector = self.__dict__["_redirector"] = Redirector(self.sh)
        return redirector

    def with_redirects(self, redirects: list[ast.Redirect], action: Callable[[], int]) -> int:
        """Run `action` with the redirections in place; 1 if they fail."""
        if not redirects:
            return action()
        frame = self.sh.fds.push()
        try:
            if not self.redirector.apply(redirects, frame):
                self._redirect_failed()
                return 1
            return action()
        finally:
            self.sh.fds.restore(frame)

    def _redirect_failed(self) -> None:
        self.sh.last_status = 1
        if self.sh.options.errexit and not self.errexit_suppressed:
            raise ExitShell(1)

    # --- commands -----------------------------------------------------------------------

    def _command_list(self, node: ast.CommandList) -> int:
        return self.run_list(node)

    def _simple_command(self, node: ast.SimpleCommand) -> int:
        return self.simple.run(node)

    def _and_or(self, node: ast.AndOr) -> int:
        commands = node.commands
        ops = node.ops
        self.errexit_suppressed += 1
        try:
            status = self.run(commands[0])
        finally:
            self.errexit_suppressed -= 1
        last = len(commands) - 1
        for k, op in enumerate(ops, start=1):
            if (op == "&&") == (status != 0):
                continue
            if k == last:
                status = self.run(commands[k])
            else:
                self.errexit_suppressed += 1
                try:
                    status = self.run(commands[k])
                finally:
                    self.errexit_suppressed -= 1
        return status

    def _pipeline(self, node: ast.Pipeline) -> int:
        return self.pipelines.run_pipeline(node)

    def _background(self, node: ast.Background) -> int:
        return self.pipelines.run_background(node)

    def _subshell(self, node: ast.Subshell) -> int:
        return self.pipelines.run_subshell(node)

    def _brace_group(self, node: ast.BraceGroup) -> int:
        return self.with_redirects(node.redirects, lambda: self.run_list(node.body))

    def _if(self, node: ast.If) -> int:
        def action() -> int:
            for arm in node.arms:
                if self.run_suppressed(arm.condition) == 0:
                    return self.run_list(arm.body)
            if node.else_body is not None:
                return self.run_list(node.else_body)
            return 0

        return self.with_redirects(node.redirects, action)

    def _loop(self, rounds: Iterator[None], body: ast.CommandList, pos: Pos) -> int:
        """Run `body` once per round that `rounds` yields. `break N` / `continue N` end or
        skip a round of this loop and reach the enclosing loops with N - 1. In a task,
        the steps of each round are keyed by its number."""
        status = 0
        bound, self.loop_bound = self.loop_bound, None
        self.loop_depth += 1
        keys = self.sh.task.keys if self.sh.task is not None else None
        if keys is not None:
            keys.enter_loop(pos)
        number = 1
        try:
            for done, _ in enumerate(rounds):
                if bound is not None and done == bound[0]:
                    return self._out_of_rounds(bound)
                try:
                    status = self.run_list(body)
                except LoopControl as control:
                    if control.levels > 1:
                        control.levels -= 1
                        raise
                    status = 0
                    if control.is_break:
                        break
                finally:
                    if keys is not None:
                        number += 1
                        keys.next_round(number)
        finally:
            self.loop_depth -= 1
            if keys is not None:
                keys.leave()
        return status

    def _out_of_rounds(self, bound: tuple[int, Pos]) -> int:
        from fmsh.interp.modifiers import OUT_OF_ROUNDS

        line, col = bound[1].source.line_col(bound[1].offset)
        self.sh.report(f"{bound[1].source.name}:{line}:{col}: the loop ran its `max {bound[0]}' rounds; stopped")
        return OUT_OF_ROUNDS

    def _while_until(self, node: ast.WhileUntil) -> int:
        def rounds() -> Iterator[None]:
            while True:
                try:
                    cond = self.run_suppressed(node.condition)
                except LoopControl as control:  # `while ...; break; do` is legal
                    if control.levels > 1:
                        control.levels -= 1
                        raise
                    if control.is_break:
                        return
                    continue
                if (cond == 0) == node.until:
                    return
                yield

        return self.with_redirects(node.redirects, lambda: self._loop(rounds(), node.body, node.pos))

    def _for_each(self, node: ast.ForEach) -> int:
        def rounds() -> Iterator[None]:
            sh = self.sh
            items = list(sh.positional) if node.words is None else sh.words.expand_argv(node.words)
            for item in items:
                sh.vars.set(node.var, item)
                yield

        return self.with_redirects(node.redirects, lambda: self._loop(rounds(), node.body, node.pos))

    def _for_arith(self, node: ast.ForArith) -> int:
        def rounds() -> Iterator[None]:
            arith = self.sh.arith
            if node.init is not None:
                arith.evaluate(node.init)
            while node.cond is None or arith.evaluate(node.cond):
                yield
                if node.step is not None:
                    arith.evaluate(node.step)

        return self.with_redirects(node.redirects, lambda: self._loop(rounds(), node.body, node.pos))

    def _case(self, node: ast.Case) -> int:
        def action() -> int:
            words = self.sh.words
            subject = words.expand_string(node.subject)
            nocase = self.sh.options.shopt["nocasematch"]
            arms = node.arms
            k = 0
            status = 0
            while k < len(arms):
                arm = arms[k]
                if any(matches(words.expand_pattern(p), subject, nocase) for p in arm.patterns):
                    status = self.run_list(arm.body)
                    # ;& runs the next body unconditionally; ;;& tests the next patterns.
                    while arm.terminator == ";&" and k + 1 < len(arms):
                        k += 1
                        arm = arms[k]
                        status = self.run_list(arm.body)
                    if arm.terminator != ";;&":
                        return status
                k += 1
            return status

        return self.with_redirects(node.redirects, action)

    def _function_def(self, node: ast.FunctionDef) -> int:
        if node.name in self.sh.readonly_functions:
            self.sh.report(f"{node.name}: readonly function")
            return 1
        self.sh.functions[node.name] = node
        return 0

    def _double_bracket(self, node: ast.DoubleBracket) -> int:
        from fmsh.interp.conditional import evaluate_bool

        def action() -> int:
            self.sh.trace_words(["[["], node.pos)
            return 0 if evaluate_bool(self.sh, node.expr) else 1

        return self.with_redirects(node.redirects, action)

    def _remote_command(self, node: ast.RemoteCommand) -> int:
        return self.run_remote(node, None)

    def run_remote(self, node: ast.RemoteCommand, policy: HostPolicy | None) -> int:
        """A remote stage on its own (not in a pipeline); `policy`: each host's timeout,
        retries and the quorum, from the modifiers written before it."""
        # Redirections apply on this side: `@web1 cat /etc/hosts > hosts.web1`.
        task = self.sh.task
        if task is not None and not task.depth:
            from fmsh.tasks.result import StepResult

            def remote() -> StepResult:
                return StepResult(self.with_redirects(node.redirects, lambda: self.sh.remote.run(node, policy=policy)))

            return task.run_step("remote", node.pos, remote).exit_status
        return self.with_redirects(node.redirects, lambda: self.sh.remote.run(node, policy=policy))

    def _modified(self, node: ast.Modified) -> int:
        return self.modifiers.run(node)

    @property
    def modifiers(self) -> ModifierRunner:
        modifiers = self.__dict__.get("_modifiers")
        if modifiers is None:
            from fmsh.interp.modifiers import ModifierRunner

            modifiers = self.__dict__["_modifiers"] = ModifierRunner(self.sh, self)
        return modifiers

    def _await(self, node: ast.Await) -> int:
        return self.with_redirects(node.redirects, lambda: self.awaits.run(node))

    @property
    def awaits(self) -> AwaitRunner:
        awaits = self.__dict__.get("_awaits")
        if awaits is None:
            from fmsh.interp.awaits import AwaitRunner

            awaits = self.__dict__["_awaits"] = AwaitRunner(self.sh)
        return awaits

    def _task_block(self, node: ast.TaskBlock) -> int:
        # The task itself was begun before the program ran (see Shell.start_task).
        if node.timeout is not None:
            return self.with_redirects(
                node.redirects, lambda: self.modifiers.task_block(node, lambda: self.run_list(node.body))
            )
        return self.with_redirects(node.redirects, lambda: self.run_list(node.body))

    def _arith_command(self, node: ast.ArithCommand) -> int:
        def action() -> int:
            try:
                return 0 if self.sh.arith.evaluate(node.expr) else 1
            except ExpansionError as e:
                # In (( )) an arithmetic error fails the command (in $(( )) it is fatal).
                self.sh.report(e.message)
                return 1

        return self.with_redirects(node.redirects, action)


_DISPATCH: dict[type, Callable[[CommandEvaluator, ast.Command], int]] = {
    ast.CommandList: CommandEvaluator._command_list,  # type: ignore[dict-item]
    ast.SimpleCommand: CommandEvaluator._simple_command,  # type: ignore[dict-item]
    ast.AndOr: CommandEvaluator._and_or,  # type: ignore[dict-item]
    ast.Pipeline: CommandEvaluator._pipeline,  # type: ignore[dict-item]
    ast.Background: CommandEvaluator._background,  # type: ignore[dict-item]
    ast.Subshell: CommandEvaluator._subshell,  # type: ignore[dict-item]
    ast.BraceGroup: CommandEvaluator._brace_group,  # type: ignore[dict-item]
    ast.If: CommandEvaluator._if,  # type: ignore[dict-item]
    ast.WhileUntil: CommandEvaluator._while_until,  # type: ignore[dict-item]
    ast.ForEach: CommandEvaluator._for_each,  # type: ignore[dict-item]
    ast.ForArith: CommandEvaluator._for_arith,  # type: ignore[dict-item]
    ast.Case: CommandEvaluator._case,  # type: ignore[dict-item]
    ast.FunctionDef: CommandEvaluator._function_def,  # type: ignore[dict-item]
    ast.DoubleBracket: CommandEvaluator._double_bracket,  # type: ignore[dict-item]
    ast.ArithCommand: CommandEvaluator._arith_command,  # type: ignore[dict-item]
    ast.RemoteCommand: CommandEvaluator._remote_command,  # type: ignore[dict-item]
    ast.TaskBlock: CommandEvaluator._task_block,  # type: ignore[dict-item]
    ast.Modified: CommandEvaluator._modified,  # type: ignore[dict-item]
    ast.Await: CommandEvaluator._await,  # type: ignore[dict-item]
}

# Commands whose failure trips `set -e` (compound commands leave it to their parts).
_ERREXIT_CHECKED = frozenset(
    [
        ast.SimpleCommand,
        ast.Pipeline,
        ast.Subshell,
        ast.DoubleBracket,
        ast.ArithCommand,
        ast.RemoteCommand,
        ast.Modified,
        ast.Await,
    ]
)
