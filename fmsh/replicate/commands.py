"""The replication commands on fmsh's command line, a thin click layer over relocate.py:

fmsh --recover --from URL [--no-resume]
fmsh --standby --from URL [--ttl DURATION]
fmsh --replicate status
"""

from __future__ import annotations

import os
import sys

import click

NAMES = ("recover", "standby", "replicate")
_SETTINGS = {"help_option_names": ["-h", "--help"]}


def _report(message: str) -> None:
    sys.stderr.write(f"fmsh: {message}\n")
    sys.stderr.flush()


@click.command(context_settings=_SETTINGS)
@click.option(
    "--from", "url", required=True, metavar="URL", help="The replica: file:///path or sftp://[user@]host/path."
)
@click.option("--no-resume", is_flag=True, help="Restore and claim, but leave the tasks for `resume`.")
def recover(url: str, no_resume: bool) -> int:
    """Restore the journal's newest epoch from URL into FMSH_JOURNAL (a new file), claim
    the next epoch, and resume the tasks that were running there."""
    from fmsh.replicate.relocate import recover as run_recover

    return run_recover(url, dict(os.environ), _report, resume=not no_resume)


@click.command(context_settings=_SETTINGS)
@click.option("--from", "url", required=True, metavar="URL", help="The replica to watch.")
@click.option("--ttl", metavar="DURATION", help="Silence before taking over (default 10s, or FMSH_REPLICA_TTL).")
def standby(url: str, ttl: str | None) -> int:
    """Watch the owner's heartbeat on URL; recover here once it has been silent for the TTL."""
    from fmsh.replicate.control import ReplicaSettings
    from fmsh.replicate.relocate import standby as run_standby
    from fmsh.runtime import settings

    environ = dict(os.environ)
    seconds = settings.seconds(ttl, "--ttl") if ttl else None
    if seconds is None:
        configured = ReplicaSettings.from_environ({**environ, "FMSH_REPLICA": url})
        seconds = configured.ttl if configured is not None else 10.0
    return run_standby(url, environ, seconds, _report)


@click.command(context_settings=_SETTINGS)
@click.argument("what", type=click.Choice(["status"]))
def replicate(what: str) -> int:
    """`status`: the replica URL, the epoch this journal holds and the newest one, the
    heartbeat, the last sync and the lag."""
    from fmsh.replicate.relocate import status

    sys.stdout.write(status(dict(os.environ)))
    return 0


COMMANDS: dict[str, click.Command] = {"recover": recover, "standby": standby, "replicate": replicate}


def main(name: str, args: list[str]) -> int:
    from fmsh.tasks.commands import run_command

    return run_command(COMMANDS[name], name, args)
