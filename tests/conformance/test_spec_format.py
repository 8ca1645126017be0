"""Unit tests of spec.py, the parser of the Oils spec test format."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spec import Answer, SpecFormatError, parse_text  # noqa: E402

SAMPLE = """\
## compare_shells: bash dash mksh
## oils_failures_allowed: 1

#### one-line stdout
echo hi
## stdout: hi

#### block with blank lines, status
  # a comment in the code is dropped
echo a

echo b
exit 3
## status: 3
## STDOUT:
a

b
## END
## N-I dash STDOUT:
x
## END
## BUG-2 dash/mksh status: 0

#### json and no END before the next key
printf 'a\\tb'
## stdout-json: "a\\tb"
## OK zsh STDOUT:
zsh says
## OK zsh status: 1

#### no stdout stated
false
## status: 1
"""


def test_cases_and_defaults() -> None:
    cases = parse_text(SAMPLE, "sample.test.sh")
    assert [c.name for c in cases] == [
        "one-line stdout",
        "block with blank lines, status",
        "json and no END before the next key",
        "no stdout stated",
    ]
    one, block, js, none = cases
    assert (one.line, one.code, one.stdout, one.status) == (4, "echo hi\n", "hi\n", 0)
    assert one.where == "sample.test.sh:4"
    assert block.code == "echo a\n\necho b\nexit 3\n"
    assert (block.stdout, block.status) == ("a\n\nb\n", 3)
    assert js.stdout == "a\tb"
    assert none.stdout is None and none.status == 1


def test_qualified_answers_apply_only_to_their_shell() -> None:
    _, block, js, _ = parse_text(SAMPLE)
    assert block.accepted == {"dash": Answer("x\n", 0), "mksh": Answer(None, 0)}
    assert block.expected("dash") == ("x\n", 0)
    assert block.expected("mksh") == ("a\n\nb\n", 0)  # status only; stdout falls back
    assert block.expected("fmsh") == block.expected() == ("a\n\nb\n", 3)
    assert js.expected("zsh") == ("zsh says\n", 1)
    assert js.expected("bash") == ("a\tb", 0)


def test_verbatim_code_inline_code_and_end_colon() -> None:
    text = (
        "#### heredoc\n\ncat <<-EOF\n\tx\n\tEOF\n\n\n## STDOUT:\nx\n## END\n"
        "#### inline\n## code: ls '\n## status: 2\n"
        "#### end colon\necho\n## N-I dash STDOUT:\n## END:\n\n"
    )
    heredoc, inline, colon = parse_text(text)
    assert heredoc.code == "cat <<-EOF\n\tx\n\tEOF\n"
    assert (inline.code, inline.status) == ("ls '\n", 2)
    assert colon.accepted == {"dash": Answer("", None)}
    assert colon.stdout is None


def test_one_line_value_keeps_trailing_blanks() -> None:
    (case,) = parse_text("#### t\necho 'a '\n## stdout:   a \n")
    assert case.stdout == "a \n"


def test_code_after_expectations_is_an_error() -> None:
    with pytest.raises(SpecFormatError, match=":4:"):
        parse_text("#### t\necho a\n## stdout: a\necho stray\n")
