"""How `fmsh check` shows a CheckReport: as text for a person, or as one JSON object.

Text:

    deploy.fmsh:7:1: unbounded: while loop without `max N' or an enclosing timeout (...)
    deploy.fmsh: worst case unbounded (1 problem)

    deploy.fmsh: worst case 2m41s
      12:1  1m03s  retry 3 timeout 20s @web[01-20] deploy
       4:1  1m     await port db:5432 timeout 1m
      (local commands outside a timeout are counted as instantaneous)

JSON: {"file", "bounded", "worst_case_seconds" (null when unbounded or when it depends on
rounds not known before the run), "worst_case" (the text), "assumed_instant",
"diagnostics": [{"line", "col", "severity" (unbounded | warning), "message"}],
"dominant": [{"line", "col", "seconds", "duration", "times", "text"}],
"unknown_rounds": [{"name", "line", "col"}]}.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.check.bounds import CheckReport
    from fmsh.syntax.source import Pos

UNBOUNDED = "unbounded"
WARNING = "warning"


def diagnostics(report: CheckReport) -> list[tuple[Pos, str, str]]:
    """(pos, severity, message) of the problems and the warnings, in source order."""
    found = [(pos, UNBOUNDED, message) for pos, message in report.diagnostics]
    found += [(pos, WARNING, message) for pos, message in report.warnings]
    return sorted(found, key=lambda d: (d[0].line, d[0].col, d[1]))


def render_text(report: CheckReport) -> str:
    lines = [
        f"{report.filename}:{pos.line}:{pos.col}: {severity}: {message}"
        for pos, severity, message in diagnostics(report)
    ]
    if not report.bounded:
        count = len(report.diagnostics)
        problems = f" ({count} problem{'s' if count != 1 else ''})" if count else ""
        lines.append(f"{report.filename}: worst case unbounded{problems}")
        return "\n".join(lines) + "\n"
    lines.append(f"{report.filename}: worst case {report.expression}")
    rows = [(f"{s.pos.line}:{s.pos.col}", s.poly.format(), s.text, s.times) for s in report.dominant]
    if rows:
        where = max(len(r[0]) for r in rows)
        took = max(len(r[1]) for r in rows)
        for location, duration, text, times in rows:
            repeat = f"  (×{times:g})" if times != 1 else ""
            lines.append(f"  {location.rjust(where)}  {duration.ljust(took)}  {text}{repeat}")
    for index, pos in enumerate(report.unknown_rounds):
        lines.append(f"  (N{index + 1} = the rounds of the for loop at {pos.line}:{pos.col})")
    if report.assumed:
        lines.append("  (local commands outside a timeout are counted as instantaneous)")
    return "\n".join(lines) + "\n"


def as_dict(report: CheckReport) -> dict[str, object]:
    return {
        "file": report.filename,
        "bounded": report.bounded,
        "worst_case_seconds": report.bound,
        "worst_case": report.expression,
        "assumed_instant": report.assumed,
        "diagnostics": [
            {"line": pos.line, "col": pos.col, "severity": severity, "message": message}
            for pos, severity, message in diagnostics(report)
        ],
        "dominant": [
            {
                "line": s.pos.line,
                "col": s.pos.col,
                "seconds": s.poly.constant,
                "duration": s.poly.format(),
                "times": s.times,
                "text": s.text,
            }
            for s in report.dominant
        ],
        "unknown_rounds": [
            {"name": f"N{index + 1}", "line": pos.line, "col": pos.col}
            for index, pos in enumerate(report.unknown_rounds)
        ],
    }


def render_json(report: CheckReport) -> str:
    import json

    return json.dumps(as_dict(report), ensure_ascii=False) + "\n"
