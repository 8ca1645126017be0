"""The `fmsh` command line.

    fmsh [OPTIONS] FILE [ARGS...]        run a script
    fmsh [OPTIONS] -c CMD [NAME [ARGS]]  run a command string ($0 = NAME)
    fmsh [OPTIONS] [-s] [ARGS...]        read the script from standard input, or a prompt
                                         when standard input is a terminal
    fmsh --tasks | --trace ID | --resume ID ...   the task commands (tasks/commands.py)
    fmsh --recover | --standby --from URL         take a replicated journal over (replicate/)
    fmsh --check [--json] FILE...        check a script without running it (check/command.py);
                                         also `fmsh check FILE` when no file is called check
    fmsh --serve [--listen HOST:PORT]... take callbacks and signals over HTTP (serve/command.py);
                                         also `fmsh serve` when no file is called serve
    fmsh --submit FILE | --worker ...    queue a task; run queued tasks (fleet/command.py);
                                         also `fmsh worker` when no file is called worker

The click command below is the definition and the `--help`; because importing click costs
more than a whole `fmsh -c true` should, the forms above are parsed by `parse_args` (the
same options, tested against the click definition) and click is only loaded for `--help`,
`--version` and subcommands.
"""

from __future__ import annotations

# Until the shell's own handler is set, SIGINT ends fmsh quietly (no KeyboardInterrupt
# traceback from the middle of an import), as it would end any program.
import _signal  # type: ignore[import-not-found,unused-ignore]

if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:  # not if ignored on entry
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)

import os  # noqa: E402
import sys  # noqa: E402

SET_LETTERS = "aefhmnuvxBCEHPT"
USAGE = (
    "usage: fmsh [-aefnuvxC] [-o OPTION] [--norc] [--allow-unbounded] [-i] [-s] "
    "(-c COMMAND [NAME [ARGS...]] | FILE [ARGS...])"
)


# Long options that set a shell variable (the variable is the setting; the option is a way
# to give it on the command line).
_VALUED = {"--ssh-config": "FMSH_SSH_CONFIG", "--inventory": "FMSH_INVENTORY", "--replica": "FMSH_REPLICA"}
_EXPORTED = ("FMSH_REPLICA",)  # the resumes that `recover` starts are child processes


class ShellArgs:
    """What the command line asked for."""

    def __init__(self) -> None:
        self.command: str | None = None
        self.script: str | None = None
        self.args: list[str] = []
        self.name: str | None = None
        self.options: list[tuple[str, bool]] = []  # (set -o name, on)
        self.interactive = False
        self.stdin = False
        self.norc = False
        self.settings: dict[str, str] = {}  # shell variables set by --ssh-config, --inventory


class UsageError(Exception):
    pass


def parse_args(argv: list[str]) -> ShellArgs:
    """Parse the shell-invocation forms (bash's conventions: options end at the first
    operand; `-c` takes the first operand as the command)."""
    from fmsh.runtime.state import Options

    result = ShellArgs()
    letters = Options.SET_OPTIONS
    read_command = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--" or arg == "-":
            i += 1
            break
        if arg == "--norc":
            result.norc = True
            i += 1
            continue
        if arg == "--allow-unbounded":
            result.settings["FMSH_ALLOW_UNBOUNDED"] = "1"
            i += 1
            continue
        option, eq, value = arg.partition("=")
        if option in _VALUED:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"{option}: option requires an argument")
                value = argv[i]
            result.settings[_VALUED[option]] = value
            i += 1
            continue
        if arg.startswith("--"):
            raise UsageError(f"{arg}: invalid option")
        if len(arg) < 2 or arg[0] not in "-+":
            break
        on = arg[0] == "-"
        for letter in arg[1:]:
            if letter == "c" and on:
                read_command = True
            elif letter == "i" and on:
                result.interactive = True
            elif letter == "s" and on:
                result.stdin = True
            elif letter == "o":
                i += 1
                if i >= len(argv):
                    raise UsageError("-o: option requires an argument")
                if argv[i] not in letters:
                    raise UsageError(f"{argv[i]}: invalid option name")
                result.options.append((argv[i], on))
            else:
                name = next((n for n, flag in letters.items() if flag == letter), None)
                if name is None:
                    raise UsageError(f"{arg[0]}{letter}: invalid option")
                result.options.append((name, on))
        i += 1
    rest = argv[i:]
    if read_command:
        if not rest:
            raise UsageError("-c: option requires an argument")
        result.command = rest[0]
        if len(rest) > 1:
            result.name = rest[1]
            result.args = rest[2:]
    elif rest and not result.stdin:
        result.script = rest[0]
        result.args = rest[1:]
    else:
        result.args = rest
    return result


