"""Shell patterns: `*`, `?`, `[...]` (with `[:class:]`), extglob groups, and backslash
escapes, translated to Python regular expressions; and pathname expansion (globbing).

Patterns arrive as text in which a backslash quotes the next character: the word
evaluator escapes every quoted character, so `"*"` reaches here as `\\*`.
"""

from __future__ import annotations

import os

# `re` is imported where a pattern is compiled: most commands never need it, and it
# costs a good part of fmsh's start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

GLOB_CHARS = frozenset("*?[")
_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v", "blank": " \\t", "xdigit": "0-9A-Fa-f", "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e", "graph": "\\x21-\\x7e", "word": "\\w",
    "punct": "!\"\\#\\$%\\&'\\(\\)\\*\\+,\\-\\./:;<=>\\?@\\[\\\\\\]\\^_`\\{\\|\\}\\~",
}  # fmt: skip
_cache: dict[tuple[str, bool, bool], re.Pattern[str]] = {}


_has_glob_cache: dict[str, bool] = {}


def has_glob(pattern: str) -> bool:
    """Whether the pattern has an unescaped special character (else it matches itself)."""
    found = _has_glob_cache.get(pattern)
    if found is None:
        found = _scan_for_glob(pattern)
        if len(_has_glob_cache) > 4096:
            _has_glob_cache.clear()
        _has_glob_cache[pattern] = found
    return found


def _scan_for_glob(pattern: str) -> bool:
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "*" or c == "?":
            return True
        if c == "[" and pattern.find("]", i + 2) != -1:
            # `[` alone (the test command) is not a bracket expression.
            return True
        if c in "@+!" and i + 1 < n and pattern[i + 1] == "(":
            return True
        i += 1
    return False


def unescape(pattern: str) -> str:
    """The literal text a pattern without glob characters stands for."""
    if "\\" not in pattern:
        return pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] == "\\" and i + 1 < n:
            out.append(pattern[i + 1])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def compile_pattern(pattern: str, anchored: bool = True, nocase: bool = False) -> re.Pattern[str]:
    key = (pattern, anchored, nocase)
    regex = _cache.get(key)
    if regex is None:
        import re

        body = translate(pattern)
        flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
        regex = re.compile(body if not anchored else "(?:" + body + r")\Z", flags)
        if len(_cache) > 512:
            _cache.clear()
        _cache[key] = regex
    return regex


def matches(pattern: str, text: str, nocase: bool = False) -> bool:
    """Whether the whole of `text` matches the shell pattern."""
    if not has_glob(pattern):
        literal = unescape(pattern)
        return text == literal if not nocase else text.lower() == literal.lower()
    return compile_pattern(pattern, nocase=nocase).match(text) is not None


