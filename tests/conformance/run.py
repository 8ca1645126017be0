"""Conformance runner: feeds the Oils spec corpus to bash and fmsh and compares passes.

Usage:
    python tests/conformance/run.py [--shell NAME=CMD ...] [--jobs N] [--file GLOB]
        [--case SUBSTR] [--verbose] [--json OUT] [--min-ratio 0.9]

The first shell is the reference (bash by default); every other shell is scored
by its passes divided by the reference's.  A case passes when stdout (if the
case states one) and the exit status match, and stderr holds no Python
traceback.  Each shell is held to the answers the case accepts from a shell of
its name (``## OK bash status: 1``) and otherwise to the default lines, as the
Oils runner does; that reproduces the reference numbers in
../shared/conformance/README.md, and fmsh, having no such lines, always meets
the defaults.  --defaults-only holds every shell to the defaults.

The corpus lives outside the repo, at ../shared/conformance/oils-spec relative
to the repo root; FMSH_CONFORMANCE_DIR points elsewhere.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spec import Case, parse_file  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
HELPER_BIN = HERE / "bin"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TRACEBACK = b"Traceback (most recent call last)"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Shell:
    name: str
    argv: list[str]


@dataclass
class Result:
    case: Case
    shell: str
    stdout: bytes
    stderr: bytes
    status: int | None  # None: timed out
    expected_stdout: str | None
    expected_status: int
    passed: bool
    traceback: bool


def corpus_dir() -> Path:
    env = os.environ.get("FMSH_CONFORMANCE_DIR")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "conformance" / "oils-spec"


def default_fmsh() -> list[str]:
    # The venv's own console script first, so the fmsh under test is the one
    # installed next to this interpreter rather than some other on PATH.
    beside = Path(sys.executable).parent / "fmsh"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("fmsh")
    if found:
        return [found]
    # Plain ``python -m fmsh`` would not find an uninstalled package: cases run
    # in a temp dir and PYTHONPATH is not passed on.  So put the repo on the
    # path first; alter_sys leaves the shell's arguments in sys.argv[1:].
    boot = (
        f"import runpy, sys; sys.path.insert(0, {str(REPO_ROOT)!r}); "
        "runpy.run_module('fmsh', run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", boot]


def default_shells() -> list[Shell]:
    return [Shell("bash", ["/bin/bash"]), Shell("fmsh", default_fmsh())]


def parse_shell_arg(text: str) -> Shell:
    name, sep, cmd = text.partition("=")
    if not sep or not name or not cmd.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=CMD, got {text!r}")
    return Shell(name, shlex.split(cmd))


def load_cases(directory: Path, file_glob: str | None = None, case_substr: str | None = None) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(directory.glob("*.test.sh")):
        stem = path.name.removesuffix(".test.sh")
        if file_glob and not (fnmatch.fnmatch(path.name, file_glob) or fnmatch.fnmatch(stem, file_glob)):
            continue
        cases.extend(c for c in parse_file(path) if not case_substr or case_substr in c.name)
    return cases


def make_shims(shells: list[Shell], shim_dir: Path) -> bool:
    """Make each shell runnable as its bare name, for cases that run ``$SH -c``.

    $SH holds the shell's name, so a shell whose name does not already find that
    same program on the system PATH (fmsh in a venv, say) gets a wrapper script.
    Returns whether any wrapper was written.
    """
    made = False
    for sh in shells:
        on_path = shutil.which(sh.name, path=SYSTEM_PATH)
        target = shutil.which(sh.argv[0]) if len(sh.argv) == 1 else None
        if on_path and target and os.path.realpath(on_path) == os.path.realpath(target):
            continue
        shim = shim_dir / sh.name
        shim.write_text("#!/bin/sh\nexec " + shlex.join(sh.argv) + ' "$@"\n')
        shim.chmod(0o755)
        made = True
    return made


def run_case(
    case: Case, shell: Shell, path_var: str, timeout: float = DEFAULT_TIMEOUT, defaults_only: bool = False
) -> Result:
    """Run one case under one shell in a fresh empty directory and judge it.

    A shell is judged by the answers the case accepts from a shell of its name
    (``## OK bash ...``) unless ``defaults_only``; fmsh has none, so it always
    meets the default lines.
    """
    want_stdout, want_status = case.expected(None if defaults_only else shell.name)
    with tempfile.TemporaryDirectory(prefix="fmsh-conf-", ignore_cleanup_errors=True) as tmp:
        env = {"PATH": path_var, "SH": shell.name, "TMP": tmp, "LC_ALL": "C.UTF-8"}
        # A session of its own, so a timeout can kill the shell's children too.
        proc = subprocess.Popen(
            shell.argv,
            cwd=tmp,
            env=env,
            start_new_session=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        code = case.code.encode("utf-8", "surrogateescape")
        status: int | None
        try:
            out, err = proc.communicate(code, timeout=timeout)
            status = proc.returncode
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            out, err = proc.communicate()
            status = None
        # Background jobs the case left behind would otherwise outlive it.
        _kill_group(proc.pid)
    traceback = TRACEBACK in err
    passed = (
        status == want_status
        and (want_stdout is None or out == want_stdout.encode("utf-8", "surrogateescape"))
        and not traceback
    )
    return Result(case, shell.name, out, err, status, want_stdout, want_status, passed, traceback)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_all(
    cases: list[Case],
    shells: list[Shell],
    jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    defaults_only: bool = False,
) -> list[Result]:
    """Run every case under every shell, in parallel; results in (case, shell) order."""
    with tempfile.TemporaryDirectory(prefix="fmsh-conf-shims-") as shim_dir:
        path_var = str(HELPER_BIN) + ":"
        if make_shims(shells, Path(shim_dir)):
            path_var += shim_dir + ":"
        path_var += SYSTEM_PATH
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            futures = [pool.submit(run_case, c, sh, path_var, timeout, defaults_only) for c in cases for sh in shells]
            return [f.result() for f in futures]


@dataclass
class Summary:
    """Pass counts per file and shell, and the scores derived from them."""

    shells: list[str]
    files: dict[str, int]  # file name -> number of cases
    passes: dict[tuple[str, str], int]  # (file name, shell) -> passes
    tracebacks: dict[str, int]  # shell -> cases whose stderr held a traceback

    def total(self, shell: str) -> int:
        return sum(self.passes[f, shell] for f in self.files)

    def ratio(self, shell: str) -> float:
        """Passes of ``shell`` over those of the reference (first) shell."""
        ref = self.total(self.shells[0])
        return self.total(shell) / ref if ref else 0.0


def summarize(results: list[Result], shells: list[str]) -> Summary:
    files: dict[str, int] = {}
    passes: dict[tuple[str, str], int] = {}
    tracebacks = dict.fromkeys(shells, 0)
    for r in results:
        fname = Path(r.case.file).name
        if r.shell == shells[0]:
            files[fname] = files.get(fname, 0) + 1
        for sh in shells:
            passes.setdefault((fname, sh), 0)
        passes[fname, r.shell] += r.passed
        tracebacks[r.shell] += r.traceback
    return Summary(shells, files, passes, tracebacks)


def format_table(s: Summary) -> str:
    ref, others = s.shells[0], s.shells[1:]
    width = max([len("TOTAL")] + [len(f) for f in s.files])
    cols = ["cases"] + s.shells + [f"{o}/{ref}" for o in others]
    head = f"{'file':<{width}}  " + "  ".join(f"{c:>9}" for c in cols)
    lines = [head, "-" * len(head)]

    def row(label: str, n: int, counts: list[int]) -> str:
        ratios = [f"{c / counts[0]:.2f}" if counts[0] else "-" for c in counts[1:]]
        return f"{label:<{width}}  " + "  ".join(f"{v:>9}" for v in [n, *counts, *ratios])

    for f, n in s.files.items():
        lines.append(row(f, n, [s.passes[f, sh] for sh in s.shells]))
    lines.append("-" * len(head))
    lines.append(row("TOTAL", sum(s.files.values()), [s.total(sh) for sh in s.shells]))
    for o in others:
        lines.append(f"ratio {o}/{ref} (summed passes): {s.ratio(o):.3f}")
    lines.append("cases with a Python traceback: " + ", ".join(f"{sh} {s.tracebacks[sh]}" for sh in s.shells))
    return "\n".join(lines)


def _show(data: bytes | str | None, limit: int = 2000) -> str:
    if data is None:
        return "(not checked)"
    text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else data
    return repr(text if len(text) <= limit else text[:limit] + "...")


def failure_reports(results: list[Result], shells: list[str]) -> list[str]:
    """One report per case that the reference shell passes and another shell fails."""
    ref_passed = {id(r.case) for r in results if r.shell == shells[0] and r.passed}
    out: list[str] = []
    for r in results:
        if r.shell == shells[0] or r.passed or id(r.case) not in ref_passed:
            continue
        got_status = "timeout" if r.status is None else str(r.status)
        out.append(
            f"FAIL [{r.shell}] {r.case.name}  ({r.case.where})\n"
            f"  expected stdout: {_show(r.expected_stdout)}\n"
            f"  got stdout:      {_show(r.stdout)}\n"
            f"  expected status: {r.expected_status}  got: {got_status}\n"
            f"  stderr:          {_show(r.stderr, 500)}"
        )
    return out


def write_json(path: str, results: list[Result], s: Summary) -> None:
    doc = {
        "shells": s.shells,
        "files": {f: {"cases": n, **{sh: s.passes[f, sh] for sh in s.shells}} for f, n in s.files.items()},
        "totals": {sh: s.total(sh) for sh in s.shells},
        "ratios": {sh: s.ratio(sh) for sh in s.shells[1:]},
        "tracebacks": s.tracebacks,
        "results": [
            {
                "file": Path(r.case.file).name,
                "line": r.case.line,
                "name": r.case.name,
                "shell": r.shell,
                "passed": r.passed,
                "traceback": r.traceback,
                "status": r.status,
                "expected_status": r.expected_status,
                "stdout": r.stdout.decode("utf-8", "backslashreplace"),
                "expected_stdout": r.expected_stdout,
                "stderr": r.stderr.decode("utf-8", "backslashreplace")[:2000],
            }
            for r in results
        ],
    }
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--shell",
        action="append",
        type=parse_shell_arg,
        metavar="NAME=CMD",
        help="a shell to run (repeatable; the first is the reference). Default: bash=/bin/bash and fmsh",
    )
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="parallel cases (default: CPUs)")
    ap.add_argument("--file", metavar="GLOB", help="only spec files matching GLOB (e.g. 'redirect*')")
    ap.add_argument("--case", metavar="SUBSTR", help="only cases whose name contains SUBSTR")
    ap.add_argument("--verbose", action="store_true", help="show cases the reference passes and others fail")
    ap.add_argument("--json", metavar="OUT", help="write all results to OUT as JSON")
    ap.add_argument("--min-ratio", type=float, default=0.9, help="fail below this pass ratio (default 0.9)")
    ap.add_argument(
        "--defaults-only",
        action="store_true",
        help="judge every shell by the default lines, ignoring OK/N-I/BUG answers",
    )
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per case (default 10)")
    args = ap.parse_args(argv)

    directory = corpus_dir()
    if not directory.is_dir():
        print(
            f"skipped: ../shared/conformance not found (looked for {directory}; "
            "set FMSH_CONFORMANCE_DIR to the directory of *.test.sh files)"
        )
        return 0
    shells: list[Shell] = args.shell or default_shells()
    if len({sh.name for sh in shells}) != len(shells):
        print("error: shell names must differ", file=sys.stderr)
        return 2
    for sh in shells:
        if shutil.which(sh.argv[0]) is None:
            print(f"error: shell {sh.name!r}: {sh.argv[0]!r} not found", file=sys.stderr)
            return 2
    cases = load_cases(directory, args.file, args.case)
    if not cases:
        print("error: no cases selected", file=sys.stderr)
        return 2

    results = run_all(cases, shells, args.jobs, args.timeout, args.defaults_only)
    names = [sh.name for sh in shells]
    summary = summarize(results, names)
    if args.verbose:
        for report in failure_reports(results, names):
            print(report)
        print()
    print(format_table(summary))
    if args.json:
        write_json(args.json, results, summary)

    bad = [sh for sh in names[1:] if summary.ratio(sh) < args.min_ratio]
    if bad:
        print(f"FAILED: ratio below {args.min_ratio} for {', '.join(bad)}")
    if any(summary.tracebacks.values()):
        print("FAILED: Python traceback in stderr")
    return 1 if bad or any(summary.tracebacks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
