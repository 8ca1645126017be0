#!/usr/bin/env python3
"""Write the markdown report of a `bench/run`: the machine, the peers' versions, a table per
bench with fmsh's ratios to its peers, the target lines each bench printed, and SVG plots.

    bench/report.py REPORT.run.json [--report FILE]

`bench/run` calls `write_report` itself once the benches are done; run this script to write
the report again from the REPORT.run.json it left beside the report (the versions and the machine
are looked up again, at report time).

What it reads, per bench invocation: its exit status, its stdout, and the records it
appended to $BENCH_JSON with `_timing.record(bench, cases, **extra)`. The extras it knows:

    compare       [[fmsh case label, [peer case labels]], ...]: the ratios to show (default:
                  the first case labelled fmsh... against every case not labelled fmsh...)
    hosts, n, size_mb
                  the size of the run (in the heading; `hosts` places a fanout record on the
                  fan-out plot)
    per_step_ms   {series name: ms per step}: placed, with `n`, on the per-step plot
    title         the heading (default: the bench and its size)

Any other extra is listed under the table as `name: value`. A bench that exited without a
record still gets its printed tables (parsed from its stdout) and its target lines.

Standard library only; the plots are SVG written here (no matplotlib).
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import _timing as t

BENCH_VENV = t.BENCH_DIR / ".venv"
# The peers a bench leaves out when they are not installed, by the label it gives their cases
# (bench/setup installs them; clush comes with fmsh).
OPTIONAL_PEERS = {
    "fanout": ["pssh", "pdsh", "clush", "parallel-ssh", "ansible"],
    "interactive": ["xonsh"],
    "callback": ["dbos"],
}
INSTALL_HINT = "`bench/setup` installs them; clush comes with fmsh, in its .venv"
VERDICT = re.compile(r"\b(NOT MET|MET)\b")
TARGET_LINE = re.compile(r"target|^FAILED|^import check|skipped", re.IGNORECASE)


# --- the machine and the peers' versions --------------------------------------


def _run(argv: list[str], timeout: float = 30.0) -> tuple[int, str]:
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return -1, str(exc)
    return proc.returncode, (proc.stdout + "\n" + proc.stderr).strip()


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def machine(fmsh: str | None) -> list[tuple[str, str]]:
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    distro = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', _read("/etc/os-release"), re.MULTILINE)
    cores = str(os.cpu_count() or "?")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    if usable is not None and str(usable) != cores:
        cores += f" ({usable} usable by this process)"
    pythons = f"{platform.python_version()} ({sys.executable}, runs the benches)"
    fmsh_python = t.python_of(fmsh) if fmsh else None
    if fmsh_python:
        _, out = _run([fmsh_python, "--version"])
        pythons += f"; {_first_line(out).removeprefix('Python ')} ({fmsh_python}, runs fmsh)"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        ("CPU", model.group(1).strip() if model else platform.processor() or "unknown"),
        ("cores", cores),
        ("memory", f"{int(mem.group(1)) / (1 << 20):.1f} GiB" if mem else "unknown"),
        ("kernel", platform.release()),
        ("distribution", distro.group(1) if distro else "unknown"),
        ("Python", pythons),
        ("load average at report time (1, 5, 15 min)", load),
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def _beside_fmsh(name: str, fmsh: str | None) -> str | None:
    """`name` in the bin folder of fmsh's Python (its venv), else the repo's .venv, else PATH."""
    dirs = []
    fmsh_python = t.python_of(fmsh) if fmsh else None
    if fmsh_python:
        dirs.append(Path(fmsh_python).parent)
    dirs.append(t.REPO_ROOT / ".venv" / "bin")
    for d in dirs:
        if (d / name).is_file() and os.access(d / name, os.X_OK):
            return str(d / name)
    return shutil.which(name)


def _version(argv: list[str], pick=_first_line) -> str:  # type: ignore[no-untyped-def]
    if not argv[0] or not (os.sep in argv[0] and os.access(argv[0], os.X_OK) or shutil.which(argv[0])):
        return "not installed"
    rc, out = _run(argv)
    found = pick(out)
    if rc != 0 or not found:
        return f"error (exit {rc}): {_first_line(out)[:120]}"
    return found


def _field(name: str):  # type: ignore[no-untyped-def]
    def pick(text: str) -> str:
        m = re.search(rf"^{name}:\s*(.+)$", text, re.MULTILINE)
        return m.group(1).strip() if m else ""

    return pick


def versions(fmsh: str | None, bash: str) -> list[tuple[str, str]]:
    """(tool, version) for fmsh and every peer a bench compares it with; 'not installed' where missing."""
    bench_python = str(BENCH_VENV / "bin" / "python")
    pip_version = _field("Version")
    pssh = _version(["parallel-ssh", "--version"])
    if pssh != "not installed":
        deb = _version(["dpkg", "-s", "pssh"], _field("Version"))
        pssh += f" (Debian package pssh {deb})" if not deb.startswith(("error", "not")) else ""
    fmsh_python = (t.python_of(fmsh) if fmsh else None) or ""
    sqlite_code = "import sqlite3; print(sqlite3.sqlite_version)"
    sqlite = _version(["python3", "-c", sqlite_code])
    if fmsh_python:
        sqlite += f" (python3); {_version([fmsh_python, '-c', sqlite_code])} (fmsh's Python)"
    return [
        ("fmsh", _version([fmsh or "", "--version"])),
        ("bash", _version([bash, "--version"])),
        ("python3", _version(["python3", "--version"])),
        ("xonsh (bench/.venv)", _version([str(BENCH_VENV / "bin" / "xonsh"), "--version"])),
        ("pssh (parallel-ssh command)", pssh),
        ("pdsh", _version(["pdsh", "-V"])),
        ("clush", _version([_beside_fmsh("clush", fmsh) or "", "--version"])),
        (
            "parallel-ssh library (bench/.venv)",
            _version([bench_python, "-m", "pip", "show", "parallel-ssh"], pip_version),
        ),
        ("ansible (bench/.venv)", _version([str(BENCH_VENV / "bin" / "ansible"), "--version"])),
        ("DBOS (bench/.venv)", _version([bench_python, "-m", "pip", "show", "dbos"], pip_version)),
        ("OpenSSH", _version(["ssh", "-V"])),
        ("Litestream", _version([_beside_fmsh("litestream", fmsh) or "", "version"])),
        ("SQLite", sqlite),
        ("sqlite3 command line", _version(["sqlite3", "--version"], lambda s: " ".join(_first_line(s).split()[:2]))),
    ]


# --- the results ---------------------------------------------------------------


@dataclass
class Stat:
    """One case, summarised."""

    label: str
    ok: bool
    runs: int
    min: float | None = None
    median: float | None = None
    max: float | None = None
    cpu: float | None = None
    error: str | None = None


def stat_of(case: dict) -> Stat:
    if "median" in case:  # parsed from a printed table
        return Stat(**case)
    wall, cpu = case.get("wall") or [], case.get("cpu") or []
    ok = bool(case.get("ok")) and bool(wall)
    if not wall:
        return Stat(case["label"], False, 0, error=case.get("error") or "no successful run")
    return Stat(
        case["label"],
        ok,
        len(wall),
        min(wall),
        statistics.median(wall),
        max(wall),
        statistics.median(cpu) if cpu else None,
        case.get("error"),
    )


_TIME = re.compile(r"^([\d.]+) (ms|s)$")


def _parse_time(cell: str) -> float | None:
    m = _TIME.match(cell.strip())
    if not m:
        return None
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


def parse_tables(bench: str, stdout: str) -> list[dict]:
    """Pseudo-records from the markdown tables a bench printed (for a bench without a record)."""
    records: list[dict] = []
    heading = bench
    lines = stdout.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            heading = line[3:].strip()
        if line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("|-"):
            cases = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if len(cells) >= 6:
                    label = cells[0].strip("`")
                    runs = int(cells[1]) if cells[1].isdigit() else 0
                    lo, med, hi = (_parse_time(c) for c in cells[2:5])
                    ok = med is not None
                    cases.append(
                        {"label": label, "ok": ok, "runs": runs, "min": lo, "median": med, "max": hi,
                         "cpu": _parse_time(cells[5]), "error": None if ok else "failed"}
                    )  # fmt: skip
                i += 1
            record: dict = {"bench": bench, "title": heading, "cases": cases, "parsed": True}
            hosts = re.search(r"on (\d+) hosts", heading)
            if hosts:
                record["hosts"] = int(hosts.group(1))
            records.append(record)
            continue
        i += 1
    return records


def comparisons(record: dict, stats: dict[str, Stat]) -> list[tuple[str, list[str]]]:
    if record.get("compare"):
        return [(ours, [p for p in peers if p in stats]) for ours, peers in record["compare"] if ours in stats]
    labels = list(stats)
    ours = next((label for label in labels if label.startswith("fmsh")), None)
    if ours is None:
        return []
    return [(ours, [label for label in labels if not label.startswith("fmsh")])]


def _ratio(a: Stat, b: Stat) -> float | None:
    if a.ok and b.ok and a.median and b.median:
        return a.median / b.median
    return None


def best_peer(ours: Stat, peers: list[Stat]) -> tuple[Stat, float] | None:
    ok = [p for p in peers if p.ok and p.median]
    if not ours.ok or not ok:
        return None
    best = min(ok, key=lambda p: p.median or 0.0)
    return best, (ours.median or 0.0) / (best.median or 1.0)


def record_title(record: dict) -> str:
    if record.get("title"):
        return str(record["title"])
    size = []
    if "hosts" in record:
        size.append(f"{record['hosts']} hosts")
    if "n" in record:
        size.append(f"N={record['n']}")
    if "size_mb" in record:
        size.append(f"{record['size_mb']} MiB")
    return record["bench"] + (f", {', '.join(size)}" if size else "")


def table(rows: list[list[str]], align: str) -> str:
    """Rows (the first is the header) as a markdown table; `align` has l or r per column."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(row, widths, align, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
        if j == 0:
            rule = ["-" * (w + 1) + (":" if a == "r" else "-") for w, a in zip(widths, align, strict=True)]
            lines.append("|" + "|".join(rule) + "|")
    return "\n".join(lines)