def translate(pattern: str) -> str:
    """The Python regex for a shell pattern (unanchored)."""
    import re

    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(re.escape(pattern[i + 1]) if i + 1 < n else "\\\\")
            i += 2
        elif c in "*?@+!" and i + 1 < n and pattern[i + 1] == "(":
            close = _matching_paren(pattern, i + 1)
            if close == -1:
                out.append(re.escape(c))
                i += 1
                continue
            alternatives = "|".join(translate(alt) for alt in _split_alternatives(pattern[i + 2 : close]))
            group = "(?:" + alternatives + ")"
            if c == "@":
                out.append(group)
            elif c == "*":
                out.append(group + "*")
            elif c == "+":
                out.append(group + "+")
            elif c == "?":
                out.append(group + "?")
            else:
                rest = translate(pattern[close + 1 :])
                out.append("(?:(?!" + group + rest + r"\Z).*?)")
            i = close + 1
        elif c == "*":
            out.append(".*")
            i += 1
        elif c == "?":
            out.append(".")
            i += 1
        elif c == "[":
            bracket, end = _bracket(pattern, i)
            if bracket is None:
                out.append("\\[")
                i += 1
            else:
                out.append(bracket)
                i = end
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _matching_paren(pattern: str, open_index: int) -> int:
    depth = 0
    i = open_index
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _split_alternatives(body: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(body[start:i])
            start = i + 1
        i += 1
    parts.append(body[start:])
    return parts


def _bracket(pattern: str, start: int) -> tuple[str | None, int]:
    """A `[...]` expression at `start` as a regex class, and the index after it."""
    import re

    i = start + 1
    n = len(pattern)
    negate = False
    if i < n and pattern[i] in "!^":
        negate = True
        i += 1
    items: list[str] = []
    last = ""  # the last single character added: the low end of a range that follows
    first = True
    while i < n:
        c = pattern[i]
        if c == "]" and not first:
            body = "".join(items)
            if not body:
                return None, start
            return ("[^" if negate else "[") + body + "]", i + 1
        first = False
        if c == "[" and i + 1 < n and pattern[i + 1] == ":":
            close = pattern.find(":]", i + 2)
            if close != -1 and pattern[i + 2 : close] in _CLASSES:
                items.append(_CLASSES[pattern[i + 2 : close]])
                i = close + 2
                continue
        if c == "\\" and i + 1 < n:
            items.append(re.escape(pattern[i + 1]))
            last = pattern[i + 1]
            i += 2
            continue
        if c == "-" and items and i + 1 < n and pattern[i + 1] != "]":
            high = pattern[i + 2] if pattern[i + 1] == "\\" and i + 2 < n else pattern[i + 1]
            if last and high < last:
                # a reversed range (`[1-0]`) matches nothing, as in bash: drop it
                items.pop()
                i += 3 if pattern[i + 1] == "\\" else 2
                last = ""
                continue
            items.append("-")
            i += 1
            continue
        items.append("\\" + c if c in "\\^[]-" else c)
        last = c
        i += 1
    return None, start


# --- pathname expansion ----------------------------------------------------------------


def _walk(base: str, shown: str, dotglob: bool, with_files: bool) -> list[tuple[str, str]]:
    """Everything below `base` (for `**`): directories, and files too when asked."""
    out: list[tuple[str, str]] = []
    try:
        entries = sorted(os.scandir(base or "."), key=lambda e: e.name)
    except OSError:
        return out
    for entry in entries:
        if entry.name[0] == "." and not dotglob:
            continue
        is_dir = entry.is_dir(follow_symlinks=False)
        if is_dir or with_files:
            out.append((base + entry.name + "/", shown + entry.name + ("/" if is_dir and not with_files else "")))
        if is_dir:
            out.extend(_walk(base + entry.name + "/", shown + entry.name + "/", dotglob, with_files))
    return out


def glob(pattern: str, dotglob: bool = False, nocase: bool = False, globstar: bool = False) -> list[str]:
    """Paths matching the pattern, sorted; empty when nothing matches. With globstar,
    a `**` component matches any number of directories."""
    absolute = pattern.startswith("/")
    components = [c for c in pattern.split("/") if c]
    trailing_slash = pattern.endswith("/") and len(pattern) > 1
    results = [("/" if absolute else "", "")]
    for index, component in enumerate(components):
        last = index == len(components) - 1
        next_results: list[tuple[str, str]] = []
        if component == "**" and globstar:
            for base, shown in results:
                if last:
                    if shown:
                        next_results.append((base, shown))  # `dir/**` includes `dir/`
                    next_results.extend((b, s.rstrip("/")) for b, s in _walk(base, shown, dotglob, True))
                else:
                    next_results.append((base, shown))
                    next_results.extend(_walk(base, shown, dotglob, False))
        elif not has_glob(component):
            literal = unescape(component)
            for base, shown in results:
                path = base + literal
                if (last and not trailing_slash) and not os.path.lexists(path):
                    continue
                if (not last or trailing_slash) and not os.path.isdir(path):
                    continue
                next_results.append((path + "/", shown + literal + ("/" if not last or trailing_slash else "")))
        else:
            regex = compile_pattern(component, nocase=nocase)
            want_hidden = dotglob or component.startswith(".") or component.startswith("\\.")
            for base, shown in results:
                try:
                    names = os.listdir(base or ".")
                except OSError:
                    continue
                for name in names:
                    if name[0] == "." and not want_hidden:
                        continue
                    if regex.match(name) is None:
                        continue
                    path = base + name
                    if (not last or trailing_slash) and not os.path.isdir(path):
                        continue
                    next_results.append((path + "/", shown + name + ("/" if not last or trailing_slash else "")))
        results = next_results
        if not results:
            return []
    out = [("/" if absolute else "") + shown for _, shown in results]
    return sorted(out)
