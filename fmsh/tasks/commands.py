"""The task commands on fmsh's command line: `fmsh --tasks`, `fmsh --trace ID`, ...

    fmsh --tasks [-a] [-n N] [--status S] [--name GLOB] [--json]
    fmsh --trace ID [--json|--html FILE|--otel-json FILE|--otlp URL|--follow]
    fmsh --log ID [STEP] [--host HOST] [--json]
    fmsh --resume ID [--accept-changes]
    fmsh --cancel ID
    fmsh --retry ID --from STEP
    fmsh --forget ID

An option, not a word, picks the command, so that `fmsh FILE` still runs any FILE (even
one called `tasks`). The builtins of the same names (`tasks`, `resume 42` in a script or
at the prompt) run these. A thin click layer over fmsh/tasks (manage.py, start.py).
"""

from __future__ import annotations

import os
import sys

import click

from fmsh.runtime.errors import ShellError

NAMES = ("tasks", "trace", "log", "resume", "cancel", "retry", "forget")


def _report(message: str) -> None:
    sys.stderr.write(f"fmsh: {message}\n")
    sys.stderr.flush()


def _environ() -> dict[str, str]:
    return dict(os.environ)


def _out(text: str) -> int:
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.command(context_settings=_SETTINGS)
@click.option("-a", "--all", "show_all", is_flag=True, help="Every task (the default is the 20 newest).")
@click.option("-n", "--limit", type=click.IntRange(1), default=20, show_default=True, help="How many, newest first.")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help="Only these: queued, running, done, failed, interrupted, cancelled (repeat, or a,b).")  # fmt: skip
@click.option("--name", metavar="GLOB", help="Only tasks whose name matches (a shell pattern).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
def tasks(show_all: bool, limit: int, statuses: tuple[str, ...], name: str | None, as_json: bool) -> int:
    """The tasks in the journal: id, name, status, owner, start, duration, steps, failed steps.

    Above the table, the whole journal's counts by status and its recent failures (not with --json)."""
    from fmsh.tasks.manage import list_tasks

    wanted = [s for value in statuses for s in value.split(",") if s]
    return _out(list_tasks(_environ(), wanted, name, None if show_all else limit, as_json))


@click.command(context_settings=_SETTINGS)
@click.argument("task_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="The trace as one JSON document (its schema: the manual, TRACE).")
@click.option("--output", "with_output", is_flag=True, help="With --json: each step's journaled output too.")
@click.option("--hosts", "each_host", is_flag=True, help="Each host on a line (the default folds them by outcome).")
@click.option("--html", metavar="FILE", help="Write one self-contained HTML page: a timeline, the tree, the output.")
@click.option("--otel-json", metavar="FILE", help="Write the task as OpenTelemetry spans (OTLP/JSON; - for stdout).")
@click.option("--otlp", metavar="URL", help="Send the task as OpenTelemetry spans to an OTLP/HTTP endpoint.")
@click.option("-f", "--follow", is_flag=True, help="Redraw the tree as the task runs; end when it ends.")
@click.option("--interval", type=click.FloatRange(0.05), default=0.5, show_default=True, metavar="SECONDS",
              help="With --follow: how often to look.")  # fmt: skip
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour the tree (auto: on a terminal, unless NO_COLOR is set).")  # fmt: skip
def trace(
    task_id: str,
    as_json: bool,
    with_output: bool,
    each_host: bool,
    html: str | None,
    otel_json: str | None,
    otlp: str | None,
    follow: bool,
    interval: float,
    color: str,
) -> int:
    """A task as a tree of its steps: loops, calls, hosts folded by outcome, attempts,
    tries, awaits and signals, statuses, durations."""
    if follow:
        if as_json or html or otel_json or otlp:
            raise click.UsageError("--follow draws the tree: it does not go with --json, --html or --otel")
        from fmsh.trace.follow import follow as follow_task

        return follow_task(_environ(), task_id, interval, each_host, color)
    from fmsh.trace.command import TraceRequest, report

    request = TraceRequest(as_json, with_output, html, otel_json, otlp, each_host, color)
    return report(_environ(), task_id, request)


@click.command(context_settings=_SETTINGS)
@click.argument("task_id", metavar="ID")
@click.argument("step", required=False)
@click.option("--host", metavar="HOST", help="Only this host's output.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line: each output chunk, each capture.")
def log(task_id: str, step: str | None, host: str | None, as_json: bool) -> int:
    """The output a task's steps left in the journal (STEP: a number from `trace`, or a key)."""
    from fmsh.tasks.manage import write_log

    return write_log(_environ(), task_id, step, host, as_json)


@click.command(context_settings=_SETTINGS)
@click.argument("task_id", metavar="ID")
@click.option("--accept-changes", is_flag=True, help="Run the script as it is now, though it changed.")
def resume(task_id: str, accept_changes: bool) -> int:
    """Run an interrupted task again from the top: finished steps are not run again."""
    from fmsh.tasks.start import resume as resume_task

    return resume_task(task_id, accept_changes, _environ(), _report)


@click.command(context_settings=_SETTINGS)
@click.argument("task_id", metavar="ID")
def cancel(task_id: str) -> int:
    """Cancel a task: its owner stops before its next step; it is not resumed."""
    from fmsh.tasks.manage import cancel_task

    return _out(cancel_task(_environ(), task_id))


@click.command(context_settings=_SETTINGS)
@click.argument("task_id", metavar="ID")
@click.option("--from", "from_step", required=True, metavar="STEP", help="The first step to run again.")
def retry(task_id: str, from_step: str) -> int:
    """A new task that runs ID's script again, its finished steps before STEP carried over."""
    from fmsh.tasks.start import retry as retry_task

    return retry_task(task_id, from_step, _environ(), _report)


@click.command(context_settings=_SETTINGS)
@click.argument("task_id", metavar="ID")
def forget(task_id: str) -> int:
    """Remove a task and everything journaled for it."""
    from fmsh.tasks.manage import forget_task

    return _out(forget_task(_environ(), task_id))


COMMANDS: dict[str, click.Command] = {
    "tasks": tasks,
    "trace": trace,
    "log": log,
    "resume": resume,
    "cancel": cancel,
    "retry": retry,
    "forget": forget,
}


def main(name: str, args: list[str]) -> int:
    """Run `fmsh --NAME ARGS`; its exit status."""
    return run_command(COMMANDS[name], name, args)


def run_command(command: click.Command, name: str, args: list[str]) -> int:
    """Run one of fmsh's `--NAME` commands: a usage error is status 2, a ShellError its
    own status with its message, a closed pipe 141, Ctrl-C 130, a bug in fmsh 70 with one
    line; never a traceback."""
    from fmsh.runtime import signals

    signals.install_default_handlers()
    try:
        result = command.main(args=args, prog_name=f"fmsh --{name}", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return 2
    except ShellError as e:
        _report(f"{name}: {e.message}")
        return e.status
    except BrokenPipeError:
        return 141
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - never a traceback to the user
        from fmsh.runtime.errors import internal_error_line

        _report(f"{name}: {internal_error_line(e)}")
        return 70
    return int(result or 0)
