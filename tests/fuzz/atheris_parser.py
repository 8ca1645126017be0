#!/usr/bin/env python3
"""Coverage-guided fuzzing of the lexer and parser with atheris (libFuzzer), where atheris
installs (a wheel for CPython 3.11 on x86-64 Linux; elsewhere it must be built with clang,
so it is not a dependency of the test extra's other platforms).

    .venv/bin/python tests/fuzz/atheris_parser.py -runs=100000 -max_len=400 [CORPUS_DIR]

The seed corpus (written to a temporary directory unless one is given) is the hypothesis
fuzzers' vocabulary and grammar templates, so that libFuzzer starts inside the language.
Property as in test_fuzz_parser.py: a program, or a ParseError positioned in the input
whose report shows the line and a caret; anything else is a crash libFuzzer reports
(with the input, in crash-*).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports():
    from fmsh.syntax.errors import ParseError
    from fmsh.syntax.parser import parse
    from fmsh.syntax.source import Source

from fuzzing import check_parse_error  # noqa: E402
from strategies import COMPOUNDS, VOCABULARY  # noqa: E402

NAME = "fuzz.fmsh"


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    try:
        parse(Source(NAME, text))
    except ParseError as e:
        check_parse_error(e, text, NAME)


def seed_corpus(directory: Path) -> None:
    for k, text in enumerate(VOCABULARY + tuple(t.format("echo $x", "true", "f a") for t in COMPOUNDS)):
        (directory / f"seed-{k}").write_bytes(text.encode("utf-8", "surrogateescape"))


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        corpus = Path(tempfile.mkdtemp(prefix="fmsh-atheris-"))
        seed_corpus(corpus)
        args.append(str(corpus))
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
