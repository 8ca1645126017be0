"""Packaging: the version is written in one place, and fmsh installs the way a user
installs it. One end-to-end test builds a wheel from a copy of the tree, installs it into
a fresh venv (its dependencies from the package index), and runs what was installed:
`fmsh --version`, `fmsh --help`, the man page under <venv>/share/man rendered by man(1),
the Pygments plugin; then `pipx install` of the same tree, in a PIPX_HOME of its own.
It takes some 20-40 seconds, and runs in the normal suite."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import fmsh

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_written_once() -> None:
    """pyproject.toml takes it from fmsh/__init__.py, which setuptools reads without
    importing anything (a literal assignment, no imports in the module)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fmsh.__version__"}
    assert project["project"]["requires-python"] == ">=3.11"
    assert project["project"]["scripts"] == {"fmsh": "fmsh.cli:main"}
    assert project["project"]["entry-points"]["pygments.lexers"] == {"fmsh": "fmsh.syntax.pygments_lexer:FmshLexer"}
    extras = project["project"]["optional-dependencies"]
    assert {"test", "otel", "replicate", "pygments"} <= set(extras)
    tree = ast.parse((ROOT / "fmsh" / "__init__.py").read_text())
    assert not [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    versions = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
        and isinstance(node.value, ast.Constant)
    ]
    assert versions == [fmsh.__version__]
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", fmsh.__version__)


def _run(argv: list[str | Path], *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, f"{argv}: status {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _copy_tree(dest: Path) -> Path:
    """What a source checkout holds that the build reads (a copy: building writes build/
    and *.egg-info next to the sources)."""
    src = dest / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "fmsh", src / "fmsh", ignore=ignore)
    shutil.copytree(ROOT / "man", src / "man", ignore=ignore)
    return src


def test_wheel_venv_man_page_and_pipx(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FMSH_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1")
    src = _copy_tree(tmp_path)

    # The wheel: the package, its data files and its entry points.
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, src], env=env)
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"fmsh-{fmsh.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        info = f"fmsh-{fmsh.__version__}.dist-info"
        meta = zf.read(f"{info}/METADATA").decode()
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
        names = zf.namelist()
    assert f"Version: {fmsh.__version__}\n" in meta and "Requires-Python: >=3.11\n" in meta
    for extra in ("test", "otel", "replicate", "pygments"):
        assert f"Provides-Extra: {extra}\n" in meta
    assert "[console_scripts]\nfmsh = fmsh.cli:main" in entry_points
    assert "[pygments.lexers]\nfmsh = fmsh.syntax.pygments_lexer:FmshLexer" in entry_points
    assert f"fmsh-{fmsh.__version__}.data/data/share/man/man1/fmsh.1" in names
    assert "fmsh/trace/schema.json" in names and not [n for n in names if "__pycache__" in n]

    # A fresh venv: `pip install fmsh-*.whl` (and its dependencies).
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], env=env)
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], env=env)
    fmsh_bin = venv / "bin" / "fmsh"
    assert _run([fmsh_bin, "--version"], env=env).strip() == f"fmsh, version {fmsh.__version__}"
    help_text = _run([fmsh_bin, "--help"], env=env)
    for option in ("Usage:", "-c", "--check", "--tasks", "--resume", "--version"):
        assert option in help_text, option
    assert _run([fmsh_bin, "-c", "echo $((6 * 7))"], env=env) == "42\n"

    # The man page, where man(1) finds it for this venv.
    page = venv / "share" / "man" / "man1" / "fmsh.1"
    assert page.is_file() and page.read_bytes() == (src / "man" / "fmsh.1").read_bytes()
    man = shutil.which("man")
    assert man is not None, "man(1) is missing: run tests/setup (it installs man-db)"
    man_env = {**env, "MANWIDTH": "100", "MANPAGER": "cat", "PAGER": "cat", "LANG": "C.UTF-8"}
    for argv in ([man, "-l", page], [man, "fmsh"]):
        shown = _run(argv, env={**man_env, "MANPATH": str(venv / "share" / "man")}, timeout=120)
        assert re.search(r"fmsh\s+-\s+a shell for people who run things on many machines", shown), shown[:500]
        assert "REMOTE STAGES" in shown and "EXAMPLES" in shown

    # The Pygments plugin is found once Pygments is installed beside fmsh.
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "Pygments>=2.12"], env=env)
    raw = _run([venv / "bin" / "pygmentize", "-l", "fmsh", "-f", "raw", ROOT / "examples" / "approval-gate.fmsh"])
    assert "Token.Keyword\t'await'" in raw and "Token.Error" not in raw

    # pipx (installed from the package index into the venv) installs the tree and links
    # the command and the man page into directories of its own.
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "pipx"], env=env)
    pipx_env = {
        **env,
        "PIPX_HOME": str(tmp_path / "pipx" / "home"),
        "PIPX_BIN_DIR": str(tmp_path / "pipx" / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "pipx" / "man"),
    }
    _run([venv / "bin" / "pipx", "install", src], env=pipx_env)
    piped = tmp_path / "pipx" / "bin" / "fmsh"
    assert _run([piped, "--version"], env=env).strip() == f"fmsh, version {fmsh.__version__}"
    assert (tmp_path / "pipx" / "man" / "man1" / "fmsh.1").exists()
