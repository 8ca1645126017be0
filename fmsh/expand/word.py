"""The word evaluator: brace expansion, parameters, command and arithmetic
substitution, field splitting with IFS, pathname expansion and quote removal.

Evaluation goes in two steps. Each part of a word becomes "pieces" - (text, quoted,
splittable) - with FIELD_BREAK between the separate fields of "$@" and arrays. Then
the pieces are cut into fields at IFS characters of splittable text, and each field
that holds an unquoted glob character is matched against the file system.
"""

from __future__ import annotations

from fmsh.expand import pattern as patterns
from fmsh.runtime.errors import ExpansionError, ShellError
from fmsh.runtime.state import AssocArray, IndexedArray
from fmsh.syntax import ast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.interp.shell import Shell

# A piece is (text, quoted, splittable); None separates fields.
FIELD_BREAK = None
_GLOB_SPECIALS = frozenset("*?[]\\")
_DEFAULT_IFS = " \t\n"
_NULL_OPS = frozenset([":-", ":=", ":?", ":+"])
_TEST_OPS = frozenset(["-", ":-", "=", ":=", "?", ":?", "+", ":+"])


def _escape_glob(text: str) -> str:
    if not any(c in _GLOB_SPECIALS for c in text) and "(" not in text:
        return text
    return "".join("\\" + c if c in _GLOB_SPECIALS or c in "()|@+!" else c for c in text)


