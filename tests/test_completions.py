"""The completions of the `fmsh` command (completions/), each loaded in its real shell and
asked what Tab offers:

    bash  source fmsh.bash; set COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT as readline
          does (a word cut at = : @); call _fmsh; read COMPREPLY
    fish  fish -c 'source fmsh.fish; complete -C "fmsh --tr"'
    zsh   an interactive `zsh -f` in a pseudo-terminal (zsh/zpty) with completions/ on $fpath
          and compinit; "fmsh --tr" and a Tab run compsys and _fmsh for real, and a compadd
          wrapper writes each candidate to a file (the "capture completions" trick)

The options are checked against their definitions (the click commands of fmsh/cli.py,
fmsh/tasks/commands.py and fmsh/replicate/commands.py; Options.SET_OPTIONS); task ids come
from a real journal, host names from an inventory file. A shell that is not installed fails
its tests: tests/setup installs zsh and fish.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from conftest import BIN

from fmsh import cli
from fmsh.replicate.commands import COMMANDS as REPLICA_COMMANDS
from fmsh.runtime.state import Options
from fmsh.tasks.commands import COMMANDS as TASK_COMMANDS

COMPLETIONS = Path(__file__).resolve().parent.parent / "completions"
SHELLS = ("bash", "zsh", "fish")
INVENTORY = """\
[hosts."web[01-03]"]
vars = { role = "web" }

[groups]
web = "web[01-03]"
db = ["db1"]
"""
TIMEOUT = 30

# zsh: what the interactive zsh in the pseudo-terminal sources. Each candidate a completion
# function adds goes through compadd: the wrapper asks the real compadd which of its words
# match (-O) and appends them to $FMSH_CAPTURE, then adds them as usual. The calls that
# only ask (-O, -A, -D: compsys' own bookkeeping) are passed through. The Tab key runs
# compsys (_main_complete) and then prints a mark that the driver waits for.
ZSH_SETUP = r"""
PS1='' RPS1='' PROMPT_EOL_MARK=''
bindkey -e
unsetopt auto_list auto_menu list_beep beep
fpath=($FMSH_COMPLETIONS $fpath)
autoload -Uz compinit && compinit -u -D
compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
    builtin compadd "$@"
    return
  fi
  local -a hits prefix hidden
  builtin compadd -O hits "$@"
  _capture_prefixes "${(@)@[1,(i)(-|--)]}"  # the -P and -p prefixes: part of the word
  (( $#hits )) && print -rl -- $IPREFIX$prefix[2]$hidden[2]${^hits} >>$FMSH_CAPTURE
  builtin compadd "$@"
}
_capture_prefixes() {
  zparseopts -E -a unused P:=prefix p:=hidden
}
_capture_complete() {
  _main_complete
  print -rn -- '<<COMPLETED>>'
}
zle -C capture-complete complete-word _capture_complete
bindkey '^I' capture-complete
"""
# zsh: the driver. For each line: point FMSH_CAPTURE at a file of its own, type the line
# and a Tab, wait for the mark, keep what the terminal showed, clear the line (Ctrl-U).
ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 3
setup=$1 captures=$2
shift 2
zpty fmsh_tab zsh -f -i
zpty -w fmsh_tab "source ${(q)setup}"
integer i=0
for line in "$@"; do
  (( i++ ))
  zpty -w fmsh_tab "FMSH_CAPTURE=$captures/$i"
  zpty -w -n fmsh_tab "$line"$'\t'
  zpty -r -m fmsh_tab screen '*<<COMPLETED>>' || exit 4
  print -r -- "$screen" >$captures/$i.screen
  zpty -w -n fmsh_tab $'\C-u'
done
zpty -d fmsh_tab
"""
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>78])")
MARK = "<<END-OF-CANDIDATES>>"