def _wants_click(argv: list[str]) -> bool:
    for arg in argv:
        if arg in ("--help", "--version", "-h"):
            return True
        if arg == "--" or not arg.startswith("-"):
            return False
    return False


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        # SIGINT before the shell's own handler is in place (during start-up): end as a
        # shell does, by SIGINT, and without a traceback.
        from fmsh.runtime import signals

        signals.die_of(signals.SIGINT)
        return 130


# `fmsh --tasks`, `fmsh --resume ID`...: the task commands (fmsh/tasks/commands.py).
TASK_COMMANDS = ("tasks", "trace", "log", "resume", "cancel", "retry", "forget")
# `fmsh --recover --from URL`, `--standby`, `--replicate status` (fmsh/replicate/commands.py).
REPLICA_COMMANDS = ("recover", "standby", "replicate")


def _main(argv: list[str]) -> int:
    if argv and argv[0].startswith("--") and argv[0][2:] in TASK_COMMANDS:
        from fmsh.tasks.commands import main as task_main

        return task_main(argv[0][2:], argv[1:])
    if argv and argv[0].startswith("--") and argv[0][2:] in REPLICA_COMMANDS:
        from fmsh.replicate.commands import main as replica_main

        return replica_main(argv[0][2:], argv[1:])
    # `fmsh check FILE` too, unless ./check is a script to run (`fmsh FILE` runs any FILE).
    if argv and (argv[0] == "--check" or (argv[0] == "check" and not os.path.isfile("check"))):
        from fmsh.check.command import main as check_main

        return check_main(argv[1:])
    if argv and (argv[0] in ("--submit", "--worker") or (argv[0] == "worker" and not os.path.isfile("worker"))):
        from fmsh.fleet.command import main as fleet_main

        return fleet_main(argv[0].lstrip("-"), argv[1:])
    if argv and (argv[0] == "--serve" or (argv[0] == "serve" and not os.path.isfile("serve"))):
        from fmsh.serve.command import main as serve_main

        return serve_main(argv[1:])
    if _wants_click(argv):
        return click_main(argv)
    try:
        args = parse_args(argv)
    except UsageError as e:
        sys.stderr.write(f"fmsh: {e}\n{USAGE}\n")
        return 2
    return run(args)


def run(args: ShellArgs) -> int:
    """Start a shell as the arguments say; its exit status."""
    from fmsh.interp.shell import Shell
    from fmsh.runtime import signals

    signals.install_default_handlers()
    if args.command is not None:
        shell = Shell(args.name or "fmsh", args.args)
        _apply_options(shell, args)
        return _exit(shell, shell.run_script(args.command, "-c", origin="command"))
    if args.script is not None:
        shell = Shell(args.script, args.args)
        _apply_options(shell, args)
        text = _read_script(args.script)
        if isinstance(text, int):
            return text
        return _exit(shell, shell.run_script(text, args.script, origin="script"))
    interactive = args.interactive or (os.isatty(0) and os.isatty(2))
    shell = Shell("fmsh", args.args, interactive=interactive)
    _apply_options(shell, args)
    if interactive:
        from fmsh.repl import run_repl
        from fmsh.runtime.jobcontrol import start as start_job_control

        start_job_control(shell)

        return _exit(shell, run_repl(shell, norc=args.norc))
    data = _read_all(0)
    return _exit(shell, shell.run_script(data, "stdin", origin="stdin"))


def _apply_options(shell, args: ShellArgs) -> None:  # type: ignore[no-untyped-def]
    for variable, value in args.settings.items():
        shell.vars.set(variable, value)
        if variable in _EXPORTED:
            shell.vars.export(variable)
    for name, on in args.options:
        shell.options.set(name, on)
        if name == "allexport":
            shell.vars.allexport = on


def _read_script(path: str) -> str | int:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        sys.stderr.write(f"fmsh: {path}: Is a directory\n")
        return 126
    except OSError as e:
        sys.stderr.write(f"fmsh: {path}: {e.strerror}\n")
        return 127 if isinstance(e, FileNotFoundError) else 126
    return data.decode("utf-8", "surrogateescape")


def _read_all(fd: int) -> str:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