def _cell(x: float | None) -> str:
    return "-" if x is None else t.fmt_time(x)


def _x(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def record_section(record: dict) -> tuple[list[str], list[list[str]]]:
    """Markdown lines for one record, and its summary rows."""
    stats = {c["label"]: stat_of(c) for c in record["cases"]}
    comps = comparisons(record, stats)
    ours_labels = {o for o, _ in comps}
    peer_of: dict[str, str] = {}
    for ours, peers in comps:
        for p in peers:
            peer_of.setdefault(p, ours)
    rows = [["case", "role", "runs", "min", "median", "max", "cpu (median)", "fmsh / this"]]
    for s in stats.values():
        role = "fmsh" if s.label in ours_labels else ("peer" if s.label in peer_of else "")
        ratio = _ratio(stats[peer_of[s.label]], s) if s.label in peer_of else None
        if s.ok:
            rows.append([f"`{s.label}`", role, str(s.runs), _cell(s.min), _cell(s.median), _cell(s.max),
                         _cell(s.cpu), _x(ratio)])  # fmt: skip
        else:
            rows.append([f"`{s.label}`", role, str(s.runs), "FAILED", "-", "-", "-", "-"])
    out = [table(rows, "llrrrrrr"), ""]
    summary = []
    title = record_title(record)
    for ours, peers in comps:
        o = stats[ours]
        parts = [f"{p} {_x(_ratio(o, stats[p]))}" for p in peers]
        best = best_peer(o, [stats[p] for p in peers])
        if parts:
            out.append(f"- `{ours}` / each (medians): " + ", ".join(parts))
        if best:
            b, r = best
            out.append(f"- `{ours}` / best peer `{b.label}`: **{r:.2f}x**")
            summary.append([title, f"`{ours}`", _cell(o.median), f"`{b.label}`", _cell(b.median), f"{r:.2f}x"])
        elif peers or not o.ok:
            summary.append([title, f"`{ours}`", _cell(o.median) if o.ok else "FAILED", "-", "-", "n/a"])
    for s in stats.values():
        if not s.ok:
            out.append(f"- FAILED `{s.label}`: {s.error or 'no successful run'}")
    missing = _absent(record)
    if missing:
        out.append(f"- **not run, not installed: {', '.join(missing)}** ({INSTALL_HINT})")
    known = {"bench", "cases", "compare", "title", "parsed"}
    for key, value in record.items():
        if key not in known:
            fmt = _mib if "rss" in key and isinstance(value, dict | int) else _num
            if isinstance(value, dict):
                value = ", ".join(f"{k}: {fmt(v)}" for k, v in value.items())
            out.append(f"- {key}: {fmt(value)}")
    if record.get("parsed"):
        out.append("- (no record from the bench: the table is the one it printed)")
    return out + [""], summary


def _num(v: object) -> str:
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_num(x) for x in v) + "]"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _mib(v: object) -> str:
    return f"{v / (1 << 20):.1f} MiB" if isinstance(v, int | float) else str(v)


