"""Tab completion at the prompt: commands, paths, variables, `@hosts` and task ids.

What is completed depends on where the cursor is:

    ec|               command position: builtins, functions, aliases, keywords, PATH programs
    echo $HO|  ${HO|  a variable name
    @we|  @web,d|     an inventory host or group (and the plain Host names of the ssh config)
    resume 4|         a task id from the journal (after resume, trace, log, cancel, retry,
                      forget, signal and `await task`)
    cat ~/Doc|        anything else: a path (~ expanded, directories with a trailing /)

Nothing here connects to a host or writes to the journal, and nothing may raise: a
completer that fails offers no completions (prompt_toolkit would print the traceback
over the prompt).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell

# Words after which the next word is again in command position.
COMMAND_PREFIXES = frozenset("if then else elif do while until ! { time exec command builtin sudo nohup env".split())
MODIFIER_WORDS = frozenset(["timeout", "retry", "need", "max"])
# Words that are keywords of the language without being reserved by the parser.
EXTRA_KEYWORDS = frozenset(["await", "task"])
# The builtins whose first argument is a task id.
TASK_BUILTINS = frozenset(["resume", "trace", "log", "cancel", "retry", "forget", "signal"])
_AWAIT_KINDS = ("port", "http", "file", "signal", "task", "until")
# Characters that end a word when unquoted.
_METACHARS = frozenset(" \t\n;&|<>()")
_OPERATOR_CHARS = frozenset(";&|()\n")
# Characters a completed path must escape so that it reads back as one word.
_SPECIAL = frozenset(" \t\n\\'\"`$;&|<>()*?[]{}!#")
_VARIABLE = re.compile(r"\$(\{)?([A-Za-z_][A-Za-z0-9_]*)?$")
_HOST_SEPARATORS = re.compile(r"[,!&^]")
_MAX_PATH_COMPLETIONS = 2000


class PathCommands:
    """The programs on PATH, listed once per directory and again only when the
    directory changes (its mtime), checked at most once a second: a keystroke costs a
    few dictionary lookups, not a walk of PATH."""

    RECHECK = 1.0  # seconds between looks at the directories' mtimes

    def __init__(self) -> None:
        self._listings: dict[str, tuple[float, frozenset[str]]] = {}
        self._checked: dict[str, float] = {}
        self._executable: dict[str, bool] = {}
        self._lock = threading.Lock()

    def _listing(self, directory: str) -> frozenset[str]:
        # The completer may run in a thread of its own while the highlighter runs.
        with self._lock:
            return self._listing_locked(directory)

    def _listing_locked(self, directory: str) -> frozenset[str]:
        now = time.monotonic()
        cached = self._listings.get(directory)
        if cached is not None and now - self._checked.get(directory, 0.0) < self.RECHECK:
            return cached[1]
        self._checked[directory] = now
        try:
            mtime = os.stat(directory).st_mtime
        except (OSError, ValueError):
            mtime = -1.0
        if cached is not None and cached[0] == mtime:
            return cached[1]
        names: frozenset[str] = frozenset()
        if mtime != -1.0:
            try:
                names = frozenset(os.listdir(directory))
            except OSError:
                pass
        # A changed directory: what was known of its files' modes may be stale too.
        prefix = os.path.join(directory, "")
        for path in [p for p in self._executable if p.startswith(prefix)]:
            del self._executable[path]
        self._listings[directory] = (mtime, names)
        return names

    def _is_executable(self, path: str) -> bool:
        known = self._executable.get(path)
        if known is None:
            try:
                known = os.path.isfile(path) and os.access(path, os.X_OK)
            except (OSError, ValueError):
                known = False
            self._executable[path] = known
        return known

    @staticmethod
    def _directories(path_value: str | None) -> list[str]:
        return [d or "." for d in (path_value if path_value is not None else "/usr/bin:/bin").split(":")]

    def find(self, name: str, path_value: str | None) -> bool:
        """Whether `name` is an executable file in a PATH directory."""
        for directory in self._directories(path_value):
            if name in self._listing(directory) and self._is_executable(os.path.join(directory, name)):
                return True
        return False

    def starting_with(self, prefix: str, path_value: str | None) -> Iterator[str]:
        """The programs whose names start with `prefix` (each name once)."""
        seen: set[str] = set()
        for directory in self._directories(path_value):
            for name in self._listing(directory):
                if name.startswith(prefix) and name not in seen:
                    if self._is_executable(os.path.join(directory, name)):
                        seen.add(name)
                        yield name


def command_kind(shell: Shell, name: str, programs: PathCommands) -> str | None:
    """What running `name` would run (alias, keyword, function, builtin, command), or None
    when nothing by that name exists."""
    from fmsh.builtins import REGISTRY
    from fmsh.syntax.parser import RESERVED

    if name in shell.aliases:
        return "alias"
    if name in RESERVED or name in MODIFIER_WORDS or name in EXTRA_KEYWORDS:
        return "keyword"
    if name in shell.functions:
        return "function"
    if name in REGISTRY:
        return "builtin"
    if "/" in name:
        path = os.path.expanduser(name)
        try:
            return "command" if os.path.isfile(path) and os.access(path, os.X_OK) else None
        except (OSError, ValueError):
            return None
    if name in shell.hash.paths or programs.find(name, shell.vars.get("PATH")):
        return "command"
    return None


class _Context:
    """The words of the command the cursor is in, as far as the cursor (a light scan:
    quotes and backslashes are respected, nothing is expanded)."""

    def __init__(self, text: str) -> None:
        self.words: list[str] = []  # the finished words of the current command
        self.word = ""  # the word under the cursor, as typed
        self.word_value = ""  # the same without its quotes and backslashes
        self.quote = ""  # the quote the word is open in ("" when none)
        self.after_redirect = False  # the word is the target of a redirection
        self._scan(text)

    def _scan(self, text: str) -> None:
        start = 0
        value: list[str] = []
        quote = ""
        i = 0
        n = len(text)
        while i < n:
            c = text[i]
            if quote:
                if c == quote:
                    quote = ""
                elif c == "\\" and quote == '"' and i + 1 < n:
                    i += 1
                    value.append(text[i])
                else:
                    value.append(c)
            elif c == "\\" and i + 1 < n:
                i += 1
                if text[i] != "\n":
                    value.append(text[i])
            elif c in "'\"":
                quote = c
            elif c in _METACHARS:
                if i > start:
                    self.words.append("".join(value))
                    self.after_redirect = False
                if c in _OPERATOR_CHARS:
                    self.words = []
                elif c in "<>":
                    self.after_redirect = True
                value = []
                start = i + 1
            else:
                value.append(c)
            i += 1
        self.word = text[start:]
        self.word_value = "".join(value)
        self.quote = quote

    def command_position(self) -> tuple[bool, str | None]:
        """Whether the word under the cursor is a command name, and the command it is an
        argument of otherwise (None when unknown)."""
        if self.after_redirect:
            return False, None
        position = True
        modifier = False
        after: str | None = None
        command: str | None = None
        for word in self.words:
            if position:
                if word in COMMAND_PREFIXES or "=" in word and re.match(r"[A-Za-z_][A-Za-z0-9_]*\+?=", word):
                    continue
                if word in MODIFIER_WORDS:
                    modifier = True
                    after = word
                    continue
                if modifier and _modifier_argument(word, after):
                    after = word
                    continue
                position = False
                command = word
        if modifier and command is None and after == "retry":
            # `retry <TAB>`: the task builtin (the modifier needs a count first).
            return False, "retry"
        return position, command


def _modifier_argument(word: str, previous: str | None) -> bool:
    """Whether `word` is an argument of a modifier (a count, duration, option or clause)."""
    if previous in ("-s", "--signal", "-k", "--kill-after", "backoff", "on"):
        return True
    return word[:1] in "0123456789-+.$'\"" or word in ("backoff", "jitter", "on", "off")


class FmshCompleter(Completer):
    """prompt_toolkit's completer for fmsh, reading the live shell's names."""

    def __init__(self, shell: Shell, programs: PathCommands | None = None) -> None:
        self.shell = shell
        # Shared with the highlighter when the session passes one: one PATH cache.
        self.programs = programs if programs is not None else PathCommands()
        self._ssh_hosts: tuple[float, str | None, list[str]] | None = None
        self._tasks: tuple[float, str, list[tuple[int, str, str]]] | None = None

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        try:
            found = list(self._completions(document.text_before_cursor))
        except Exception:  # a completer must never raise: no completions instead
            return []
        return found

    # --- what to complete --------------------------------------------------------------

    def _completions(self, text: str) -> Iterator[Completion]:
        ctx = _Context(text)
        word = ctx.word
        if not ctx.quote or ctx.quote == '"':
            variable = _VARIABLE.search(word)
            if variable is not None and not _escaped(word, variable.start()):
                yield from self._variables(variable.group(2) or "", bool(variable.group(1)))
                return
        position, command = ctx.command_position()
        if position and word.startswith("@") and not ctx.quote:
            yield from self._hosts(word[1:])
            return
        if not position and self._wants_task(ctx, command):
            yield from self._task_ids(ctx.word_value, len(word))
            return
        if not position and command == "await" and len(ctx.words) == 1:
            yield from _plain(_AWAIT_KINDS, ctx.word_value, "await", len(word))
            return
        if position and "/" not in ctx.word_value and not ctx.word_value.startswith("~"):
            yield from self._commands(ctx.word_value, len(word))
            return
        yield from self._paths(ctx)

    def _wants_task(self, ctx: _Context, command: str | None) -> bool:
        if command is None:
            return False
        words = ctx.words[ctx.words.index(command) + 1 :] if command in ctx.words else []
        if command == "await":
            return words == ["task"]
        if command not in TASK_BUILTINS:
            return False
        # Only the first argument that is not an option is a task id.
        return not any(not w.startswith("-") for w in words) and not ctx.word_value.startswith("-")

    # --- commands ----------------------------------------------------------------------

    def _commands(self, prefix: str, replace: int) -> Iterator[Completion]:
        from fmsh.builtins import REGISTRY
        from fmsh.syntax.parser import RESERVED

        sh = self.shell
        found: dict[str, str] = {}
        for name in self.programs.starting_with(prefix, sh.vars.get("PATH")):
            found[name] = "command"
        for name in REGISTRY:
            if name.startswith(prefix):
                found[name] = "builtin"
        for name in sh.functions:
            if name.startswith(prefix):
                found[name] = "function"
        for name in (*RESERVED, *MODIFIER_WORDS, *EXTRA_KEYWORDS):
            if name.startswith(prefix) and name != "in":
                found[name] = "modifier" if name in MODIFIER_WORDS else "keyword"
        for name, value in sh.aliases.items():
            if name.startswith(prefix):
                found[name] = "alias " + _short(value)
        for name in sorted(found):
            yield Completion(_escape(name), -replace, display=name, display_meta=found[name])

    # --- variables ---------------------------------------------------------------------

    def _variables(self, prefix: str, braced: bool) -> Iterator[Completion]:
        names = sorted({n for n in self.shell.vars.names() if n.startswith(prefix)})
        for name in names:
            yield Completion(name + ("}" if braced else ""), -len(prefix), display=name, display_meta="variable")

    # --- hosts -------------------------------------------------------------------------

    def _hosts(self, pattern: str) -> Iterator[Completion]:
        # In `@web,db1!we` only the last name is being typed.
        parts = _HOST_SEPARATORS.split(pattern)
        prefix = parts[-1]
        found: dict[str, str] = {}
        for name in self._ssh_config_hosts():
            found[name] = "ssh host"
        try:
            inventory = self.shell.remote.inventory()
        except Exception:  # a broken inventory file: its errors show when it is used
            inventory = None
        if inventory is not None:
            for name in inventory.hosts:
                found[name] = "host"
            for name, value in inventory.groups.items():
                found[name] = "group " + _short(value)
        for name in sorted(n for n in found if n.startswith(prefix)):
            yield Completion(name, -len(prefix), display=name, display_meta=found[name])

    def _ssh_config_hosts(self) -> list[str]:
        """The literal names of the ssh config's `Host` lines (no patterns, no negations),
        read again every few seconds at most."""
        config_file = self.shell.vars.get("FMSH_SSH_CONFIG") or None
        now = time.monotonic()
        cached = self._ssh_hosts
        if cached is not None and cached[1] == config_file and now - cached[0] < 5.0:
            return cached[2]
        names: list[str] = []
        try:
            from fmsh.remote.sshconfig import _host_lines

            for patterns in _host_lines(config_file) or []:
                names.extend(p for p in patterns if not any(c in p for c in "*?!%"))
        except Exception:  # an unreadable config: no names from it
            names = []
        self._ssh_hosts = (now, config_file, names)
        return names

    # --- tasks -------------------------------------------------------------------------

    def _task_ids(self, prefix: str, replace: int) -> Iterator[Completion]:
        for task_id, name, status in self._journal_tasks():
            text = str(task_id)
            if text.startswith(prefix) or (prefix and name.startswith(prefix)):
                yield Completion(text, -replace, display=f"{text} {name}", display_meta=status)

    def _journal_tasks(self) -> list[tuple[int, str, str]]:
        """The newest tasks (id, name, status), read at most every two seconds; none when
        there is no journal (completing does not create one)."""
        from fmsh.journal import journal_path, open_journal

        environ = self.shell.vars.environ()
        path = journal_path(environ)
        now = time.monotonic()
        cached = self._tasks
        if cached is not None and cached[1] == path and now - cached[0] < 2.0:
            return cached[2]
        rows: list[tuple[int, str, str]] = []
        if os.path.exists(path):
            environ = {**environ, "FMSH_JOURNAL_TIMEOUT": "0.2"}  # never hang a keystroke on a lock
            try:
                journal = open_journal(environ, create=False)
                if journal is not None:
                    try:
                        rows = [(t.id, t.name, t.status) for t in journal.tasks(limit=200)]
                    finally:
                        journal.close()
            except Exception:  # a locked, foreign or damaged journal: no ids
                rows = []
        self._tasks = (now, path, rows)
        return rows

    # --- paths -------------------------------------------------------------------------

    def _paths(self, ctx: _Context) -> Iterator[Completion]:
        typed = ctx.word_value
        directory, _, base = typed.rpartition("/")
        if "/" in typed:
            directory += "/"
        expanded = os.path.expanduser(directory) if directory.startswith("~") else directory
        if typed.startswith("~") and "/" not in typed:
            yield from self._users(typed[1:], len(ctx.word))
            return
        try:
            entries = sorted(os.listdir(expanded or "."))
        except (OSError, ValueError):
            return
        count = 0
        for name in entries:
            if not name.startswith(base) or (name.startswith(".") and not base.startswith(".")):
                continue
            full = os.path.join(expanded or ".", name)
            is_dir = os.path.isdir(full)
            text = _quote_path(directory + name, ctx.quote, is_dir)
            meta = "directory" if is_dir else "link" if os.path.islink(full) else "file"
            yield Completion(text, -len(ctx.word), display=name + ("/" if is_dir else ""), display_meta=meta)
            count += 1
            if count >= _MAX_PATH_COMPLETIONS:
                return

    def _users(self, prefix: str, replace: int) -> Iterator[Completion]:
        try:
            import pwd

            names = sorted({p.pw_name for p in pwd.getpwall() if p.pw_name.startswith(prefix)})
        except Exception:
            return
        for name in names:
            yield Completion(f"~{name}/", -replace, display=f"~{name}/", display_meta="home")


def _plain(names: Iterable[str], prefix: str, meta: str, replace: int) -> Iterator[Completion]:
    for name in names:
        if name.startswith(prefix):
            yield Completion(name, -replace, display=name, display_meta=meta)


def _escaped(word: str, index: int) -> bool:
    """Whether the character at `index` follows an odd number of backslashes."""
    count = 0
    while index - count - 1 >= 0 and word[index - count - 1] == "\\":
        count += 1
    return count % 2 == 1


def _escape(text: str) -> str:
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def _quote_path(path: str, quote: str, is_dir: bool) -> str:
    """The path as a word: in the quote the user opened (closed after a file), else with
    backslashes; a leading ~ stays unquoted so that it still expands."""
    tilde = ""
    if path.startswith("~"):
        head, slash, rest = path.partition("/")
        tilde, path = head + slash, rest
    if quote == "'":
        body = "'" + path.replace("'", "'\\''") + ("/" if is_dir else "'")
    elif quote == '"':
        body = '"' + "".join("\\" + c if c in '"\\$`' else c for c in path) + ("/" if is_dir else '"')
    else:
        body = _escape(path) + ("/" if is_dir else "")
    return tilde + body


def _short(text: str, width: int = 30) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
