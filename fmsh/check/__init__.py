"""`fmsh check`: scripts checked for boundedness before they run (DESIGN §2.5).

What may run for ever is reported with FILE:LINE:COL, and the worst-case duration is
computed: the sum along the longest path of timeouts × attempts + backoff, with the steps
that dominate it. The modules:

    cost.py     durations and costs: the algebra the analysis computes with
    bounds.py   the analysis (a walk of the AST by node type) and its rules
    report.py   the report as text or JSON
    command.py  `fmsh --check` / `fmsh check` and the `check` builtin's work

The API: check_program(program, filename) and check_file(path) give a CheckReport
(.diagnostics [(pos, message)], .warnings, .bound seconds or None, .expression,
.dominant steps, .bounded).
"""

from __future__ import annotations

from fmsh.check.bounds import CheckReport, Defaults, check_file, check_program

__all__ = ["CheckReport", "Defaults", "check_file", "check_program"]