def _absent(record: dict) -> list[str]:
    labels = [c["label"] for c in record["cases"]]
    peers = OPTIONAL_PEERS.get(record["bench"], [])
    return [p for p in peers if not any(label == p or label.startswith(p + ":") for label in labels)]


def missing_peers(run: dict) -> list[str]:
    """The peers bench/setup installs that a bench of this run could not compare with."""
    missing: list[str] = []
    for inv in run["invocations"]:
        for record in inv["records"] or []:
            missing += [p for p in _absent(record) if p not in missing]
    return missing


# --- SVG plots -----------------------------------------------------------------

COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]
MARKERS = ["circle", "square", "triangle", "diamond", "down", "cross", "plus", "circle", "square"]


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    r = 4.5
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{colour}"/>'
    if kind == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r}" height="{2 * r}" fill="{colour}"/>'
    if kind in ("triangle", "down"):
        s = -1 if kind == "triangle" else 1
        pts = [(x, y + s * r * 1.2), (x - r * 1.1, y - s * r * 0.8), (x + r * 1.1, y - s * r * 0.8)]
        return f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}" fill="{colour}"/>'
    if kind == "diamond":
        pts = [(x, y - r * 1.3), (x + r * 1.1, y), (x, y + r * 1.3), (x - r * 1.1, y)]
        return f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}" fill="{colour}"/>'
    if kind == "cross":
        d = f"M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}M{x - r:.1f},{y + r:.1f}L{x + r:.1f},{y - r:.1f}"
    else:  # plus
        d = f"M{x - r:.1f},{y:.1f}L{x + r:.1f},{y:.1f}M{x:.1f},{y - r:.1f}L{x:.1f},{y + r:.1f}"
    return f'<path d="{d}" stroke="{colour}" stroke-width="2.2" fill="none"/>'