class WordEvaluator:
    def __init__(self, shell: Shell) -> None:
        self.sh = shell
        self.vars = shell.vars
        self.options = shell.options
        self._ifs_cache: tuple[str | None, str, str] = ("\0", "", "")
        # Inside expand_string (assignments, [[ ]]): $* joins with IFS's first character.
        self._joining = 0

    # --- public entry points -------------------------------------------------------------

    def expand_argv(self, words: list[ast.Word]) -> list[str]:
        """Words to argv: every expansion, splitting and globbing."""
        out: list[str] = []
        for word in words:
            parts = word.parts
            if len(parts) == 1:
                part = parts[0]
                kind = type(part)
                # Fast paths for the common shapes: a bare literal, a quoted string, $name.
                if kind is ast.Literal:
                    text = part.text  # type: ignore[attr-defined]
                    if self.options.noglob or not patterns.has_glob(text):
                        out.append(text)
                        continue
                elif kind is ast.SingleQuoted:
                    out.append(part.text)  # type: ignore[attr-defined]
                    continue
                elif kind is ast.ParamSub and not part.op and not part.prefix and part.index is None:  # type: ignore[attr-defined]
                    value = self.vars.get(part.name)  # type: ignore[attr-defined]
                    if value and value.isalnum():
                        # Neither IFS (unless it holds letters or digits) nor globbing
                        # can change it.
                        ws, other = self._ifs()
                        if not other or not any(c in other for c in value):
                            out.append(value)
                            continue
            if (
                any(type(p) is ast.BraceExpansion or type(p) is ast.BraceRange for p in parts)
                and (self.options.values["braceexpand"])
            ):
                for alternative in brace_expand(parts):
                    self._expand_fields(alternative, out)
            else:
                self._expand_fields(parts, out)
        return out

    def expand_string(self, word: ast.Word) -> str:
        """One string, no splitting or globbing (assignments, `case` subjects, `[[`)."""
        parts = word.parts
        if len(parts) == 1:
            kind = type(parts[0])
            if kind is ast.Literal or kind is ast.SingleQuoted:
                return parts[0].text  # type: ignore[attr-defined]
            if kind is ast.ArithSub:
                return str(self.sh.arith.evaluate(parts[0].expr))  # type: ignore[attr-defined]
        pieces: list[tuple[str, bool, bool] | None] = []
        self._joining += 1
        try:
            self._pieces(parts, False, pieces)
        finally:
            self._joining -= 1
        return "".join(" " if p is None else p[0] for p in pieces)

    def expand_pattern(self, word: ast.Word) -> str:
        """A pattern: quoted characters escaped with a backslash, no splitting."""
        pieces: list[tuple[str, bool, bool] | None] = []
        self._pieces(word.parts, False, pieces)
        return "".join(" " if p is None else (_escape_glob(p[0]) if p[1] else p[0]) for p in pieces)

    def expand_regex(self, word: ast.Word) -> str:
        """The right side of `=~`: quoted parts match literally."""
        import re

        pieces: list[tuple[str, bool, bool] | None] = []
        self._pieces(word.parts, False, pieces)
        return "".join(" " if p is None else (re.escape(p[0]) if p[1] else p[0]) for p in pieces)

    def expand_redirect_target(self, word: ast.Word) -> str:
        fields: list[str] = []
        self._expand_fields(word.parts, fields)
        if len(fields) != 1:
            raise ShellError(f"{_word_source(word)}: ambiguous redirect")
        return fields[0]

    def expand_heredoc(self, word: ast.Word) -> str:
        return self.expand_string(word)

    # --- fields -------------------------------------------------------------------------

    def _expand_fields(self, parts: list[ast.WordPart], out: list[str]) -> None:
        pieces: list[tuple[str, bool, bool] | None] = []
        self._pieces(parts, False, pieces)
        for field in self._split(pieces):
            self._glob_field(field, out)

    def _ifs(self) -> tuple[str, str]:
        """(IFS whitespace, other IFS characters), cached per IFS value."""
        value = self.vars.get("IFS")
        cached_value, ws, other = self._ifs_cache
        if value != cached_value:
            text = _DEFAULT_IFS if value is None else value
            ws = "".join(c for c in text if c in " \t\n")
            other = "".join(c for c in text if c not in " \t\n")
            self._ifs_cache = (value, ws, other)
        return ws, other

    def _split(self, pieces: list[tuple[str, bool, bool] | None]) -> list[list[tuple[str, bool]]]:
        ws, other = self._ifs()
        fields: list[list[tuple[str, bool]]] = []
        current: list[tuple[str, bool]] = []
        present = False
        after_ws = False
        for piece in pieces:
            if piece is None:
                if present:
                    fields.append(current)
                current = []
                present = False
                after_ws = False
                continue
            text, quoted, splittable = piece
            if not splittable or not (ws or other):
                if text or quoted:
                    current.append((text, quoted))
                    present = True
                    after_ws = False
                continue
            start = 0
            for i, c in enumerate(text):
                if c in ws:
                    if i > start:
                        current.append((text[start:i], False))
                        present = True
                    if present:
                        fields.append(current)
                        current = []
                        present = False
                        after_ws = True
                    start = i + 1
                elif c in other:
                    if i > start:
                        current.append((text[start:i], False))
                        present = True
                    if present:
                        fields.append(current)
                        current = []
                        present = False
                    elif not after_ws:
                        fields.append([])
                    after_ws = False
                    start = i + 1
            if start < len(text):
                current.append((text[start:], False))
                present = True
                after_ws = False
        if present:
            fields.append(current)
        return fields

    def _glob_field(self, field: list[tuple[str, bool]], out: list[str]) -> None:
        if not self.options.noglob:
            for text, quoted in field:
                if not quoted and (any(c in "*?[" for c in text) or "(" in text):
                    pattern = "".join(_escape_glob(t) if q else t for t, q in field)
                    if patterns.has_glob(pattern):
                        shopt = self.options.shopt
                        found = patterns.glob(
                            pattern, dotglob=shopt["dotglob"], nocase=shopt["nocaseglob"], globstar=shopt["globstar"]
                        )
                        if found:
                            out.extend(found)
                            return
                        if shopt["failglob"]:
                            raise ExpansionError(f"no match: {''.join(t for t, _ in field)}")
                        if shopt["nullglob"]:
                            return
                    break
        out.append("".join(t for t, _ in field))

    # --- pieces -------------------------------------------------------------------------

    def _pieces(
        self,
        parts: list[ast.WordPart],
        quoted: bool,
        out: list[tuple[str, bool, bool] | None],
        in_operand: bool = False,
    ) -> None:
        """in_operand: the parts are the operand of ${x-...}, whose unquoted literal text
        is split like an expansion's result (`${x:-a b}` gives two fields)."""
        split_literals = in_operand and not quoted
        for part in parts:
            kind = type(part)
            if kind is ast.Literal:
                out.append((part.text, quoted, split_literals))  # type: ignore[attr-defined]
            elif kind is ast.SingleQuoted or kind is ast.Escaped:
                out.append((part.text, True, False))  # type: ignore[attr-defined]
            elif kind is ast.DoubleQuoted:
                before = len(out)
                inner = part.parts  # type: ignore[attr-defined]
                self._pieces(inner, True, out)
                if len(out) == before and not (inner and all(_is_at(p) for p in inner)):
                    out.append(("", True, False))
            elif kind is ast.ParamSub:
                self._param(part, quoted, out)  # type: ignore[arg-type]
            elif kind is ast.CommandSub:
                text = self.sh.command_sub(part.body)  # type: ignore[attr-defined]
                out.append((text, quoted, not quoted))
            elif kind is ast.ArithSub:
                value = self.sh.arith.evaluate(part.expr)  # type: ignore[attr-defined]
                out.append((str(value), quoted, not quoted))
            elif kind is ast.Tilde:
                out.append((self._tilde(part), True, False))  # type: ignore[arg-type]
            elif kind is ast.ExtGlob:
                out.append((self._extglob_text(part), quoted, False))  # type: ignore[arg-type]
            elif kind is ast.BraceExpansion or kind is ast.BraceRange:
                out.append((_brace_source(part), quoted, False))
            elif kind is ast.ArrayLiteral:
                raise ShellError("an array literal (...) is only allowed in an assignment")
            else:  # pragma: no cover - the parser makes no other parts
                raise ShellError(f"cannot expand {kind.__name__}")

    def _tilde(self, part: ast.Tilde) -> str:
        user = part.user
        if user == "":
            home = self.vars.get("HOME")
            if home is not None:
                return home
            import os
            import pwd

            try:
                return pwd.getpwuid(os.getuid()).pw_dir
            except KeyError:
                return "~"
        if user == "+":
            return self.vars.get("PWD") or "~+"
        if user == "-":
            return self.vars.get("OLDPWD") or "~-"
        import pwd

        try:
            return pwd.getpwnam(user).pw_dir
        except KeyError:
            return "~" + user

    def _extglob_text(self, part: ast.ExtGlob) -> str:
        alternatives = "|".join(self.expand_pattern(alt) for alt in part.alternatives)
        return f"{part.op}({alternatives})"

    # --- parameters ---------------------------------------------------------------------

    def positional(self) -> list[str]:
        return self.sh.positional

    def _param(self, ps: ast.ParamSub, quoted: bool, out: list[tuple[str, bool, bool] | None]) -> None:
        op = ps.op
        prefix = ps.prefix
        if prefix == "#" and not op:
            out.append((str(self._length(ps)), quoted, not quoted))
            return
        if prefix == "!":
            if op in ("@", "*"):
                names = sorted(n for n in self.vars.names() if n.startswith(ps.name) and self.vars.is_set(n))
                self._emit_multi(names, quoted, op == "*", out)
                return
            if ps.index is not None and _subscript_all(ps.index):
                keys = self._array_keys(ps.name)
                self._emit_multi(keys, quoted, _subscript_all(ps.index) == "*", out)
                return
            value, star = self._indirect(ps)
        else:
            value, star = self._value(ps)
        if op:
            if op in _TEST_OPS:
                self._test_op(ps, value, star, quoted, out)
                return
            if value is None and self.options.nounset and op not in ("@Q",):
                raise ExpansionError(f"{ps.name}: unbound variable")
            value = self._transform(ps, value)
        elif (
            self.options.nounset
            and ps.name not in ("@", "*")
            and (value is None or (ps.index is not None and not self.vars.is_set(ps.name)))
        ):
            raise ExpansionError(f"{_param_display(ps)}: unbound variable")
        self._emit(value, star, quoted, out)

    def _emit(
        self, value: str | list[str] | None, star: bool, quoted: bool, out: list[tuple[str, bool, bool] | None]
    ) -> None:
        if value is None:
            return
        if type(value) is str:
            out.append((value, quoted, not quoted))
            return
        self._emit_multi(value, quoted, star, out)  # type: ignore[arg-type]

    def _emit_multi(
        self, values: list[str], quoted: bool, star: bool, out: list[tuple[str, bool, bool] | None]
    ) -> None:
        if star and (quoted or self._joining):
            out.append((self._star_separator().join(values), quoted, False))
            return
        for k, value in enumerate(values):
            if k:
                out.append(FIELD_BREAK)
            out.append((value, quoted, not quoted))

    def _star_separator(self) -> str:
        ifs = self.vars.get("IFS")
        return " " if ifs is None else ifs[:1]

    def _value(self, ps: ast.ParamSub) -> tuple[str | list[str] | None, bool]:
        """The raw value: a string, a list (for @, * and arrays with [@]) or None."""
        name = ps.name
        if ps.index is not None:
            which = _subscript_all(ps.index)
            if which:
                return self._array_values(name), which == "*"
            return self.array_element(name, self._subscript_key(name, ps.index)), False
        if name == "@" or name == "*":
            return list(self.sh.positional), name == "*"
        value = self.vars.get(name)
        if value is not None:
            return value, False
        return self.sh.special_param(name), False

    def _indirect(self, ps: ast.ParamSub) -> tuple[str | list[str] | None, bool]:
        target, _ = self._value(ps)
        if target is None:
            if self.options.nounset:
                raise ExpansionError(f"{ps.name}: unbound variable")
            return None, False
        if not isinstance(target, str):
            target = " ".join(target)
        from fmsh.syntax.parser import parse_text

        try:
            program = parse_text("${" + target + "}", "indirect")
            cmd = program.body.commands[0]
            ref = cmd.words[0].parts[0]  # type: ignore[attr-defined]
            if type(ref) is not ast.ParamSub or ref.op or ref.prefix or len(cmd.words[0].parts) != 1:  # type: ignore[attr-defined]
                raise ValueError
        except Exception:
            raise ExpansionError(f"{target}: invalid indirect expansion") from None
        return self._value(ref)

    def _length(self, ps: ast.ParamSub) -> int:
        value, _ = self._value(ps)
        if value is None:
            if self.options.nounset and ps.name not in ("@", "*"):
                raise ExpansionError(f"{ps.name}: unbound variable")
            return 0
        if type(value) is str:
            return len(value)
        return len(value)

    def _array_values(self, name: str) -> list[str]:
        if name == "@" or name == "*":
            return list(self.sh.positional)
        if name == "PIPESTATUS" and self.vars.cell(name) is None:
            return [str(s) for s in self.sh.pipestatus]
        cell = self.vars.cell(name)
        if cell is None or cell.value is None:
            return []
        value = cell.value
        if type(value) is str:
            return [value]
        return value.values_in_order()  # type: ignore[union-attr]

    def _array_keys(self, name: str) -> list[str]:
        cell = self.vars.cell(name)
        if cell is None or cell.value is None:
            return []
        value = cell.value
        if type(value) is str:
            return ["0"]
        return [str(k) for k in value.keys_in_order()]  # type: ignore[union-attr]

    def _subscript_key(self, name: str, index: ast.Word) -> int | str:
        cell = self.vars.cell(name)
        text = self.expand_string(index)
        if cell is not None and type(cell.value) is AssocArray:
            return text
        return self.sh.arith.evaluate_text(text)

    def array_element(self, name: str, key: int | str) -> str | None:
        cell = self.vars.cell(name)
        if cell is None and name == "PIPESTATUS":
            statuses = self.sh.pipestatus
            index = int(key)
            return str(statuses[index]) if -len(statuses) <= index < len(statuses) else None
        if cell is None or cell.value is None:
            return None
        value = cell.value
        if type(value) is str:
            return value if key == 0 or key == "0" else None
        if type(value) is IndexedArray:
            index = int(key)
            if index < 0:
                index += value.next_index()
            return value.get(index)
        assert isinstance(value, AssocArray)
        return value.get(str(key))

    def _test_op(
        self,
        ps: ast.ParamSub,
        value: str | list[str] | None,
        star: bool,
        quoted: bool,
        out: list[tuple[str, bool, bool] | None],
    ) -> None:
        """The operators that test whether the parameter is set: - = ? + (with :)."""
        op = ps.op
        if value is None:
            missing = True
        elif type(value) is str:
            missing = op in _NULL_OPS and value == ""
        elif op not in _NULL_OPS:
            missing = len(value) == 0
        elif star and quoted:
            missing = self._star_separator().join(value) == ""
        else:
            missing = len(value) == 0 or (len(value) == 1 and value[0] == "")
        base = op[-1]
        assert ps.arg is not None
        if base == "-":
            if missing:
                self._pieces(ps.arg.parts, quoted, out, in_operand=True)
            else:
                self._emit(value, star, quoted, out)
        elif base == "+":
            if not missing:
                self._pieces(ps.arg.parts, quoted, out, in_operand=True)
        elif base == "=":
            if missing:
                if ps.name in ("@", "*") or ps.name.isdigit() or ps.name in "#?-$!":
                    raise ExpansionError(f"${ps.name}: cannot assign in this way")
                new = self.expand_string(ps.arg)
                if ps.index is not None:
                    self.vars.set_element(ps.name, self._subscript_key(ps.name, ps.index), new)
                else:
                    self.vars.set(ps.name, new)
                value = new
            self._emit(value, star, quoted, out)
        else:  # ?
            if missing:
                message = (
                    self.expand_string(ps.arg)
                    if ps.arg.parts
                    else ("parameter null or not set" if ":" in op else "parameter not set")
                )
                raise ExpansionError(f"{ps.name}: {message}")
            self._emit(value, star, quoted, out)

    def _transform(self, ps: ast.ParamSub, value: str | list[str] | None) -> str | list[str] | None:
        op = ps.op
        if value is None:
            if op == ":" and ps.name in ("@", "*"):
                value = []
            else:
                return None
        if op == ":":
            return self._slice(ps, value)
        if type(value) is list:
            return [self._transform_one(ps, v) for v in value]
        return self._transform_one(ps, value)  # type: ignore[arg-type]

    def _transform_one(self, ps: ast.ParamSub, value: str) -> str:
        op = ps.op
        if op in ("#", "##", "%", "%%"):
            pattern = self.expand_pattern(ps.arg) if ps.arg is not None else ""
            return strip_pattern(value, pattern, op)
        if op[0] == "/":
            return self._replace(ps, value)
        if op in ("^", "^^", ",", ",,"):
            pattern = self.expand_pattern(ps.arg) if ps.arg is not None and ps.arg.parts else "?"
            return _change_case(value, pattern, op)
        if op[0] == "@":
            return self._at_transform(ps, value)
        raise ExpansionError(f"{_param_display(ps)}: bad substitution")

    def _replace(self, ps: ast.ParamSub, value: str) -> str:
        import re

        pattern = self.expand_pattern(ps.arg) if ps.arg is not None else ""
        if pattern == "" and ps.op in ("/", "//"):
            return value
        replacement_pieces: list[tuple[str, bool, bool] | None] = []
        if ps.arg2 is not None:
            self._pieces(ps.arg2.parts, False, replacement_pieces)
        body = patterns.translate(pattern)
        if ps.op == "/#":
            body = "^(?:" + body + ")"
        elif ps.op == "/%":
            body = "(?:" + body + r")\Z"
        regex = re.compile(body, re.DOTALL)

        def substitute(match: re.Match[str]) -> str:
            # bash 5.2 (patsub_replacement): an unquoted & stands for the matched text.
            out: list[str] = []
            for piece in replacement_pieces:
                if piece is None:
                    out.append(" ")
                    continue
                text, quoted, _ = piece
                if quoted or "&" not in text:
                    out.append(text)
                else:
                    out.append(_ampersand(text, match.group(0)))
            return "".join(out)

        return regex.sub(substitute, value, count=0 if ps.op == "//" else 1)

    def _slice(self, ps: ast.ParamSub, value: str | list[str]) -> str | list[str]:
        arith = self.sh.arith
        offset = arith.evaluate_text(self.expand_string(ps.arg)) if ps.arg is not None else 0
        length: int | None = None
        if ps.arg2 is not None:
            length = arith.evaluate_text(self.expand_string(ps.arg2))
        if type(value) is list:
            items = value
            if ps.name in ("@", "*") and ps.index is None:
                items = [self.sh.script_name] + items
            n = len(items)
            start = offset + n if offset < 0 else offset
            if start < 0 or start > n:
                return []
            if length is None:
                return items[start:]
            if length < 0:
                raise ExpansionError(f"{length}: substring expression < 0")
            return items[start : start + length]
        text = value
        n = len(text)  # type: ignore[arg-type]
        start = offset + n if offset < 0 else offset
        if start < 0 or start > n:
            return ""
        if length is None:
            return text[start:]  # type: ignore[index]
        end = n + length if length < 0 else start + length
        if end < start:
            raise ExpansionError(f"{length}: substring expression < 0")
        return text[start:end]  # type: ignore[index]

    def _at_transform(self, ps: ast.ParamSub, value: str) -> str:
        from fmsh.expand.quote import shell_quote_always

        kind = ps.op[1]
        if kind == "Q":
            return shell_quote_always(value)
        if kind == "E":
            from fmsh.syntax.escapes import decode_ansi_c

            return decode_ansi_c(value)
        if kind == "U":
            return value.upper()
        if kind == "u":
            return value[:1].upper() + value[1:]
        if kind == "L":
            return value.lower()
        if kind == "A":
            return f"{ps.name}={shell_quote_always(value)}"
        if kind == "a":
            cell = self.vars.cell(ps.name)
            if cell is None:
                return ""
            flags = ""
            if type(cell.value) is IndexedArray:
                flags += "a"
            elif type(cell.value) is AssocArray:
                flags += "A"
            if cell.integer:
                flags += "i"
            if cell.readonly:
                flags += "r"
            if cell.exported:
                flags += "x"
            return flags
        return value


