"""Step keys: a step's place in the source, inside which function calls and loop rounds.

    12:5                      the command at line 12, column 5 of the task's script
    lib.sh:3:1                ... of another file (sourced)
    8:1#3>12:5                in round 3 of the loop at 8:1
    deploy@20:1>12:5          in the call of `deploy` made at 20:1
    12:5~2                    the second time the same key comes up (eval, a trap)

The same run of the same script gives the same keys, so a resumed task finds each step's
journaled result by its key.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.syntax.source import Pos


_TEXT_LIMIT = 200


class StepKeys:
    def __init__(self, main_source: str) -> None:
        self.main = main_source
        self.frames: list[str] = []
        self.sites: list[str] = []  # the source of each frame: the call, the loop's head
        self._seen: dict[str, int] = {}

    def where(self, pos: Pos) -> str:
        line, col = pos.source.line_col(pos.offset)
        if pos.source.name == self.main:
            return f"{line}:{col}"
        return f"{pos.source.name}:{line}:{col}"

    def key(self, pos: Pos) -> str:
        here = self.where(pos)
        base = ">".join(self.frames) + ">" + here if self.frames else here
        count = self._seen.get(base, 0) + 1
        self._seen[base] = count
        return base if count == 1 else f"{base}~{count}"

    def location(self, pos: Pos) -> str:
        """Where a step is, for messages: `deploy.fmsh:7:1 › 4:10` (a call at 7:1 of a
        function whose step is at 4:10)."""
        places = [frame.rpartition("@")[2] for frame in self.frames] + [self.where(pos)]
        head = places[0]
        if not head.startswith(self.main + ":") and head[:1].isdigit():
            places[0] = f"{self.main}:{head}"
        return " › ".join(places)

    def context(self) -> str:
        """The calls and loops a step is in, as source: `deploy web1 › for h in a b`."""
        return " › ".join(self.sites)

    def enter_call(self, name: str, pos: Pos) -> None:
        self.frames.append(f"{name}@{self.where(pos)}")
        self.sites.append(step_text(pos))

    def enter_loop(self, pos: Pos) -> None:
        self.frames.append(f"{self.where(pos)}#1")
        self.sites.append(step_text(pos))

    def next_round(self, number: int) -> None:
        """The innermost loop begins round `number` (its condition, then its body)."""
        frame = self.frames[-1]
        self.frames[-1] = f"{frame[: frame.rindex('#')]}#{number}"

    def leave(self) -> None:
        self.frames.pop()
        self.sites.pop()


def shown(context: str, text: str) -> str:
    """A step as messages show it: inside its calls and loops."""
    return f"{context} › {text}" if context else text


def step_text(pos: Pos, kind: str = "") -> str:
    """The source of a step as the journal shows it: from its start to where the command
    ends (`;`, `&` but not in `>&2` or `&>`, a newline, a comment, a closing bracket it did
    not open, `|` unless it is a pipeline), quotes and brackets respected. Cut at 200
    characters."""
    text = pos.source.text
    i = pos.offset
    n = len(text)
    depth = 0
    quote = ""
    while i < n:
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c == "\\":
            i += 1
        elif c in "'\"`":
            quote = c
        elif c in "({":
            depth += 1
        elif c in ")}":
            if depth == 0:
                break
            depth -= 1
        elif c == "&" and (text[i - 1 : i] in ("<", ">") or text.startswith("&>", i)):
            pass  # a redirection (`>&2`, `<&3`, `&>log`), not a command's end
        elif depth == 0 and (c in ";&\n" or (c == "|" and (kind != "pipeline" or text.startswith("||", i)))):
            break
        elif c == "#" and i > pos.offset and text[i - 1] in " \t":
            break  # a comment after the command
        i += 1
    line = " ".join(text[pos.offset : i].split())
    return line if len(line) <= _TEXT_LIMIT else line[: _TEXT_LIMIT - 1] + "…"
