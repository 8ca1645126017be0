"""`fmsh --submit`: a script (or a command line) made a task that waits in a queue, for a
worker to run. The task is made as a shell would start it — its name, arguments,
environment (secrets by name only) and random seed journaled — but owned by no one. It is
parsed first, so a syntax error is said here, with its position, and nothing is queued.
The worker runs the journaled text in its own working directory: a submitted script
must not count on files beside it that the worker's machine does not have."""

from __future__ import annotations

import json

from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def submit(
    text: str,
    source_name: str,
    zero: str,
    args: list[str],
    queue: str,
    name: str | None,
    environ: Mapping[str, str],
) -> int:
    """Queue the script (`zero` is its $0, `args` $1...); its task id."""
    from fmsh.journal import open_journal
    from fmsh.syntax.errors import ParseError
    from fmsh.syntax.parser import parse_text
    from fmsh.tasks import environment
    from fmsh.tasks.detect import default_name, task_name
    from fmsh.tasks.start import _seed, source_hash

    if environ.get("FMSH_JOURNAL") == "none":
        raise ShellError("FMSH_JOURNAL=none: no journal, so no queue to submit to", status=2)
    try:
        program = parse_text(text, source_name)
    except (ParseError, RecursionError) as e:
        raise ShellError(e.render() if isinstance(e, ParseError) else f"{source_name}: nested too deeply to parse",
                         status=2) from None  # fmt: skip
    title = name or task_name(program, default_name(source_name, text)) or default_name(source_name, text)
    values = {
        "name": title,
        "origin": "submitted",
        "source_name": source_name,
        "source": text,
        "source_hash": source_hash(text),
        "args": json.dumps([zero, *args]),
        "cwd": None,
        "options": "[]",
    }
    bindings = environment.journaled(dict(environ)) + [("random-seed", 0, str(_seed()))]
    journal = open_journal(environ)
    assert journal is not None
    try:
        return journal.submit_task(values, queue, bindings)
    finally:
        journal.close()


def read_script(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "surrogateescape")
    except OSError as e:
        raise ShellError(f"{path}: {e.strerror}", status=127 if isinstance(e, FileNotFoundError) else 126) from None


def queue_name(text: str) -> str:
    if not text or any(c.isspace() or not c.isprintable() for c in text):
        raise ShellError(f"`{text}': not a queue name (one word, as in deploys)", status=2)
    return text
