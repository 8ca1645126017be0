"""The Pygments lexer (`pygmentize -l fmsh`), registered as a plugin entry point, and the
one classification (fmsh/syntax/classify.py) that it and the prompt's highlighter share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pygments = pytest.importorskip("pygments")

from pygments.lexers import get_lexer_by_name, get_lexer_for_filename, get_lexer_for_mimetype  # noqa: E402
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String, Text  # noqa: E402

from fmsh.syntax import classify as kinds  # noqa: E402
from fmsh.syntax.pygments_lexer import TOKEN_TYPES, FmshLexer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "examples").glob("*.fmsh")) + sorted((ROOT / "tests" / "check").glob("*.fmsh"))
PYGMENTIZE = Path(sys.executable).parent / "pygmentize"


def _tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in FmshLexer().get_tokens(text) if v.strip()]


def _kind_of(text: str, word: str) -> object:
    """The token type of `word` (the first token with that text)."""
    for ttype, value in _tokens(text):
        if value == word:
            return ttype
    raise AssertionError(f"{word!r} is not a token of {text!r}: {_tokens(text)}")


def test_the_plugin_is_registered() -> None:
    """Found by name, by file name and by MIME type, through the `pygments.lexers` entry
    point (pip install puts it there)."""
    for lexer in (
        get_lexer_by_name("fmsh"),
        get_lexer_for_filename("deploy.fmsh"),
        get_lexer_for_mimetype("text/x-fmsh"),
    ):
        assert type(lexer).__name__ == "FmshLexer" and lexer.name == "fmsh"


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pygmentize_has_no_error_token(path: Path) -> None:
    """`pygmentize -l fmsh FILE` on every example and every tests/check script."""
    assert FILES, "no scripts found"
    argv = [str(PYGMENTIZE) if PYGMENTIZE.exists() else "pygmentize", "-l", "fmsh", "-f", "raw", str(path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    errors = [line for line in proc.stdout.splitlines() if line.startswith("Token.Error")]
    assert not errors, errors
    assert "Token.Comment" in proc.stdout


def test_pygmentize_renders_a_terminal_and_html() -> None:
    path = ROOT / "examples" / "rolling-restart.fmsh"
    html = subprocess.run(
        [str(PYGMENTIZE), "-l", "fmsh", "-f", "html", str(path)], capture_output=True, text=True, timeout=60
    )
    assert html.returncode == 0, html.stderr
    assert '<span class="nd">@</span><span class="nv">$batch</span>' in html.stdout
    assert '<span class="k">retry</span>' in html.stdout
    terminal = subprocess.run(
        [str(PYGMENTIZE), "-l", "fmsh", "-f", "terminal256", str(path)], capture_output=True, text=True, timeout=60
    )
    assert terminal.returncode == 0 and "\x1b[" in terminal.stdout


def test_the_tokens_give_back_the_text() -> None:
    for path in FILES:
        text = path.read_text()
        assert "".join(v for _, _, v in FmshLexer().get_tokens_unprocessed(text)) == text
        offsets = [i for i, _, _ in FmshLexer().get_tokens_unprocessed(text)]
        assert offsets == sorted(offsets)


def test_host_patterns() -> None:
    assert _kind_of("@web[01-20] uptime", "@web[01-20]") == Name.Decorator
    assert _kind_of("retry 3 timeout 30s need 90% @web[01-20]!web07 ./deploy", "@web[01-20]!web07") == Name.Decorator
    assert _kind_of("@db1 pg_dump app | gzip | @backup1 'cat > /srv/a.gz'", "@backup1") == Name.Decorator
    assert _kind_of("echo @web1", "@web1") == Text  # an argument, not a remote stage
    assert _kind_of("user@example.com", "user@example.com") == Name.Function


def test_modifiers_await_and_task_are_keywords() -> None:
    text = (
        "task deploy timeout 1h {\n"
        "  retry 3 backoff 1s..30s timeout 30s @web1 ./x\n"
        "  await http http://a/ status 200 timeout 2m\n"
        "  max 10 while true; do sleep 1; done\n"
        "}\n"
    )
    for word in ("task", "retry", "timeout", "await", "http", "status", "max", "while", "do", "done", "backoff"):
        assert _kind_of(text, word) == Keyword, word
    assert _kind_of(text, "deploy") == Name.Function  # the task's name
    assert _kind_of(text, "3") == Number and _kind_of(text, "30s") == Number
    # Written as ordinary words, they are not keywords.
    assert _kind_of("echo retry timeout", "retry") == Text
    assert _kind_of("retry() { :; }", "retry") == Name.Function


def test_strings_comments_variables_operators() -> None:
    text = "#!/usr/bin/env fmsh\n# a comment\necho 'single' \"double $x ${y:-z}\" $(date) 2>&1 | wc -l > out # end\n"
    tokens = _tokens(text)
    assert tokens[0] == (Comment.Hashbang, "#!/usr/bin/env fmsh")
    assert (Comment.Single, "# a comment") in tokens and (Comment.Single, "# end") in tokens
    assert (String.Single, "'single'") in tokens
    assert (String.Double, '"double ') in tokens
    assert (Name.Variable, "$x") in tokens and (Name.Variable, "${y:-z}") in tokens
    assert (Name.Variable, "$(date)") in tokens
    assert (Operator, "|") in tokens and (Operator, ">") in tokens
    assert (Name.Function, "echo") in tokens and (Name.Function, "wc") in tokens
    heredoc = _tokens("cat <<EOF\nbody $x\nEOF\n")
    assert (String.Heredoc, "body $x\nEOF\n") in heredoc


def test_a_variable_ends_where_it_ends_inside_quotes() -> None:
    tokens = _tokens('echo "$work/stream" "$(date).dump"')
    assert (Name.Variable, "$work") in tokens and (String.Double, '/stream"') in tokens
    assert (Name.Variable, "$(date)") in tokens and (String.Double, '.dump"') in tokens


def test_a_syntax_error_is_an_error_token() -> None:
    tokens = _tokens("echo a ) b\necho fine\n")
    assert (Error, ") b") in tokens
    assert (Name.Function, "echo") in tokens


def test_huge_and_odd_input_does_not_raise() -> None:
    for text in ["", "(" * 3000, "$(" * 400, "x" * 100_000, "a\x00b", "cat <<EOF\nx"]:
        assert "".join(v for _, _, v in FmshLexer().get_tokens_unprocessed(text)) == text


def test_one_classification_for_the_prompt_and_pygments() -> None:
    """Character by character, the prompt's style class and the Pygments token both come
    from classify(): each kind has one style and one token type (refined, for Pygments,
    by the text: String.Single, Comment.Hashbang; plain words may be numbers)."""
    from prompt_toolkit.document import Document

    from fmsh.interp.shell import Shell
    from fmsh.repl.highlight import MAX_HIGHLIGHT, STYLES
    from fmsh.repl.highlight import FmshLexer as PromptLexer

    assert set(STYLES) == set(kinds.KINDS) == set(TOKEN_TYPES)
    for path in FILES:
        text = path.read_text()
        assert len(text) < MAX_HIGHLIGHT
        classes = kinds.classify(text, lambda name: True)
        get_line = PromptLexer(Shell("fmsh", [], environ=dict(os.environ))).lex_document(Document(text))
        styles = [style for n in range(text.count("\n") + 1) for style, frag in get_line(n) for _ in frag]
        positions = [i for i, c in enumerate(text) if c != "\n"]
        for i, style in zip(positions, styles, strict=True):
            if style != "class:fmsh.missing":  # a command this machine does not have
                assert style == STYLES[classes[i]], (path.name, i, classes[i], style)
        for offset, ttype, value in FmshLexer().get_tokens_unprocessed(text):
            for i in range(offset, offset + len(value)):
                kind = classes[i]
                assert ttype in TOKEN_TYPES[kind] or (kind in (kinds.PLAIN, kinds.TARGET) and ttype in Number), (
                    path.name,
                    i,
                    kind,
                    ttype,
                )


def test_the_prompt_does_not_load_pygments() -> None:
    code = (
        "import sys, fmsh.repl.highlight, fmsh.repl.session\n"
        "print([m for m in sys.modules if m.split('.')[0] == 'pygments'])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr
