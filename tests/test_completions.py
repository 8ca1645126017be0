"""The bash completion for the `fmsh` command completes its options and option names.
(zsh and fish are not installed here; their files are checked for the same options.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

COMPLETIONS = Path(__file__).resolve().parent.parent / "completions"


def _complete(*words: str) -> list[str]:
    script = (
        f"source {COMPLETIONS / 'fmsh.bash'}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
        f"COMP_CWORD={len(words) - 1}; _fmsh; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    return proc.stdout.split()


def test_option_names_after_dash_o() -> None:
    assert _complete("fmsh", "-o", "pi") == ["pipefail"]


def test_options() -> None:
    found = _complete("fmsh", "--v")
    assert found == ["--version"]
    assert "-c" in _complete("fmsh", "-")


def test_files_after_options(tmp_path: Path) -> None:
    (tmp_path / "deploy.fmsh").write_text("echo hi\n")
    script = (
        f"cd {tmp_path}; source {COMPLETIONS / 'fmsh.bash'}; COMP_WORDS=(fmsh dep); COMP_CWORD=1; "
        "_fmsh; echo ${COMPREPLY[@]}"
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["deploy.fmsh"]


def test_task_ids_after_a_task_command(tmp_path: Path) -> None:
    import os
    import sys

    journal = tmp_path / "journal.db"
    env = dict(os.environ, FMSH_JOURNAL=str(journal), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    for _ in range(2):
        subprocess.run(["fmsh", "-c", "task t { /bin/true; }"], env=env, check=True)
    script = (
        f"source {COMPLETIONS / 'fmsh.bash'}; COMP_WORDS=(fmsh --resume ''); COMP_CWORD=2; "
        "_fmsh; echo ${COMPREPLY[@]}"
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["2", "1"]
    assert "--resume" in _complete("fmsh", "--re")


@pytest.mark.parametrize("name", ["_fmsh", "fmsh.fish", "fmsh.bash"])
def test_every_file_knows_pipefail_norc_and_the_task_commands(name: str) -> None:
    text = (COMPLETIONS / name).read_text()
    assert "pipefail" in text and "norc" in text
    for command in ("tasks", "trace", "log", "resume", "cancel", "retry", "forget"):
        assert f"-{command}" in text or f"-l {command}" in text, command