def _require(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        pytest.fail(f"{shell} is not installed: run tests/setup (it installs Debian's {shell})")
    return path


@dataclass
class World:
    """A journal with two tasks (1 and 2, named a and b), an inventory, a working directory
    with a script and a folder in it, and the environment the shells run in."""

    work: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("completions")
    work = root / "work"
    work.mkdir()
    (work / "deploy.fmsh").write_text("echo hi\n")
    (work / "reports").mkdir()
    (root / "inventory.toml").write_text(INVENTORY)
    home = root / "home"  # fish and zsh write nothing to the user's own
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "FMSH_JOURNAL": str(root / "journal.db"),
        "FMSH_INVENTORY": str(root / "inventory.toml"),
        "TERM": "xterm",
    }
    for name in ("a", "b"):
        fmsh = [str(BIN / "fmsh"), "-c", f"task {name} {{ /bin/true; }}"]
        subprocess.run(fmsh, env=env, check=True, timeout=TIMEOUT)
    return World(work, env)


def _readline_words(line: str) -> list[str]:
    """COMP_WORDS as bash makes them: words at blanks, and = : @ (COMP_WORDBREAKS) words
    of their own: `--from=sftp://me@db1` is --from = sftp : //me @ db1."""
    words: list[str] = []
    for blank_separated in line.split(" "):
        words.extend(re.findall(r"[=:@]+|[^=:@]+", blank_separated) or [""])
    return words


def _kept_by_readline(line: str) -> str:
    """The start of the last word that readline keeps when it puts a candidate in: up to
    its last = or : (an @ is replaced with what follows it)."""
    word = line.split(" ")[-1]
    cut = max(word.rfind(c) for c in "=:@")
    if cut < 0:
        return ""
    return word[:cut] if word[cut] == "@" else word[: cut + 1]


def _bash(lines: list[str], env: dict[str, str], cwd: Path) -> list[list[str]]:
    script = [f"source {shlex.quote(str(COMPLETIONS / 'fmsh.bash'))}"]
    for line in lines:
        words = _readline_words(line)
        script.append(
            f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}; "
            f"COMP_LINE={shlex.quote(line)}; COMP_POINT={len(line)}; _fmsh; "
            f"printf '%s\\n' \"${{COMPREPLY[@]}}\" {shlex.quote(MARK)}"
        )
    proc = subprocess.run(
        [_require("bash"), "-c", "\n".join(script)], capture_output=True, text=True, env=env, cwd=cwd, timeout=TIMEOUT
    )
    assert proc.returncode == 0 and proc.stderr == "", proc
    found = _split(proc.stdout, len(lines))
    return [[_kept_by_readline(line) + c for c in candidates] for line, candidates in zip(lines, found, strict=True)]


