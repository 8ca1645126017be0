"""Simple commands: assignments, then a function, a builtin or an external program.

Lookup order: functions, builtins, the standard library, then PATH (remembered by
`hash`). bash's, with the standard library (builtins/*.fmsh, installed as fmsh/stdlib)
before PATH: a name that is neither a function nor a builtin, and that a library file
defines (`rolling.fmsh` defines `rolling`), is read from that file and called (autoload);
it is a function from then on. Its names are fmsh's own (rolling, lock...), so a script
gets the library whatever a machine has on its PATH; the user's own function of the same
name wins, and `command NAME` skips the library as it skips functions.
Assignments before a builtin or function are visible to it only; before an external
program they go into its environment only.
"""

from __future__ import annotations

import errno
import os
import sys

from fmsh.runtime import process, signals
from fmsh.runtime.errors import ReturnFromFunction, ShellError
from fmsh.runtime.state import AssocArray, Cell, IndexedArray
from fmsh.syntax import ast
from fmsh.tasks.result import StepResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.command import CommandEvaluator
    from fmsh.interp.shell import Shell

DECLARATION_BUILTINS = frozenset(["declare", "typeset", "local", "export", "readonly", "secret"])
MAX_CALL_DEPTH = 1000

# The standard library's index, name -> file: read from its folder the first time a
# command is neither a function nor a builtin (`fmsh -c 'echo hi'` never reads it).
_stdlib: dict[str, str] | None = None


def stdlib_index() -> dict[str, str]:
    global _stdlib
    if _stdlib is None:
        import fmsh

        folder = os.path.join(os.path.dirname(fmsh.__file__), "stdlib")
        try:
            names = os.listdir(folder)
        except OSError:
            names = []
        _stdlib = {name[:-5]: os.path.join(folder, name) for name in names if name.endswith(".fmsh")}
    return _stdlib


class ArrayValue:
    """`name=(a b c)` given to a declaration builtin (`local a=(1 2)`): already expanded."""

    __slots__ = ("name", "append", "items")

    def __init__(self, name: str, append: bool, items: list[tuple[str | None, str]]) -> None:
        self.name = name
        self.append = append
        self.items = items