def _fmt_tick(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 0.001:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:.6f}".rstrip("0").rstrip(".")


def _log_ticks(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """Axis bounds snapped to 1-2-5 values around [lo, hi], and the ticks between them."""
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2)
    cands = [m * 10.0**k for k in decades for m in (1, 2, 5)]
    low = max(c for c in cands if c <= lo * 1.0001)
    high = min(c for c in cands if c >= hi * 0.9999)
    if high <= low:
        high = low * 2
    ticks = [c for c in cands if low * 0.9999 <= c <= high * 1.0001]
    if len(ticks) > 9:
        ticks = [c for c in ticks if f"{c:e}".startswith("1")] or ticks
    return low, high, ticks


def _lin_ticks(lo: float, hi: float) -> tuple[float, float, list[float]]:
    lo = min(lo, 0.0)
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    low = math.floor(lo / step) * step
    high = math.ceil(hi / step) * step
    n = round((high - low) / step)
    return low, high, [low + i * step for i in range(n + 1)]


@dataclass
class Series:
    name: str
    points: list[tuple[float, float, float | None, float | None]]  # x, y, y low, y high (whiskers)
    bold: bool = False


def line_chart(
    title: str,
    xlabel: str,
    ylabel: str,
    series: list[Series],
    note: str = "",
    hline: tuple[float, str] | None = None,
    logy: bool | None = None,
) -> str:
    """An SVG line chart: log x; log y when the values span more than 20x (else linear from 0);
    one line and one marker shape per series, min-max whiskers where given, a legend; `logy`
    forces the y scale (log where possible); `hline` draws a dashed horizontal line (a target)
    at a value, with its label."""
    width, height = 820, 480
    left, right, top, bottom = 78, 220, 48, 62
    pw, ph = width - left - right, height - top - bottom
    xs = [p[0] for s in series for p in s.points]
    ys = [v for s in series for p in s.points for v in (p[1], p[2], p[3]) if v is not None]
    if hline is not None:
        ys.append(hline[0])
    if logy is None:
        logy = max(ys) / min(ys) > 20 if min(ys) > 0 else False
    logy = logy and min(ys) > 0
    _, _, xticks = _log_ticks(min(xs), max(xs))
    x0, x1 = min(xs) / 1.15, max(xs) * 1.15  # room for the markers at the ends
    xticks = [x for x in xticks if x0 <= x <= x1]
    y0, y1, yticks = _log_ticks(min(ys), max(ys)) if logy else _lin_ticks(min(ys), max(ys))

    def sx(x: float) -> float:
        return left + (math.log(x / x0) / math.log(x1 / x0)) * pw

    def sy(y: float) -> float:
        frac = math.log(y / y0) / math.log(y1 / y0) if logy else (y - y0) / (y1 - y0)
        return top + ph - frac * ph

    e = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
        f"<title>{e(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left + pw / 2}" y="26" text-anchor="middle" font-size="15" font-weight="bold">{e(title)}</text>',
    ]
    for v in yticks:
        y = sy(v)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<line x1="{left - 5}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#333"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{_fmt_tick(v)}</text>')
    for v in xticks:
        x = sx(v)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#e4e4e4"/>')
        out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 5}" stroke="#333"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 19}" text-anchor="middle">{_fmt_tick(v)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 18}" text-anchor="middle">{e(xlabel)} (log scale)</text>')
    scale = "log scale" if logy else "linear"
    out.append(
        f'<text transform="translate(20,{top + ph / 2}) rotate(-90)" text-anchor="middle">{e(ylabel)} ({scale})</text>'
    )
    if hline is not None:
        y = sy(hline[0])
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#555" stroke-dasharray="6,4"/>'
        )
        out.append(f'<text x="{left + 6}" y="{y - 6:.1f}" fill="#555">{e(hline[1])}</text>')
    for i, s in enumerate(series):
        colour, marker = COLOURS[i % len(COLOURS)], MARKERS[i % len(MARKERS)]
        pts = sorted(s.points)
        sw = 3 if s.bold else 1.6
        if len(pts) > 1:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, _, _ in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="{sw}"/>')
        for x, y, lo, hi in pts:
            if lo is not None and hi is not None and hi > lo:
                out.append(
                    f'<line x1="{sx(x):.1f}" y1="{sy(lo):.1f}" x2="{sx(x):.1f}" y2="{sy(hi):.1f}" '
                    f'stroke="{colour}" stroke-width="1" opacity="0.6"/>'
                )
            out.append(_marker(marker, sx(x), sy(y), colour))
        ly = top + 10 + i * 22
        lx = left + pw + 18
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 28}" y2="{ly}" stroke="{colour}" stroke-width="{sw}"/>')
        out.append(_marker(marker, lx + 14, ly, colour))
        weight = ' font-weight="bold"' if s.bold else ""
        out.append(f'<text x="{lx + 36}" y="{ly + 4}"{weight}>{e(s.name)}</text>')
    if note:
        ny = top + 10 + len(series) * 22 + 10
        for j, line in enumerate(note.split("\n")):
            out.append(f'<text x="{left + pw + 18}" y="{ny + j * 15}" fill="#555" font-size="11">{e(line)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def fanout_plot(records: list[dict]) -> str | None:
    by_tool: dict[str, list[tuple[float, float, float | None, float | None]]] = {}
    for record in records:
        if record["bench"] != "fanout" or "hosts" not in record:
            continue
        for case in record["cases"]:
            s = stat_of(case)
            if s.ok and s.median:
                by_tool.setdefault(s.label, []).append((float(record["hosts"]), s.median, s.min, s.max))
    if not by_tool:
        return None
    series = [Series(name, pts, bold=name.startswith("fmsh")) for name, pts in by_tool.items()]
    note = "median of the runs;\nwhiskers: min to max"
    return line_chart("Fan-out: `true` on N hosts", "hosts (N)", "wall time, s", series, note, logy=True)


def steps_plot(records: list[dict]) -> str | None:
    by_name: dict[str, list[tuple[float, float, float | None, float | None]]] = {}
    for record in records:
        per_step = record.get("per_step_ms")
        if not isinstance(per_step, dict) or "n" not in record:
            continue
        for name, value in per_step.items():
            if isinstance(value, int | float):
                by_name.setdefault(name, []).append((float(record["n"]), float(value), None, None))
    if not by_name:
        return None
    series = [Series(name, pts, bold=name.endswith("normal")) for name, pts in by_name.items()]
    note = "(median task - median plain) / N;\nfixed cost per task included"
    title, xlabel, ylabel = "Per-step overhead of a task", "steps in the task (N)", "added wall per step, ms"
    return line_chart(title, xlabel, ylabel, series, note, hline=(1.0, "journal target: 1 ms"))


# --- the report ------------------------------------------------------------------


def target_lines(stdout: str) -> list[str]:
    return [line.rstrip() for line in stdout.splitlines() if TARGET_LINE.search(line) and not line.startswith("|")]


def verdict_rows(inv: dict) -> list[list[str]]:
    """[where, line] for each MET / NOT MET line of a bench's output; `where` is the command,
    and the heading the line came under when the bench printed more than one (fanout's host
    counts)."""
    cmd = f"`{' '.join(['bench/' + inv['bench'] + '.py', *inv['args']])}`"
    stdout = inv.get("stdout", "")
    many = sum(line.startswith("## ") for line in stdout.splitlines()) > 1
    rows, heading = [], ""
    for line in stdout.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif VERDICT.search(line) and TARGET_LINE.search(line) and not line.startswith("|"):
            rows.append([f"{cmd}: {heading}" if many and heading else cmd, line.strip()])
    return rows


def write_report(run: dict, report: Path, fmsh: str | None = None, bash: str | None = None) -> list[Path]:
    """Write the report (and its SVGs beside it); return the paths written."""
    report.parent.mkdir(parents=True, exist_ok=True)
    fmsh = fmsh or run.get("fmsh") or t.default_fmsh()
    bash = bash or run.get("bash") or shutil.which("bash") or "/bin/bash"
    invocations = run["invocations"]
    for inv in invocations:
        if not inv.get("records"):
            inv["records"] = parse_tables(inv["bench"], inv.get("stdout", ""))
    records = [r for inv in invocations for r in inv["records"]]
    written: list[Path] = []
    plots: list[tuple[str, Path | None, str]] = []
    for name, svg, caption in (
        ("fanout", fanout_plot(records), "fan-out wall time against the number of hosts, one line per tool"),
        ("steps", steps_plot(records), "wall time a task adds per step against the number of steps"),
    ):
        if svg is None:
            plots.append((name, None, caption))
            continue
        path = report.with_name(f"{report.stem}-{name}.svg")
        path.write_text(svg, encoding="utf-8")
        written.append(path)
        plots.append((name, path, caption))

    failed = [" ".join([inv["bench"], *inv["args"]]) for inv in invocations if inv["rc"] != 0]
    lines = ["# fmsh benchmarks", ""]
    mode = "quick (a smoke run: the numbers are not for quoting)" if run.get("quick") else "full"
    lines.append(f"- command: `{' '.join(run.get('argv', ['bench/run']))}`")
    lines.append(f"- mode: {mode}")
    lines.append(f"- started {run.get('started', '?')}, took {run.get('seconds', 0) / 60:.1f} min")
    if failed:
        lines.append(f"- **benchmarks that could not run (a failed run or a missing tool): {', '.join(failed)}**")
    else:
        lines.append("- every benchmark ran (missed targets do not count as failures; see the target lines)")
    missing = missing_peers(run)
    if missing:
        lines.append(f"- **peers not installed, left out of the comparisons: {', '.join(missing)}** ({INSTALL_HINT})")
    lines.append("")

    summary: list[list[str]] = [
        ["bench", "fmsh case", "fmsh median", "best peer (or baseline)", "its median", "fmsh / it"]
    ]
    sections: list[str] = []
    order: list[str] = []
    for inv in invocations:
        if inv["bench"] not in order:
            order.append(inv["bench"])
    for bench in order:
        invs = [inv for inv in invocations if inv["bench"] == bench]
        sections.append(f"## {bench}")
        sections.append("")
        many = sum(len(inv["records"]) for inv in invs) > 1
        for inv in invs:
            cmd = " ".join(["bench/" + bench + ".py", *inv["args"]])
            status = "ok" if inv["rc"] == 0 else f"**exit {inv['rc']}**"
            sections.append(f"`{cmd}`: {status}, {inv['seconds']:.0f} s")
            sections.append("")
            if not inv["records"]:
                sections.append("(no results recorded)")
                sections.append("")
            for record in inv["records"]:
                if many:
                    sections.append(f"### {record_title(record)}")
                    sections.append("")
                body, rows = record_section(record)
                sections.extend(body)
                summary.extend(rows)
            targets = target_lines(inv.get("stdout", ""))
            if targets:
                sections.append("Target lines it printed:")
                sections.append("")
                sections.append("```")
                sections.extend(targets)
                sections.append("```")
                sections.append("")
            if inv.get("stdout", "").strip():
                sections.append("<details><summary>full output</summary>")
                sections.append("")
                sections.append("```")
                sections.append(inv["stdout"].rstrip())
                sections.append("```")
                sections.append("")
                sections.append("</details>")
                sections.append("")

    lines += ["## Summary: fmsh against the best peer (medians)", ""]
    lines += [table(summary, "llrlrr") if len(summary) > 1 else "(no results)", ""]
    verdicts = [row for inv in invocations for row in verdict_rows(inv)]
    lines += ["## Target verdicts (as the benches printed them)", ""]
    lines += [table([["bench", "verdict"], *verdicts], "ll") if verdicts else "(none printed)", ""]
    lines += ["## Plots", ""]
    for _name, svg_file, caption in plots:
        if svg_file is None:
            lines.append(f"- {caption}: no data in this run")
        else:
            lines.append(f"![{caption}]({svg_file.name})")
            lines.append("")
            lines.append(f"[{svg_file.name}]({svg_file.name}): {caption}.")
        lines.append("")
    lines += ["## Machine", ""]
    lines += [table([["what", ""], *[[k, v] for k, v in machine(fmsh)]], "ll"), ""]
    lines += ["## Versions (looked up at report time)", ""]
    lines += [table([["tool", "version"], *[[k, v] for k, v in versions(fmsh, bash)]], "ll"), ""]
    lines += sections
    report.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    written.insert(0, report)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="the REPORT.run.json bench/run left beside its report")
    parser.add_argument("--report", type=Path, help="the report to write (default: the one the run wrote)")
    args = parser.parse_args(argv)
    run = json.loads(args.run.read_text())
    report = args.report or Path(run["report"])
    for path in write_report(run, report):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
