"""`fmsh --check [--json] FILE...` (also `fmsh check FILE...`), and what the `check`
builtin runs: check scripts without running them.

Exit status: 0 when every script is bounded (warnings allowed), 1 when one is unbounded
(its problems are printed, each FILE:LINE:COL), 2 for a usage error, a file that cannot be
read, a syntax error (shown as the shell shows one: position, line, caret) or a default
timeout setting that is not a duration.

The options are read by hand: `fmsh --check` should start as fast as `fmsh -c` does.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

USAGE = "usage: fmsh --check [--json] FILE...   (also: fmsh check FILE...)"
HELP = f"""{USAGE}

Check scripts without running them: report what in them may run for ever (a while or
until loop without `max N', recursion, a wait without a finite timeout...) as
FILE:LINE:COL, and print each script's worst-case duration with the steps that dominate it.

  --json      one JSON object a script
  -h, --help  this text

Exit status: 0 bounded, 1 unbounded, 2 syntax error or unreadable file.
"""


def main(argv: list[str]) -> int:
    """`fmsh --check ARGS`: its exit status."""

    def out(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def err(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    import os

    try:
        return run(argv, os.environ.get, out, err)
    except BrokenPipeError:
        return 141


def run(
    argv: list[str],
    variable: Callable[[str], str | None],
    out: Callable[[str], None],
    err: Callable[[str], None],
) -> int:
    """Check the files that `argv` (the arguments after `check`) names. `variable` gives
    the shell variables the default timeouts come from (FMSH_STEP_TIMEOUT...)."""
    as_json = False
    paths: list[str] = []
    options = True
    for arg in argv:
        if options and arg == "--":
            options = False
        elif options and arg == "--json":
            as_json = True
        elif options and arg in ("-h", "--help"):
            out(HELP)
            return 0
        elif options and arg.startswith("-") and arg != "-":
            err(f"fmsh: check: {arg}: invalid option\n{USAGE}\n")
            return 2
        else:
            paths.append(arg)
    if not paths:
        err(f"fmsh: check: a file to check must be given\n{USAGE}\n")
        return 2

    from fmsh.check.bounds import Defaults, check_file
    from fmsh.check.report import render_json, render_text
    from fmsh.runtime.settings import SettingError
    from fmsh.syntax.errors import ParseError

    try:
        defaults = Defaults.from_variables(variable)
    except SettingError as e:
        err(f"fmsh: check: {e}\n")
        return 2
    status = 0
    for path in paths:
        try:
            report = check_file(path, defaults)
        except ParseError as e:
            err("fmsh: " + e.render() + "\n")
            status = 2
            continue
        except OSError as e:
            err(f"fmsh: check: {path}: {e.strerror or e}\n")
            status = 2
            continue
        out(render_json(report) if as_json else render_text(report))
        if not report.bounded:
            status = max(status, 1)
    return status