class SimpleCommandRunner:
    def __init__(self, shell: Shell, evaluator: CommandEvaluator) -> None:
        self.sh = shell
        self.ev = evaluator

    # --- entry --------------------------------------------------------------------------

    def run(self, node: ast.SimpleCommand, tail: bool = False) -> int:
        """Run a simple command. `tail`: the process ends after it (a forked child), so
        an external program replaces the process instead of being waited for."""
        sh = self.sh
        sh.current_pos = node.pos
        sh.cmdsub_status = None
        words = node.words
        if not words:
            return self._assignments_only(node)
        argv: list = self._expand_declaration(words) if _is_declaration(words[0]) else sh.words.expand_argv(words)
        if not argv:
            return self._assignments_only(node)
        if sh.options.xtrace:
            sh.trace_command(node.assignments, argv)
        if argv[0] == "exec" and len(argv) == 1:
            # `exec >file`: the redirections stay for the rest of the shell.
            if not self.ev.redirector.apply(node.redirects, None):
                self.ev._redirect_failed()
                return 1
            return 0
        status = self.run_argv(argv, node.assignments, node.redirects, tail)
        sh.pipestatus = [status]
        return status

    def run_argv(
        self,
        argv: list,
        assignments: list[ast.Assignment],
        redirects: list[ast.Redirect],
        tail: bool = False,
        skip_functions: bool = False,
    ) -> int:
        sh = self.sh
        name = argv[0]
        function = None if skip_functions else sh.functions.get(name)
        if function is not None:
            return self._with_temp_assignments(
                assignments, lambda: self.ev.with_redirects(redirects, lambda: self.call_function(function, argv))
            )
        builtin = sh.builtin(name)
        task = sh.task
        if builtin is not None:

            def run_builtin() -> int:
                return self._with_temp_assignments(
                    assignments, lambda: self.ev.with_redirects(redirects, lambda: sh.run_builtin(builtin, argv))
                )

            if task is not None and not task.depth and builtin.is_step(argv):
                return task.run_step("builtin", sh.current_pos, lambda: StepResult(run_builtin())).exit_status
            return run_builtin()
        if not skip_functions and name in stdlib_index():
            library = self.autoload(name)
            return self._with_temp_assignments(
                assignments, lambda: self.ev.with_redirects(redirects, lambda: self.call_function(library, argv))
            )
        if task is not None and not task.depth and not tail:
            if name == "sleep" and not redirects and not assignments:
                seconds = durable_seconds(argv[1:])
                if seconds is not None:
                    return task.sleep(sh.current_pos, seconds)
            return task.run_step(
                "command", sh.current_pos, lambda: StepResult(self._external(argv, assignments, redirects, tail))
            ).exit_status
        return self._external(argv, assignments, redirects, tail)

    # --- assignments --------------------------------------------------------------------

    def _assignments_only(self, node: ast.SimpleCommand) -> int:
        sh = self.sh
        for assignment in node.assignments:
            self.assign(assignment)
        if sh.options.xtrace and node.assignments:
            sh.trace_assignments(node.assignments)
        status = sh.cmdsub_status or 0
        if node.redirects:
            frame = sh.fds.push()
            try:
                if not self.ev.redirector.apply(node.redirects, frame):
                    self.ev._redirect_failed()
                    return 1
            finally:
                sh.fds.restore(frame)
        return status

    def assign(self, assignment: ast.Assignment, local: bool = False) -> None:
        sh = self.sh
        value = assignment.value
        name = assignment.name
        if value is not None and value.parts and type(value.parts[0]) is ast.ArrayLiteral:
            items = self.array_items(value.parts[0])  # type: ignore[arg-type]
            self.assign_array(name, items, assignment.append, local)
            return
        text = sh.words.expand_string(value) if value is not None else ""
        cell = sh.vars.cell(name)
        if cell is not None and cell.integer:
            number = sh.arith.evaluate_text(text)
            if assignment.append:
                number += sh.arith.evaluate_text(sh.vars.get(name) or "0")
            text, append = str(number), False
        else:
            append = assignment.append
        if assignment.index is not None:
            key = self.subscript(name, assignment.index)
            sh.vars.set_element(name, key, text, append)
        else:
            sh.vars.set(name, text, local=local, append=append)

    def subscript(self, name: str, index: ast.Word) -> int | str:
        sh = self.sh
        cell = sh.vars.cell(name)
        text = sh.words.expand_string(index)
        if cell is not None and type(cell.value) is AssocArray:
            return text
        return sh.arith.evaluate_text(text)

    def array_items(self, literal: ast.ArrayLiteral) -> list[tuple[str | None, str]]:
        """The elements of `(a b [k]=v)`: (key or None, value), after expansion."""
        words = self.sh.words
        items: list[tuple[str | None, str]] = []
        for element in literal.elements:
            keyed = _keyed_element(element)
            if keyed is not None:
                key_word, value_word = keyed
                items.append((words.expand_string(key_word), words.expand_string(value_word)))
            else:
                items.extend((None, field) for field in words.expand_argv([element]))
        return items

    def assign_array(self, name: str, items: list[tuple[str | None, str]], append: bool, local: bool) -> None:
        sh = self.sh
        cell = sh.vars.cell(name)
        if local:
            cell = sh.vars.declare_local(name)
        old = cell.value if cell is not None else None
        if type(old) is AssocArray:
            array: IndexedArray | AssocArray = AssocArray(old) if append else AssocArray()
            for key, value in items:
                if key is None:
                    raise ShellError(f"{name}: {value}: must use subscript when assigning associative array")
                array[key] = value  # type: ignore[index]
        else:
            array = IndexedArray()
            if append:
                if type(old) is IndexedArray:
                    array.update(old)
                elif type(old) is str:
                    array[0] = old
            index = array.next_index()
            for key, value in items:
                if key is not None:
                    index = sh.arith.evaluate_text(key)
                array[index] = value  # type: ignore[index]
                index += 1
        sh.vars.set_array(name, array, local=local)

    def _expand_declaration(self, words: list[ast.Word]) -> list:
        """Arguments of declare/local/export/readonly/secret: assignments are not split."""
        task = self.sh.task
        if task is not None and _is_secret_command(words[0]):
            # What `secret NAME=$(...)` runs to fetch a secret is no step of the task: its
            # output, the secret, is not journaled, and a resumed task fetches it again.
            task.depth += 1
            try:
                return self._declaration_argv(words)
            finally:
                task.depth -= 1
        return self._declaration_argv(words)

    def _declaration_argv(self, words: list[ast.Word]) -> list:
        from fmsh.syntax.parser import as_assignment

        sh = self.sh
        argv: list = []
        for k, word in enumerate(words):
            assignment = as_assignment(word) if k else None
            if assignment is None:
                argv.extend(sh.words.expand_argv([word]))
                continue
            value = assignment.value
            if value is not None and value.parts and type(value.parts[0]) is ast.ArrayLiteral:
                argv.append(ArrayValue(assignment.name, assignment.append, self.array_items(value.parts[0])))  # type: ignore[arg-type]
                continue
            text = sh.words.expand_string(value) if value is not None else ""
            prefix = assignment.name
            if assignment.index is not None:
                prefix += "[" + sh.words.expand_string(assignment.index) + "]"
            argv.append(prefix + ("+=" if assignment.append else "=") + text)
        return argv

    def _with_temp_assignments(self, assignments: list[ast.Assignment], action) -> int:  # type: ignore[no-untyped-def]
        if not assignments:
            return action()
        sh = self.sh
        scope: dict[str, Cell] = {}
        for assignment in assignments:
            text = sh.words.expand_string(assignment.value) if assignment.value is not None else ""
            if assignment.append:
                text = (sh.vars.get(assignment.name) or "") + text
            scope[assignment.name] = Cell(text, exported=True)
        sh.vars.push_scope(scope)
        sh.vars.mark_env_dirty()
        try:
            return action()
        finally:
            sh.vars.pop_scope()
            sh.vars.mark_env_dirty()

    # --- functions ----------------------------------------------------------------------

    def call_function(self, function: ast.FunctionDef, argv: list[str]) -> int:
        sh = self.sh
        if len(sh.call_stack) >= MAX_CALL_DEPTH:
            raise ShellError(f"{function.name}: maximum function nesting level exceeded ({MAX_CALL_DEPTH})")
        saved_positional = sh.positional
        saved_loops = self.ev.loop_depth
        sh.positional = list(argv[1:])
        sh.vars.push_scope()
        sh.call_stack.append(function.name)
        keys = sh.task.keys if sh.task is not None else None
        if keys is not None:
            keys.enter_call(function.name, sh.current_pos or function.pos)
        # A function cannot break out of its caller's loop (bash warns, and goes on).
        self.ev.loop_depth = 0
        try:
            return self.ev.run(function.body)
        except ReturnFromFunction as ret:
            return ret.status
        finally:
            if sh.traps.returning_from(len(sh.call_stack)):
                sh.traps.run_return()
            self.ev.loop_depth = saved_loops
            if keys is not None:
                keys.leave()
            sh.call_stack.pop()
            sh.vars.pop_scope()
            sh.positional = saved_positional

    def autoload(self, name: str) -> ast.FunctionDef:
        """The standard library's function `name`: its file is run (it defines the
        function, and nothing else should happen there), without the user's aliases."""
        from fmsh.syntax.errors import ParseError
        from fmsh.syntax.parser import parse
        from fmsh.syntax.source import Source

        sh = self.sh
        path = stdlib_index()[name]
        shown = f"stdlib/{name}.fmsh"  # the same on every machine: a step's key, in a resumed task
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
            program = parse(Source(shown, text), None)
        except OSError as e:
            raise ShellError(f"{name}: cannot read the standard library's {path}: {e.strerror}", status=127) from None
        except ParseError as e:
            raise ShellError(f"{name}: the standard library's {path} is broken: {e.render()}", status=127) from None
        where = sh.current_pos
        try:
            sh.run_top_level(program)
        finally:
            sh.current_pos = where
        function = sh.functions.get(name)
        if function is None:
            raise ShellError(f"{name}: the standard library's {path} does not define {name}", status=127)
        return function

    # --- external programs --------------------------------------------------------------

    def _external(
        self, argv: list[str], assignments: list[ast.Assignment], redirects: list[ast.Redirect], tail: bool
    ) -> int:
        sh = self.sh
        name = argv[0]
        env = sh.vars.environ()
        if assignments:
            env = dict(env)
            for assignment in assignments:
                text = sh.words.expand_string(assignment.value) if assignment.value is not None else ""
                env[assignment.name] = (env.get(assignment.name, "") + text) if assignment.append else text
        path = self.resolve(name, env.get("PATH") if assignments else None)
        if tail:
            if not self.ev.redirector.apply(redirects, None):
                return 1
            if path is None:
                sh.report(f"{name}: command not found")
                return 127
            return self.exec_program(path, argv, env)
        frame = sh.fds.push()
        try:
            if not self.ev.redirector.apply(redirects, frame):
                self.ev._redirect_failed()
                return 1
            if path is None:
                sh.report(f"{name}: command not found")
                return 127
            job = sh.job_control
            grouped = sh.grouping or job
            try:
                pid = process.spawn(path, argv, env, process.reset_signals_for_exec(job), own_group=grouped)
            except OSError as e:
                return self._spawn_failed(path, argv, env, e)
            except ValueError:
                sh.report(f"{name}: an argument holds a NUL byte, which no program can receive")
                return 126
        finally:
            sh.fds.restore(frame)
        label = _job_label(argv) if job else None
        return sh.wait_foreground([pid], pid if grouped else None, label)[-1]

    def resolve(self, name: str, path: str | None = None) -> str | None:
        """Where `name` is run from. `path`: a PATH given with the command (PATH=... cmd),
        searched without remembering the answer."""
        if "/" in name:
            return name
        if path is not None and path != self.sh.vars.get("PATH"):
            return process.find_executable(name, path)
        return self.sh.hash.find(name, self.sh.vars.get("PATH"))

    def exec_program(self, path: str, argv: list[str], env: dict[str, str]) -> int:
        """Replace this process with the program (a forked child's last command, `exec`)."""
        for number in process.reset_signals_for_exec(self.sh.job_control):
            signals.set_handler(number, signals.SIG_DFL)
        try:
            os.execve(path, argv, env)
        except OSError as e:
            if e.errno == errno.ENOEXEC and _is_binary(path):
                self.sh.report(f"{path}: cannot execute binary file")
                return 126
            if e.errno == errno.ENOEXEC:
                script = [sys.executable, "-m", "fmsh", path, *argv[1:]]
                try:
                    os.execve(sys.executable, script, env)
                except OSError:
                    pass
            return self._report_exec_error(path, e)
        return 0  # pragma: no cover - execve does not return

    def _spawn_failed(self, path: str, argv: list[str], env: dict[str, str], error: OSError) -> int:
        if error.errno == errno.ENOEXEC and _is_binary(path):
            self.sh.report(f"{path}: cannot execute binary file")
            return 126
        if error.errno == errno.ENOEXEC:
            # No #! line: bash runs such a file as a shell script; so does fmsh.
            script = [sys.executable, "-m", "fmsh", path, *argv[1:]]
            try:
                pid = process.spawn(sys.executable, script, env, process.reset_signals_for_exec())
            except OSError as e:
                return self._report_exec_error(path, e)
            return self.sh.wait_foreground([pid])[-1]
        return self._report_exec_error(path, error)

    def _report_exec_error(self, path: str, error: OSError) -> int:
        if error.errno in (errno.ENOENT, errno.ENAMETOOLONG):
            self.sh.report(f"{path}: {error.strerror}")
            return 127
        if error.errno == errno.EACCES and os.path.isdir(path):
            self.sh.report(f"{path}: Is a directory")
            return 126
        self.sh.report(f"{path}: {error.strerror}")
        return 126


