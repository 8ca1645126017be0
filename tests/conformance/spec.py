"""Parser for the Oils spec test format (``*.test.sh``) into :class:`Case` objects.

The format is described in ../shared/conformance/README.md; where the README is
silent we follow the Oils runner (test/sh_spec.py):

- ``## key: value`` lines before the first ``####`` are file settings; skipped.
- ``#### NAME`` starts a case.  Its code is the following lines that do not
  start with ``#`` (after leading blanks, as in Oils), up to the first
  ``## key:`` line.  ``## code: TEXT`` gives the code inline instead.
- ``## stdout: TEXT`` expects ``TEXT + "\\n"``; ``## stdout-json: "..."`` is an
  exact JSON string; ``## STDOUT:`` ... ``## END`` is a multi-line block in
  which blank lines count (``## END`` may be omitted before the next ``##``
  line).  The same for stderr.  ``## status: N``; a missing status means 0.
- ``## OK bash/zsh stdout: ...``, ``## N-I dash STDOUT:`` ... and so on are the
  answers accepted from the shells named (also ``BUG-2``, ``OK-3``: the corpus
  numbers the distinct wrong answers).  They are kept in ``Case.accepted`` and
  apply only to a shell of exactly that name; fmsh never has any, so it is
  judged against the default lines.

When a case states no stdout, stdout is NOT compared (``stdout`` is None).  Oils
does this, and the corpus relies on it: "Exit code is last status" states only
a status, "Newlines in compound lists" prints the date.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

# ``## [QUALIFIER[-N] SHELLS ]KEY: VALUE``.  Oils uses ``\s*`` after the colon,
# so leading blanks of a one-line value are dropped; trailing ones are kept.
_KEY_RE = re.compile(
    r"""^\#\#\s+
        (?:(?P<qual>OK|BUG|N-I)(?:-\d+)?\s+(?P<shells>[\w+/.-]+)\s+)?
        (?P<key>[\w-]+):\s*(?P<value>.*)$""",
    re.VERBOSE,
)
# Oils ends a block at any line starting ``## END``; the corpus has ``## END:``.
_END_RE = re.compile(r"^##\s+END\b")


class SpecFormatError(ValueError):
    """A spec file that does not follow the format (reported with file:line)."""


@dataclass(frozen=True)
class Answer:
    """A shell's accepted (OK/N-I/BUG) answer; None fields fall back to the defaults."""

    stdout: str | None = None
    status: int | None = None


@dataclass(frozen=True)
class Case:
    """One test case with its default expectations and other shells' answers."""

    file: str
    name: str
    line: int
    code: str
    stdout: str | None  # None: stdout is not checked
    status: int
    stderr: str | None = None  # parsed for completeness; never judged
    accepted: dict[str, Answer] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{Path(self.file).name}:{self.line}"

    def expected(self, shell: str | None = None) -> tuple[str | None, int]:
        """(stdout, status) that ``shell`` must produce; None means the defaults."""
        answer = self.accepted.get(shell or "", Answer())
        stdout = self.stdout if answer.stdout is None else answer.stdout
        status = self.status if answer.status is None else answer.status
        return stdout, status


@dataclass
class _Draft:
    """A case while its lines are being read."""

    name: str
    line: int
    code_lines: list[str] = field(default_factory=list)
    inline_code: str | None = None
    in_metadata: bool = False  # a ``## key:`` line was seen after the code
    fields: dict[str, str] = field(default_factory=dict)  # the default lines
    qualified: dict[str, dict[str, str]] = field(default_factory=dict)  # per shell

    def finish(self, path: str) -> Case:
        where = f"{path}:{self.line}"
        if self.inline_code is not None:
            code = self.inline_code + "\n"
        else:
            lines = list(self.code_lines)
            # Blank lines separating the code from the next ``##`` line are
            # not part of the program.
            while lines and not lines[-1].strip():
                lines.pop()
            if not lines:
                raise SpecFormatError(f"{where}: case {self.name!r} has no code")
            code = "\n".join(lines) + "\n"
        accepted = {sh: Answer(_stream(f, "stdout", where), _status(f, where)) for sh, f in self.qualified.items()}
        return Case(
            file=path,
            name=self.name,
            line=self.line,
            code=code,
            stdout=_stream(self.fields, "stdout", where),
            status=_status(self.fields, where) or 0,
            stderr=_stream(self.fields, "stderr", where),
            accepted=accepted,
        )


def _stream(fields: dict[str, str], stream: str, where: str) -> str | None:
    if stream + "-json" in fields:
        value = json.loads(fields[stream + "-json"])
        if not isinstance(value, str):
            raise SpecFormatError(f"{where}: {stream}-json is not a JSON string")
        return value
    return fields.get(stream)


def _status(fields: dict[str, str], where: str) -> int | None:
    if "status" not in fields:
        return None
    try:
        return int(fields["status"])
    except ValueError as e:
        raise SpecFormatError(f"{where}: bad status {fields['status']!r}") from e


def parse_text(text: str, path: str = "<text>") -> list[Case]:
    """Parse the text of one spec file."""
    cases: list[Case] = []
    draft: _Draft | None = None
    block: list[str] | None = None  # lines of an open STDOUT/STDERR block
    block_key = ""
    block_targets: list[dict[str, str]] = []  # where the block's value goes

    def close_block() -> None:
        nonlocal block
        if block is not None:
            for target in block_targets:
                target[block_key] = "".join(line + "\n" for line in block)
        block = None

    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.startswith("####"):
            close_block()
            if draft is not None:
                cases.append(draft.finish(path))
            draft = _Draft(name=line[4:].strip(), line=lineno)
            continue
        if draft is None:
            continue  # file settings and comments before the first case

        m = _KEY_RE.match(line)
        if block is not None:
            if _END_RE.match(line):
                close_block()
                continue
            if m is None:
                # Oils drops comment lines even inside blocks; no expected
                # output in the corpus starts with '#', so this is moot.
                if not line.lstrip().startswith("#"):
                    block.append(line)
                continue
            close_block()

        if m is not None:
            draft.in_metadata = True
            qual, key, value = m.group("qual"), m.group("key"), m.group("value")
            targets = (
                [draft.fields]
                if not qual
                else [draft.qualified.setdefault(sh, {}) for sh in m.group("shells").split("/")]
            )
            if key in ("STDOUT", "STDERR"):
                if value.strip():
                    raise SpecFormatError(f"{path}:{lineno}: {key}: takes its value on the next lines")
                block, block_key, block_targets = [], key.lower(), targets
            elif key == "code" and not qual:
                draft.inline_code = value
            else:
                for target in targets:
                    target[key] = value + "\n" if key in ("stdout", "stderr") else value
        elif _END_RE.match(line) or line.lstrip().startswith("#"):
            continue  # a stray ``## END`` or a comment
        elif not draft.in_metadata:
            # Kept verbatim: ``<<-`` here-docs depend on leading tabs.
            if draft.code_lines or line.strip():
                draft.code_lines.append(line)
        elif line.strip():
            raise SpecFormatError(f"{path}:{lineno}: code after the expectations of {draft.name!r}")

    close_block()
    if draft is not None:
        cases.append(draft.finish(path))
    return cases


def parse_file(path: str | Path) -> list[Case]:
    """Parse one ``*.test.sh`` file."""
    p = Path(path)
    # surrogateescape keeps any non-UTF-8 bytes of the code intact on the way
    # back out to the shell.
    return parse_text(p.read_text(encoding="utf-8", errors="surrogateescape"), str(p))