def _exit(shell, status: int) -> int:  # type: ignore[no-untyped-def]
    """The shell's last act. A shell stopped by SIGINT dies of SIGINT, as bash does, so
    that whoever ran it sees the signal (status 130 in their shell)."""
    shell.close()
    if status == 130 and shell.interrupted:
        from fmsh.runtime import signals

        signals.die_of(signals.SIGINT)
    return status & 0xFF


# --- the click definition (help, version, subcommands) ---------------------------------


def click_main(argv: list[str]) -> int:
    import click

    from fmsh import __version__

    @click.command(
        context_settings={"help_option_names": ["-h", "--help"], "ignore_unknown_options": True},
        help=(
            "fmsh: a shell for people who run things on many machines.\n\n"
            "Runs FILE with ARGS, or COMMAND with -c, or the script on standard input, or an "
            "interactive prompt when standard input is a terminal. Set options (-e, -u, -x, "
            "-o pipefail, ...) are those of bash's `set`.\n\n"
            "The manual: man fmsh (man/fmsh.1 in the source tree)."
        ),
        epilog=(
            "Task commands (each with its own --help): fmsh --tasks, fmsh --trace ID, "
            "fmsh --log ID [STEP], fmsh --resume ID, fmsh --cancel ID, fmsh --retry ID --from STEP, "
            "fmsh --forget ID.\n\n"
            "Replication (pip install 'fmsh[replicate]'): fmsh --recover --from URL, fmsh --standby --from URL, "
            "fmsh --replicate status.\n\n"
            "Checking a script without running it: fmsh --check [--json] FILE (or fmsh check FILE) "
            "reports what in it is unbounded (FILE:LINE:COL) and its worst-case duration; "
            "status 0 bounded, 1 unbounded, 2 syntax error.\n\n"
            "Events from outside: fmsh --serve [--listen HOST:PORT] (or fmsh serve) takes POSTs to "
            "callback URLs and signals for tasks into the journal (fmsh --serve --help).\n\n"
            "A fleet: fmsh --submit FILE queues a task; fmsh --worker (or fmsh worker) processes, on any "
            "machines sharing the journal (FMSH_JOURNAL=rqlite://HOST:PORT,...), claim and run them."
        ),
    )
    @click.version_option(__version__, "--version", prog_name="fmsh")
    @click.option("-c", "command", metavar="COMMAND", help="Run COMMAND; the next operands are $0 and $1...")
    @click.option("-s", "stdin", is_flag=True, help="Read the script from standard input (operands are $1...).")
    @click.option("-i", "interactive", is_flag=True, help="Interactive, even if standard input is not a terminal.")
    @click.option("--norc", is_flag=True, help="Do not read the rc file at an interactive start.")
    @click.option(
        "--allow-unbounded", is_flag=True, help="Start a task that `fmsh check` finds unbounded (FMSH_ALLOW_UNBOUNDED)."
    )
    @click.option("--ssh-config", metavar="FILE", help="The ssh config file for remote stages (FMSH_SSH_CONFIG).")
    @click.option("--inventory", metavar="FILE", help="The inventory file (FMSH_INVENTORY).")
    @click.option(
        "--replica", metavar="URL", help="Replicate the journal to URL: file:///path, sftp://host/path (FMSH_REPLICA)."
    )
    @click.option("-e", "errexit", is_flag=True, help="set -e: exit when a command fails.")
    @click.option("-u", "nounset", is_flag=True, help="set -u: an unset variable is an error.")
    @click.option("-x", "xtrace", is_flag=True, help="set -x: print commands as they run.")
    @click.option("-v", "verbose", is_flag=True, help="set -v: print input as it is read.")
    @click.option("-n", "noexec", is_flag=True, help="set -n: read and check, do not run.")
    @click.option("-f", "noglob", is_flag=True, help="set -f: no pathname expansion.")
    @click.option("-C", "noclobber", is_flag=True, help="set -C: > does not overwrite files.")
    @click.option("-a", "allexport", is_flag=True, help="set -a: export every variable assigned.")
    @click.option("-o", "set_options", multiple=True, metavar="OPTION", help="set -o OPTION (e.g. pipefail).")
    @click.argument("operands", nargs=-1, type=click.UNPROCESSED, metavar="[FILE] [ARGS]...")
    def cli(**_kwargs: object) -> None:
        # Reached only when click parsed something other than --help/--version; the shell
        # forms are handled by parse_args, so hand back to it.
        raise SystemExit(main([a for a in argv if a not in ("--help", "-h", "--version")]))

    try:
        cli.main(args=argv, prog_name="fmsh", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return 2
    except SystemExit as e:
        return int(e.code or 0)
    return 0
