"""Syntax highlighting at the prompt, from fmsh's own lexer and parser.

What each character is comes from fmsh/syntax/classify.py, the classification the Pygments
lexer (`pygmentize -l fmsh`) uses too; here its kinds become prompt_toolkit style classes,
and a command name is looked up in the live shell (builtins, functions, aliases, PATH):

    fmsh.command   a command name that exists (builtin, function, alias, keyword, PATH)
    fmsh.missing   a command name that does not
    fmsh.keyword   reserved words and modifiers: if, for, do, timeout, retry, await, task...
    fmsh.string    quoted text and here-document bodies
    fmsh.variable  $x, ${x}, $(...), $((...)), `...`
    fmsh.host      the @hosts word of a remote stage
    fmsh.operator  ; & && || | |& ( )
    fmsh.redirect  < > >> 2>&1 <<EOF ... (and the word it reads or writes)
    fmsh.comment   # to the end of the line
    fmsh.error     from a syntax error to the end of its line

Input that is merely unfinished (an open quote, `if` without `fi`) is not an error: it is
what typing looks like. Anything that goes wrong in here leaves the text plain: a lexer
that raises would take the prompt down with it.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer as PromptLexer
from prompt_toolkit.styles import Style

from fmsh.repl.complete import PathCommands, command_kind
from fmsh.syntax import classify as kinds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell

# Longer input is shown plain: a 1 MB paste must not be parsed again on every keystroke.
MAX_HIGHLIGHT = 5_000

# The style class of each kind of text.
STYLES = {
    kinds.PLAIN: "",
    kinds.COMMAND: "class:fmsh.command",
    kinds.MISSING: "class:fmsh.missing",
    kinds.DEFINITION: "class:fmsh.command",
    kinds.KEYWORD: "class:fmsh.keyword",
    kinds.STRING: "class:fmsh.string",
    kinds.HEREDOC: "class:fmsh.string",
    kinds.VARIABLE: "class:fmsh.variable",
    kinds.HOST: "class:fmsh.host",
    kinds.OPERATOR: "class:fmsh.operator",
    kinds.REDIRECT: "class:fmsh.redirect",
    kinds.TARGET: "class:fmsh.redirect",
    kinds.COMMENT: "class:fmsh.comment",
    kinds.ERROR: "class:fmsh.error",
}


def style() -> Style:
    """The colours of the highlighter's classes (ANSI colours: they follow the terminal's
    theme)."""
    return Style.from_dict(
        {
            "fmsh.command": "ansigreen",
            "fmsh.missing": "ansired",
            "fmsh.keyword": "bold",
            "fmsh.string": "ansiyellow",
            "fmsh.variable": "ansicyan",
            "fmsh.host": "ansimagenta bold",
            "fmsh.operator": "ansiblue",
            "fmsh.redirect": "ansiblue",
            "fmsh.comment": "ansibrightblack italic",
            "fmsh.error": "bg:ansired ansiwhite",
        }
    )


class FmshLexer(PromptLexer):
    """prompt_toolkit's lexer for the prompt: fmsh's syntax, the live shell's names."""

    def __init__(self, shell: Shell, programs: PathCommands | None = None) -> None:
        self.shell = shell
        # Shared with the completer when the session passes its own: one PATH cache.
        self.programs = programs if programs is not None else PathCommands()

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        lines = document.lines
        try:
            styled = self.highlight(document.text)
        except Exception:  # whatever fails, the text is shown plain
            styled = None

        def get_line(lineno: int) -> StyleAndTextTuples:
            if styled is not None and 0 <= lineno < len(styled):
                return styled[lineno]
            if 0 <= lineno < len(lines):
                return [("", lines[lineno])]
            return []

        return get_line

    def highlight(self, text: str) -> list[StyleAndTextTuples]:
        """The text's lines as (style, text) fragments."""
        if len(text) > MAX_HIGHLIGHT:
            return [[("", line)] for line in text.split("\n")]
        return _fragments(text, kinds.classify(text, self._exists))

    def classify(self, text: str) -> list[str]:
        """A style class for every character of `text`."""
        styles = STYLES
        return [styles[kind] for kind in kinds.classify(text, self._exists)]

    def _exists(self, name: str) -> bool:
        return bool(command_kind(self.shell, name, self.programs))


def _fragments(text: str, classes: list[str]) -> list[StyleAndTextTuples]:
    """Runs of one style, split into lines (prompt_toolkit asks for one line at a time).
    `classes` holds kinds: two kinds with one style (a redirection and its target) make
    one run."""
    styles = STYLES
    lines: list[StyleAndTextTuples] = []
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        fragments: StyleAndTextTuples = []
        run = start
        for i in range(start + 1, end + 1):
            if i == end or (classes[i] != classes[run] and styles[classes[i]] != styles[classes[run]]):
                fragments.append((styles[classes[run]], text[run:i]))
                run = i
        lines.append(fragments)
        start = end + 1
    return lines