def durable_seconds(args: list[str]) -> float | None:
    """The seconds of `sleep ARGS` as coreutils reads them (`1h 30m`, `0.5`, `2d`), or
    None for what only sleep(1) itself understands (`infinity`, bad input)."""
    if not args:
        return None
    total = 0.0
    for arg in args:
        scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(arg[-1:], 0)
        number = arg[:-1] if scale else arg
        scale = scale or 1
        try:
            value = float(number)
        except ValueError:
            return None
        if value != value or value < 0 or value == float("inf"):
            return None
        total += value * scale
    return total


def _is_binary(path: str) -> bool:
    """bash's test before running a file without #! as a script: a NUL in its first line."""
    try:
        with open(path, "rb") as f:
            head = f.read(80)
    except OSError:
        return False
    return b"\0" in head.split(b"\n", 1)[0]


def _is_secret_command(word: ast.Word) -> bool:
    return len(word.parts) == 1 and type(word.parts[0]) is ast.Literal and word.parts[0].text == "secret"


def _is_declaration(word: ast.Word) -> bool:
    return len(word.parts) == 1 and type(word.parts[0]) is ast.Literal and word.parts[0].text in DECLARATION_BUILTINS


def _keyed_element(word: ast.Word) -> tuple[ast.Word, ast.Word] | None:
    """`[key]=value` inside an array literal, split into its key and value words."""
    parts = word.parts
    if not parts or type(parts[0]) is not ast.Literal or not parts[0].text.startswith("["):
        return None
    key_parts: list[ast.WordPart] = []
    first = parts[0]
    for k, part in enumerate(parts):
        text = part.text[1:] if k == 0 else (part.text if type(part) is ast.Literal else None)  # type: ignore[attr-defined]
        if text is None:
            key_parts.append(part)
            continue
        close = text.find("]=")
        if close == -1:
            if text:
                key_parts.append(ast.Literal(part.pos, text))
            continue
        if close:
            key_parts.append(ast.Literal(part.pos, text[:close]))
        rest = text[close + 2 :]
        value_parts = ([ast.Literal(part.pos, rest)] if rest else []) + parts[k + 1 :]
        return ast.Word(first.pos, key_parts), ast.Word(word.pos, value_parts)
    return None


def _job_label(argv: list[str]) -> str:
    """A command as `jobs` shows it."""
    from fmsh.expand.quote import shell_quote

    return " ".join(shell_quote(a) for a in argv)