def _fish(lines: list[str], env: dict[str, str], cwd: Path) -> list[list[str]]:
    script = (
        f"source {shlex.quote(str(COMPLETIONS / 'fmsh.fish'))}\n"
        f"for line in $argv; complete -C $line; echo {shlex.quote(MARK)}; end"
    )
    proc = subprocess.run(
        [_require("fish"), "--no-config", "-c", script, *lines],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc
    # A line each: CANDIDATE<TAB>DESCRIPTION.
    return [[c.split("\t")[0] for c in candidates] for candidates in _split(proc.stdout, len(lines))]


def _zsh(lines: list[str], env: dict[str, str], cwd: Path, scratch: Path) -> list[list[str]]:
    scratch.mkdir(exist_ok=True)
    (scratch / "setup.zsh").write_text(ZSH_SETUP)
    (scratch / "driver.zsh").write_text(ZSH_DRIVER)
    proc = subprocess.run(
        [_require("zsh"), "-f", str(scratch / "driver.zsh"), str(scratch / "setup.zsh"), str(scratch), *lines],
        capture_output=True,
        text=True,
        env={**env, "FMSH_COMPLETIONS": str(COMPLETIONS)},
        cwd=cwd,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc
    found = []
    for i, line in enumerate(lines, 1):
        # What the terminal showed once the line was typed: nothing, unless something in
        # the completion printed an error.
        screen = ANSI.sub("", (scratch / f"{i}.screen").read_text()).replace("\r", "")
        assert screen.rsplit(line, 1)[-1].replace("<<COMPLETED>>", "").strip() == "", (line, screen)
        capture = scratch / str(i)
        found.append(capture.read_text().splitlines() if capture.exists() else [])
        capture.unlink(missing_ok=True)
    return found


def _split(out: str, count: int) -> list[list[str]]:
    parts = out.split(MARK + "\n")
    assert len(parts) == count + 1 and parts[-1] == "", out
    return [part.splitlines() for part in parts[:-1]]


@dataclass
class Complete:
    """complete(LINE, ...): the candidates Tab offers at the end of each line, in one shell."""

    shell: str
    world: World
    scratch: Path

    def __call__(self, *lines: str, env: dict[str, str] | None = None) -> list[list[str]]:
        full = {**self.world.env, **(env or {})}
        if self.shell == "bash":
            return _bash(list(lines), full, self.world.work)
        if self.shell == "fish":
            return _fish(list(lines), full, self.world.work)
        return _zsh(list(lines), full, self.world.work, self.scratch)


@pytest.fixture(params=SHELLS)
def complete(request: pytest.FixtureRequest, world: World, tmp_path: Path) -> Complete:
    return Complete(request.param, world, tmp_path / "zsh")


# --- what the definitions say -----------------------------------------------------------


def _fmsh_click_command(monkeypatch: pytest.MonkeyPatch) -> click.Command:
    """The click command of fmsh/cli.py (built inside click_main: caught as it runs)."""
    caught: list[click.Command] = []

    def catch(self: click.Command, *args: object, **kwargs: object) -> None:
        caught.append(self)
        raise click.exceptions.Exit(0)

    with monkeypatch.context() as patch:
        patch.setattr(click.Command, "main", catch)
        cli.click_main(["--help"])
    return caught[0]


def _options(command: click.Command) -> tuple[set[str], set[str]]:
    """The long and the short options of a click command (with -h and --help)."""
    names = {n for p in command.params if isinstance(p, click.Option) for n in p.opts + p.secondary_opts}
    names |= {"-h", "--help"}
    return {n for n in names if n.startswith("--")}, {n for n in names if not n.startswith("--")}


FIRST_WORD_COMMANDS = {f"--{name}" for name in (*cli.TASK_COMMANDS, *cli.REPLICA_COMMANDS, "check")}


# --- the tests --------------------------------------------------------------------------


def test_options_task_commands_and_option_names(complete: Complete) -> None:
    found = complete("fmsh --tr", "fmsh -o pi", "fmsh --trace 1 --co", "fmsh --trace 1 --color ", "fmsh --replicate ")
    assert found[0] == ["--trace"]
    assert found[1] == ["pipefail"]
    assert found[2] == ["--color"]
    assert sorted(found[3]) == ["always", "auto", "never"]
    assert found[4] == ["status"]


def test_every_option_of_fmsh_and_of_each_command(complete: Complete, monkeypatch: pytest.MonkeyPatch) -> None:
    long, short = _options(_fmsh_click_command(monkeypatch))
    lines = ["fmsh --", "fmsh -", "fmsh -e --", "fmsh -o "]
    commands = {**TASK_COMMANDS, **REPLICA_COMMANDS}
    operand = {"trace": " 1", "log": " 1", "resume": " 1", "cancel": " 1", "retry": " 1", "forget": " 1"}
    lines += [f"fmsh --{name}{operand.get(name, '')} -" for name in commands]
    found = complete(*lines)
    assert set(found[0]) == long | FIRST_WORD_COMMANDS
    assert short <= set(found[1])
    assert set(found[2]) == long  # the commands only as the first word
    assert set(found[3]) == set(Options.SET_OPTIONS)
    for name, candidates in zip(commands, found[4:], strict=True):
        command_long, command_short = _options(commands[name])
        assert set(candidates) >= command_long | command_short, name
        assert {c for c in candidates if c.startswith("--")} == command_long, name


def test_check_takes_json_and_files(complete: Complete) -> None:
    found = complete("fmsh --check --", "fmsh --check dep", "fmsh check --json dep")
    assert set(found[0]) == {"--json", "--help"}
    assert found[1] == ["deploy.fmsh"]
    assert found[2] == ["deploy.fmsh"]


def test_files_for_file_operands(complete: Complete) -> None:
    found = complete(
        "fmsh dep",
        "fmsh -e -o pipefail dep",
        "fmsh deploy.fmsh dep",
        "fmsh --inventory dep",
        "fmsh --ssh-config=dep",
        "fmsh --trace 1 --html dep",
        "fmsh --trace 1 --otel-json=dep",
    )
    assert found[:4] == [["deploy.fmsh"]] * 4
    assert found[4] == ["--ssh-config=deploy.fmsh"]
    assert found[5] == ["deploy.fmsh"]
    assert found[6] == ["--otel-json=deploy.fmsh"]


def test_nothing_where_a_file_is_not_wanted(complete: Complete) -> None:
    found = complete("fmsh -c dep", "fmsh --trace dep", "fmsh --tasks --name dep", "fmsh deploy.fmsh -")
    assert found == [[], [], [], []]


def test_task_ids_from_the_journal(complete: Complete) -> None:
    lines = [f"fmsh --{name} " for name in ("resume", "trace", "log", "cancel", "retry", "forget")]
    found = complete(*lines, "fmsh --tasks --name ", "fmsh --resume 1 ")
    for line, candidates in zip(lines, found, strict=False):
        assert sorted(candidates) == ["1", "2"], line
    assert sorted(found[-2]) == ["a", "b"]
    assert not {"1", "2"} & set(found[-1])  # one id only


def test_statuses(complete: Complete) -> None:
    found = complete("fmsh --tasks --status fa", "fmsh --tasks --status=in")
    assert found[0] == ["failed"]
    assert found[1] == ["--status=interrupted"]


def test_host_names_from_the_inventory(complete: Complete) -> None:
    found = complete("fmsh --log 1 1 --host ", "fmsh --log 1 --host=web0")
    assert sorted(found[0]) == ["db1", "web01", "web02", "web03"]
    assert sorted(found[1]) == ["--host=web01", "--host=web02", "--host=web03"]


def test_replica_urls_with_inventory_hosts(complete: Complete) -> None:
    found = complete(
        "fmsh --recover --from ",
        "fmsh --recover --from sftp://we",
        "fmsh --standby --from=sftp://deploy@d",
        "fmsh --replica sftp:",
    )
    assert sorted(found[0]) == ["file:///", "sftp://"]
    assert sorted(c.rstrip("/") for c in found[1]) == ["sftp://web01", "sftp://web02", "sftp://web03"]
    assert [c.rstrip("/") for c in found[2]] == ["--from=sftp://deploy@db1"]
    assert found[3] == ["sftp://"]


def test_quiet_without_a_journal_or_with_a_broken_inventory(complete: Complete, tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("[hosts\n")
    elsewhere = {"FMSH_JOURNAL": str(tmp_path / "no" / "journal.db"), "FMSH_INVENTORY": str(tmp_path / "broken.toml")}
    found = complete("fmsh --resume ", "fmsh --log 1 1 --host ", env=elsewhere)
    assert found == [[], []]
    assert not (tmp_path / "no").exists()  # completing made no journal


def test_the_fmsh_typed_as_a_path_is_the_one_asked(complete: Complete, world: World) -> None:
    path = os.pathsep.join(p for p in world.env["PATH"].split(os.pathsep) if Path(p) != BIN)
    found = complete(f"{BIN / 'fmsh'} --resume ", env={"PATH": path})
    assert sorted(found[0]) == ["1", "2"]
