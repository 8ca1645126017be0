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


@pytest.mark.parametrize("name", ["_fmsh", "fmsh.fish", "fmsh.bash"])
def test_every_file_knows_pipefail_and_norc(name: str) -> None:
    text = (COMPLETIONS / name).read_text()
    assert "pipefail" in text and "norc" in text
