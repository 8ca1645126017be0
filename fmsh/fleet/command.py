"""The fleet's command line:

fmsh --submit [--queue Q] [--name NAME] FILE [ARGS...]     queue a script; prints its id
fmsh --submit [--queue Q] [--name NAME] -c COMMAND [ARGS...]
fmsh --worker [--queue Q] [--jobs N] [--poll DUR] [--exit-when-idle]
                                                             (also `fmsh worker`)
"""

from __future__ import annotations

import os
import sys

import click

from fmsh.runtime.errors import ShellError

_SETTINGS = {"help_option_names": ["-h", "--help"]}
DEFAULT_QUEUE = "default"


def _say(line: str) -> None:
    sys.stderr.write(f"fmsh worker: {line}\n")
    sys.stderr.flush()


@click.command(context_settings={**_SETTINGS, "ignore_unknown_options": True})
@click.option("--queue", default=DEFAULT_QUEUE, show_default=True, metavar="NAME", help="The queue to put it in.")
@click.option("--name", metavar="NAME", help="The task's name (default: its task block's, or the file's).")
@click.option("-c", "command", metavar="COMMAND", help="Submit COMMAND (the rest are its $0 and $1...).")
@click.argument("operands", nargs=-1, type=click.UNPROCESSED, metavar="[FILE] [ARGS]...")
def submit(queue: str, name: str | None, command: str | None, operands: tuple[str, ...]) -> int:
    """Queue a script (or a command) as a task for a worker; print its id."""
    from fmsh.fleet.submit import queue_name, read_script
    from fmsh.fleet.submit import submit as do_submit

    queue = queue_name(queue)
    if command is not None:
        # As `fmsh -c COMMAND NAME ARGS`: NAME is $0.
        text, source, zero, args = command, "-c", (operands[0] if operands else "fmsh"), list(operands[1:])
    else:
        if not operands:
            raise click.UsageError("a script to submit (FILE), or -c COMMAND")
        source, args = operands[0], list(operands[1:])
        zero = source
        text = read_script(source)
    task_id = do_submit(text, source, zero, args, queue, name, dict(os.environ))
    sys.stdout.write(f"{task_id}\n")
    return 0


@click.command(context_settings=_SETTINGS)
@click.option("--queue", default=DEFAULT_QUEUE, show_default=True, metavar="NAME", help="The queue to take tasks from.")
@click.option("--jobs", "-j", type=click.IntRange(1, 1000), default=8, show_default=True,
              help="The most tasks it runs at once.")  # fmt: skip
@click.option("--poll", default="500ms", show_default=True, metavar="DURATION",
              help="How long it waits between looks at the queue when it has room.")  # fmt: skip
@click.option("--exit-when-idle", is_flag=True, help="Exit once the queue is empty and its tasks have ended.")
def worker(queue: str, jobs: int, poll: str, exit_when_idle: bool) -> int:
    """Claim tasks from a queue of the journal and run them, with the other workers of the fleet."""
    from fmsh.fleet.submit import queue_name
    from fmsh.fleet.worker import Worker
    from fmsh.journal import open_journal
    from fmsh.runtime.durations import parse_duration

    queue = queue_name(queue)
    seconds = parse_duration(poll)
    if seconds is None or seconds <= 0:
        raise click.BadParameter(f"`{poll}': not a duration (as in 500ms, 2s)", param_hint="--poll")
    environ = dict(os.environ)
    if environ.get("FMSH_JOURNAL") == "none":
        raise ShellError("FMSH_JOURNAL=none: no journal, so no queue to work on", status=2)
    journal = open_journal(environ)
    assert journal is not None
    try:
        return Worker(journal, environ, queue, jobs, seconds, exit_when_idle, _say).run()
    finally:
        journal.close()


COMMANDS: dict[str, click.Command] = {"submit": submit, "worker": worker}


def main(name: str, args: list[str]) -> int:
    from fmsh.tasks.commands import run_command

    return run_command(COMMANDS[name], name, args)
