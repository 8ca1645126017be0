"""The manual documents what exists: every builtin, every command-line option."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fmsh.builtins import REGISTRY

MANUAL = Path(__file__).resolve().parent.parent / "man" / "fmsh.1"


def _documented_builtins() -> set[str]:
    """The names in the headings (the line after each .TP) of the BUILTINS section."""
    text = MANUAL.read_text()
    start = text.index(".SH BUILTINS")
    section = text[start : text.index(".SH", start + 1)].replace("\\-", "-")
    lines = section.splitlines()
    names: set[str] = set()
    for k, line in enumerate(lines[:-1]):
        if line == ".TP":
            heading = re.sub(r"^\.B[IR]* ", "", lines[k + 1])
            names.update(heading.replace('"', " ").replace(",", " ").split())
    return names


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_builtin_has_an_entry(name: str) -> None:
    assert name in _documented_builtins()


def test_every_option_is_documented() -> None:
    from fmsh.runtime.state import Options

    text = MANUAL.read_text().replace("\\-", "-")
    for _name, letter in Options.SET_OPTIONS.items():
        if letter and letter in "aefnuvxC":
            assert f"-{letter}" in text, letter
    for option in ("-c", "-s", "-i", "--norc", "--version", "--help", "-o"):
        assert option in text, option


def _commands() -> dict[str, object]:
    from fmsh.fleet.command import COMMANDS as FLEET
    from fmsh.replicate.commands import COMMANDS as REPLICA
    from fmsh.serve.command import COMMANDS as SERVE
    from fmsh.tasks.commands import COMMANDS as TASKS

    return {**TASKS, **REPLICA, **SERVE, **FLEET}


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_and_its_options_are_documented(name: str) -> None:
    """`fmsh --trace ID --otel-json FILE`...: each --NAME command and each of its options."""
    import click

    text = MANUAL.read_text().replace("\\-", "-")
    assert f"--{name}" in text or f".B {name}" in text or f'.BI "{name} ' in text, name
    command = _commands()[name]
    assert isinstance(command, click.Command)
    for param in command.params:
        for option in getattr(param, "opts", []):
            if option.startswith("-") and option not in ("-h", "--help"):
                assert option in text, f"{name} {option}"


def test_every_option_of_the_command_line_is_documented() -> None:
    import re

    from conftest import run_fmsh

    text = MANUAL.read_text().replace("\\-", "-")
    shown = run_fmsh("--help").out
    options = set(re.findall(r"^  (-[-a-zA-Z]+)", shown, re.MULTILINE))
    assert {"--replica", "--inventory", "--ssh-config", "-c"} <= options
    for option in options:
        assert option in text, option


def test_manual_renders_without_warnings() -> None:
    assert shutil.which("groff"), "groff is not installed: run tests/setup (it installs groff-base)"
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(MANUAL)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stderr == ""
