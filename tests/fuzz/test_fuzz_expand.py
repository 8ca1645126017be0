"""Fuzzing word expansion (fmsh/expand: parameters and every `${...}` operator, arithmetic,
tilde, brace expansion, field splitting, globbing and quote removal) in a real shell's
state: variables, arrays, an associative array, positional parameters, and a directory
of files to glob in.

Property: the fields, or the shell's own error (ShellError: bad substitution, division by
0, unbound variable...); never another exception, never a hang. Nothing is run: inputs
with a command or process substitution are left out (the parser fuzzer reads those).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fuzzing import count, within
from hypothesis import assume, example, given
from hypothesis import strategies as st
from strategies import ARITH, EXPANSIONS, GLOBS, QUOTES, WORDS, mutated, soup

from fmsh.interp.shell import Shell
from fmsh.runtime.errors import ShellError
from fmsh.runtime.state import AssocArray, IndexedArray
from fmsh.syntax import ast
from fmsh.syntax.errors import ParseError
from fmsh.syntax.parser import parse
from fmsh.syntax.source import Source

# Expansions without `$(`/backquotes: only what expands without running anything.
SAFE_EXPANSIONS = tuple(e for e in EXPANSIONS if "$(" not in e.replace("$((", "") and "`" not in e)
WORD_VOCABULARY = SAFE_EXPANSIONS + GLOBS + QUOTES[:4] + QUOTES[5:] + WORDS + ("=", ":", "/", "\\", "IFS")
RUNS = ("$(", "`", "<(", ">(")
FILES = ("a1", "a2", "b.txt", ".hidden", "dir/x", "dir/sub/y", "sp ace", "star*", "q?", "[br]")
OPTION_SETS = (
    {},
    {"nounset": True},
    {"noglob": True},
    {"braceexpand": False},
)
SHOPT_SETS = ({}, {"nullglob": True}, {"failglob": True}, {"dotglob": True, "globstar": True, "extglob": True})
IFS_VALUES = (None, "", " \t\n", ":", "a", "*", " :")

_shell: Shell | None = None


@pytest.fixture(scope="module", autouse=True)
def in_a_directory_of_files(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The fuzzers glob in a directory of their own, with odd names."""
    root: Path = tmp_path_factory.mktemp("glob")
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    before = os.getcwd()
    os.chdir(root)
    yield root
    os.chdir(before)


def shell(options: dict[str, bool], shopt: dict[str, bool], ifs: str | None) -> Shell:
    """One shell for all inputs (making one is not cheap), its state reset for each."""
    global _shell
    if _shell is None:
        _shell = Shell("fmsh", ["one", "two words", "", "*"])
    sh = _shell
    sh.positional = ["one", "two words", "", "*"]
    for name in ("x", "y", "i", "n", "a", "m", "IFS", "HOME"):
        sh.vars.unset(name)
    sh.vars.set("x", "a b  c*")
    sh.vars.set("y", "a")
    sh.vars.set("i", "1")
    sh.vars.set("HOME", "/home/fuzz")
    sh.vars.set_array("a", IndexedArray({0: "zero", 1: "one two", 5: "*"}))
    sh.vars.set_array("m", AssocArray({"k": "v", "sp ace": "", "*": "star"}))
    if ifs is not None:
        sh.vars.set("IFS", ifs)
    for name in OPTION_SETS[1] | OPTION_SETS[2]:
        sh.options.set(name, False)
    sh.options.set("braceexpand", True)
    for name, on in options.items():
        sh.options.set(name, on)
    for name in sh.options.shopt:
        if name in ("nullglob", "failglob", "dotglob", "globstar", "extglob"):
            sh.options.shopt[name] = False
    sh.options.shopt.update(shopt)
    return sh


def words_of(program: ast.Program) -> list[ast.Word]:
    """The words of the simple commands at the top of a program (what a line expands)."""
    found: list[ast.Word] = []
    for command in program.body.commands:
        if isinstance(command, ast.SimpleCommand):
            found += command.words + [a.value for a in command.assignments if a.value is not None]
    return found


def word_texts() -> st.SearchStrategy[str]:
    return st.one_of(soup(WORD_VOCABULARY, max_size=12), mutated(soup(WORD_VOCABULARY, max_size=8)))


@given(
    word_texts(),
    st.sampled_from(OPTION_SETS),
    st.sampled_from(SHOPT_SETS),
    st.sampled_from(IFS_VALUES),
)
@example("${x:$((1<<62))}", {}, {}, None)
@example("${a[@]:1:-9}${x: -99:2}", {}, {}, None)
@example("${m[*]//?/&&}${x@Q}${x@P}", {}, {}, None)
@example("**/*[!a]*", {}, {"globstar": True, "dotglob": True}, None)
@example("@(a|*(b|[)", {}, {"extglob": True}, None)
@example("${!y}${!x}${!a[@]}", {"nounset": True}, {}, None)
def test_expand_words(text: str, options: dict[str, bool], shopt: dict[str, bool], ifs: str | None) -> None:
    assume(not any(run in text for run in RUNS))
    try:
        program = parse(Source("fuzz", "echo " + text))
    except ParseError:
        return
    words = words_of(program)
    assume(words)
    count("expander")
    sh = shell(options, shopt, ifs)
    with within(10):
        try:
            fields = sh.words.expand_argv(words)
            assert all(isinstance(f, str) for f in fields)
            for word in words:
                assert isinstance(sh.words.expand_string(word), str)
                assert isinstance(sh.words.expand_pattern(word), str)
        except ShellError as e:
            assert e.message and "Traceback" not in e.message


@given(st.one_of(soup(ARITH, max_size=16), mutated(soup(ARITH, max_size=10))))
@example("x=x")  # a variable that names itself
@example("(" * 3000 + "1")
@example("2**63**2, -9223372036854775808 / -1, -9223372036854775808 % -1")
@example("1 << 64 >> -1")
def test_arithmetic(text: str) -> None:
    assume(not any(run in text for run in RUNS))
    count("arithmetic")
    sh = shell({}, {}, None)
    sh.vars.set("x", "x")  # a variable that refers to itself, for x in any expression
    with within(10):
        try:
            value = sh.arith.evaluate_text(text)
        except ShellError as e:
            assert e.message
            return
    assert -(2**63) <= value < 2**63