# --- helpers ---------------------------------------------------------------------------


def strip_pattern(value: str, pattern: str, op: str) -> str:
    """`${x#p}`, `${x##p}`, `${x%p}`, `${x%%p}`."""
    if not patterns.has_glob(pattern):
        literal = patterns.unescape(pattern)
        if op[0] == "#":
            return value[len(literal) :] if value.startswith(literal) else value
        return value[: len(value) - len(literal)] if literal and value.endswith(literal) else value
    regex = patterns.compile_pattern(pattern)
    n = len(value)
    if op == "#":
        for i in range(n + 1):
            if regex.match(value, 0, i):
                return value[i:]
    elif op == "##":
        for i in range(n, -1, -1):
            if regex.match(value, 0, i):
                return value[i:]
    elif op == "%":
        for i in range(n, -1, -1):
            if regex.match(value, i):
                return value[:i]
    else:
        for i in range(n + 1):
            if regex.match(value, i):
                return value[:i]
    return value


def _ampersand(text: str, matched: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "&\\":
            out.append(text[i + 1])
            i += 2
            continue
        out.append(matched if c == "&" else c)
        i += 1
    return "".join(out)


def _change_case(value: str, pattern: str, op: str) -> str:
    upper = op[0] == "^"
    every = len(op) == 2
    out: list[str] = []
    for i, c in enumerate(value):
        if (every or i == 0) and patterns.matches(pattern, c):
            out.append(c.upper() if upper else c.lower())
        else:
            out.append(c)
    return "".join(out)


def _is_at(part: ast.WordPart) -> bool:
    """Whether the part is "$@" or "${a[@]}" (which may expand to no field at all)."""
    if type(part) is not ast.ParamSub or part.prefix == "#":
        return False
    if part.name == "@" and part.index is None:
        return True
    return part.index is not None and _subscript_all(part.index) == "@"


def _subscript_all(index: ast.Word) -> str:
    """ "@" or "*" for a subscript that means every element, else ""."""
    if len(index.parts) == 1 and type(index.parts[0]) is ast.Literal and index.parts[0].text in ("@", "*"):
        return index.parts[0].text
    return ""


def _param_display(ps: ast.ParamSub) -> str:
    return ps.name


def _word_source(word: ast.Word) -> str:
    pos = word.pos
    if pos is None:
        return "word"
    text = pos.source.text
    end = pos.offset
    while end < len(text) and text[end] not in " \t\n;&|<>()":
        end += 1
    return text[pos.offset : end]


def _brace_source(part: ast.WordPart) -> str:
    """The text of a brace expression where brace expansion does not apply (`x={a,b}`)."""
    if type(part) is ast.BraceRange:
        step = f"..{part.step}" if part.step != 1 else ""
        return "{" + part.start + ".." + part.end + step + "}"
    assert type(part) is ast.BraceExpansion
    alternatives = ["".join(_part_text(p) for p in alternative) for alternative in part.alternatives]
    return "{" + ",".join(alternatives) + "}"


def _part_text(part: ast.WordPart) -> str:
    if type(part) is ast.Literal:
        return part.text
    if type(part) in (ast.BraceExpansion, ast.BraceRange):
        return _brace_source(part)
    return ""


def brace_expand(parts: list[ast.WordPart]) -> list[list[ast.WordPart]]:
    """The words a brace expression stands for, left to right."""
    results: list[list[ast.WordPart]] = [[]]
    for part in parts:
        kind = type(part)
        if kind is ast.BraceExpansion:
            options: list[list[ast.WordPart]] = []
            for alternative in part.alternatives:  # type: ignore[attr-defined]
                options.extend(brace_expand(alternative))
        elif kind is ast.BraceRange:
            options = [[ast.Literal(part.pos, text)] for text in _range_texts(part)]  # type: ignore[arg-type]
        else:
            for result in results:
                result.append(part)
            continue
        results = [result + option for result in results for option in options]
    return results


def _range_texts(part: ast.BraceRange) -> list[str]:
    step = abs(part.step) or 1
    if part.start.lstrip("+-").isdigit() and part.start.isascii():
        start, end = int(part.start), int(part.end)
        width = 0
        for text in (part.start, part.end):
            digits = text.lstrip("+-")
            if len(digits) > 1 and digits[0] == "0":
                width = max(width, len(text))
        values = range(start, end + 1, step) if start <= end else range(start, end - 1, -step)
        return [str(v).zfill(width) if width else str(v) for v in values]
    a, b = ord(part.start), ord(part.end)
    codes = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
    return [chr(c) for c in codes]
