"""Whether a program runs as a task, decided from its text before it runs: it does when
it has, anywhere (in a function, in a `$(...)`), a remote stage, an `await` (DESIGN §2.4:
a wait is a step, whose deadline a resumed task keeps; and only a task can be sent a
signal), or a `task NAME { }` block. What `eval` or `source` would bring in at run time is
not seen: wrap such a script in a task block to make it one."""

from __future__ import annotations

from fmsh.syntax import ast


def task_name(program: ast.Program, default: str) -> str | None:
    """The task's name (its first task block's, else `default`), or None: not a task."""
    remote = False
    stack: list[object] = [program.body]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is ast.TaskBlock:
            return item.name  # type: ignore[attr-defined]
        if kind is ast.RemoteCommand:
            remote = True
        elif kind is ast.Await:
            remote = True
        if kind is list:
            stack.extend(reversed(item))  # type: ignore[call-overload]
        elif kind is dict:
            stack.extend(reversed(list(item.values())))  # type: ignore[attr-defined]  # an await's options
        elif isinstance(item, ast.Node):
            stack.extend(getattr(item, f) for f in reversed(item._fields) if f != "pos")
    return default if remote else None


def default_name(source_name: str, text: str) -> str:
    """A script is named by its file; a command line by its beginning."""
    import os

    if source_name not in ("-c", "stdin", "prompt"):
        return os.path.basename(source_name)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    return line if len(line) <= 40 else line[:39] + "…"
