"""The fmsh AST, declared in one place.

Three families of nodes: word parts (what a word is made of), arithmetic and `[[ ]]`
expressions, and commands. Every node has a `pos` (see source.Pos) as its first field.

Nodes are plain slotted classes. `Node` turns the annotated fields of a class body into
`__slots__` and a positional/keyword `__init__`, the way a dataclass would, without the
import cost of `dataclasses` on the start-up path.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, dataclass_transform

    from fmsh.syntax.source import Pos
else:

    def dataclass_transform():  # noqa: D103 - stands in for typing's at run time
        return lambda cls: cls


class _NodeMeta(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> _NodeMeta:
        own = tuple(ns.get("__annotations__", {}))
        inherited: tuple[str, ...] = ()
        for base in bases:
            inherited += getattr(base, "_fields", ())
        fields = inherited + own
        ns["__slots__"] = own
        ns["_fields"] = fields
        cls = super().__new__(mcs, name, bases, ns)
        if fields:
            cls.__init__ = _first_init(cls, fields)  # type: ignore[misc]
        return cls


def _first_init(cls: type, fields: tuple[str, ...]) -> Any:
    """An __init__ that compiles the class's real one on first use: start-up pays only
    for the nodes a command line actually has."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        argument_list = ", ".join(fields)
        body = "\n".join(f"    self.{f} = {f}" for f in fields)
        scope: dict[str, Any] = {}
        exec(f"def __init__(self, {argument_list}):\n{body}\n", scope)
        cls.__init__ = scope["__init__"]  # type: ignore[misc]
        scope["__init__"](self, *args, **kwargs)

    return __init__


@dataclass_transform()
class Node(metaclass=_NodeMeta):
    """Base of every node: fields come from annotations; equality is structural."""

    if TYPE_CHECKING:
        _fields: tuple[str, ...]

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields if f != "pos")
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields if f != "pos")

    __hash__ = None  # type: ignore[assignment]


# --- Word parts ------------------------------------------------------------------------


class WordPart(Node):
    pos: Pos


class Literal(WordPart):
    """Unquoted text. Glob characters in it are active; IFS splitting does not apply."""

    text: str


class Escaped(WordPart):
    """`\\c` outside quotes: one character taken literally."""

    text: str


class SingleQuoted(WordPart):
    """`'...'`, and `$'...'` with its escapes already decoded."""

    text: str


class DoubleQuoted(WordPart):
    """`"..."`: its parts expand but are not split or globbed."""

    parts: list[WordPart]


class Tilde(WordPart):
    """`~` or `~user` at the start of a word (or after `=` / `:` in an assignment)."""

    user: str


class ParamSub(WordPart):
    """`$name`, `${name}` and the `${...}` operators.

    prefix: "" | "#" (length) | "!" (indirection, or names with `${!pre*}`)
    index:  the subscript of `${a[...]}` as a word, "@"/"*" kept as literal words
    op:     "" or one of  - := = :? ? :+ + # ## % %% / // /# /% : ^ ^^ , ,, @
    arg:    the operand word (for `/`, the pattern; for `:`, the offset expression)
    arg2:   the replacement of `/`, the length of `:`
    """

    name: str
    prefix: str
    index: Word | None
    op: str
    arg: Word | None
    arg2: Word | None
    braced: bool


class CommandSub(WordPart):
    """`$(...)` or a backquoted command."""

    body: Command


class ArithSub(WordPart):
    """`$((...))`."""

    expr: ArithExpr


class BraceExpansion(WordPart):
    """`{a,b,c}` (alternatives, each a list of parts) or `{1..9..2}` (a sequence)."""

    alternatives: list[list[WordPart]]


class BraceRange(WordPart):
    start: str
    end: str
    step: int


class ArrayLiteral(WordPart):
    """The `(a b c)` of `name=(a b c)`; elements may be `[key]=value` words."""

    elements: list[Word]


class ExtGlob(WordPart):
    """`@(a|b)`, `*(..)`, `+(..)`, `?(..)`, `!(..)`: a pattern group."""

    op: str
    alternatives: list[Word]


class Word(Node):
    """A shell word: a sequence of parts with no unquoted blank between them."""

    pos: Pos
    parts: list[WordPart]


# --- Arithmetic ------------------------------------------------------------------------


class ArithExpr(Node):
    pos: Pos


class ArithNumber(ArithExpr):
    value: int


class ArithVar(ArithExpr):
    """A bare name, possibly subscripted: its value is itself evaluated as arithmetic."""

    name: str
    index: ArithExpr | None


class ArithWord(ArithExpr):
    """A `$x`, `$(...)` or similar inside arithmetic: expanded, then evaluated."""

    word: Word


class ArithUnary(ArithExpr):
    op: str  # - + ! ~ ++ -- (prefix) and "post++" "post--"
    operand: ArithExpr


class ArithBinary(ArithExpr):
    op: str
    left: ArithExpr
    right: ArithExpr


class ArithAssign(ArithExpr):
    op: str  # = += -= *= /= %= <<= >>= &= ^= |=
    target: ArithVar
    value: ArithExpr


class ArithInvalid(ArithExpr):
    """An expression that does not parse (`$((1 +))`, `$((08))`): as in bash, an error
    only when it is evaluated."""

    text: str
    message: str


class ArithTernary(ArithExpr):
    cond: ArithExpr
    then: ArithExpr
    otherwise: ArithExpr


# --- [[ ]] expressions -----------------------------------------------------------------


class BoolExpr(Node):
    pos: Pos


class BoolWord(BoolExpr):
    """A lone word: true when it expands to a non-empty string."""

    word: Word


class BoolUnary(BoolExpr):
    op: str  # -f -d -z -n -v ...
    operand: Word


class BoolBinary(BoolExpr):
    op: str  # == != = < > =~ -eq -lt ... -nt -ot -ef
    left: Word
    right: Word


class BoolNot(BoolExpr):
    operand: BoolExpr


class BoolAnd(BoolExpr):
    left: BoolExpr
    right: BoolExpr


class BoolOr(BoolExpr):
    left: BoolExpr
    right: BoolExpr


# --- Commands --------------------------------------------------------------------------


class Redirect(Node):
    """One redirection. `fd` is None for the operator's default (0 or 1).

    op: < > >> >| <> <& >& &> &>> << <<- <<<
    target: the file word, the descriptor word of `N>&M`, or the here-doc/string.
    fd_var: the name of `{name}>file`, which allocates a descriptor into $name.
    """

    pos: Pos
    op: str
    fd: int | None
    target: Word | HereDoc
    fd_var: str | None


class HereDoc(Node):
    """A here-document body. Quoted delimiters turn expansion off."""

    pos: Pos
    delimiter: str
    quoted: bool
    strip_tabs: bool
    body: Word | None  # filled in when the lines after the command have been read


class Assignment(Node):
    """`name=value`, `name+=value`, `name[index]=value`, `name=(...)`."""

    pos: Pos
    name: str
    index: Word | None
    value: Word | None
    append: bool


class Command(Node):
    pos: Pos


class SimpleCommand(Command):
    assignments: list[Assignment]
    words: list[Word]
    redirects: list[Redirect]


class RemoteCommand(Command):
    """`@HOSTS cmd args...` or `@HOSTS { script; }`: a stage run on hosts over SSH.

    hosts:        the host pattern after the `@` (a word: `@$h` and `@web[01-$n]` expand)
    words:        the remote argv, each word quoted so that the remote side gets it exactly;
                  empty for a block
    block:        a block's text, sent to the remote POSIX sh as written
    block_names:  the variables the block uses: their local values are sent along
    assignments:  settings for this stage only (`FMSH_OUTPUT=gather @web[1-9] uptime`)
    """

    assignments: list[Assignment]
    hosts: Word
    words: list[Word]
    block: str | None
    block_names: list[str]
    redirects: list[Redirect]


class Pipeline(Command):
    """`a | b | c`; `negated` for `!`; `stderr_too[i]` for a `|&` after stage i; `timed`
    for `time` ("bash") and `time -p` ("posix"), else ""."""

    commands: list[Command]
    negated: bool
    stderr_too: list[bool]
    timed: str


class AndOr(Command):
    """`a && b || c`: ops[i] joins commands[i] and commands[i + 1]."""

    commands: list[Command]
    ops: list[str]


class Background(Command):
    """`cmd &`."""

    command: Command


class CommandList(Command):
    """Commands run one after another (`;` or newline)."""

    commands: list[Command]


class BraceGroup(Command):
    body: CommandList
    redirects: list[Redirect]


class TaskBlock(Command):
    """`task NAME [timeout DUR] { ...; }`: the commands of a durable task (see fmsh/tasks);
    its timeout is a deadline counted from the task's start, across resumes."""

    name: str
    timeout: Word | None
    body: CommandList
    redirects: list[Redirect]


# --- Modifiers and waits ----------------------------------------------------------------


class Modifier(Node):
    """A reserved word and its arguments before a pipeline or block (see Modified)."""

    pos: Pos


class TimeoutModifier(Modifier):
    """`timeout [-s SIG] [-k DUR] [--preserve-status] [-v] DUR`, as coreutils' timeout."""

    duration: Word
    signal: Word | None
    kill_after: Word | None
    preserve_status: bool
    verbose: bool
    foreground: bool


class RetryModifier(Modifier):
    """`retry N [backoff MIN[..MAX]] [jitter] [on STATUS,...]`."""

    count: Word
    backoff_min: Word | None
    backoff_max: Word | None
    jitter: bool
    on: Word | None


class NeedModifier(Modifier):
    """`need N` or `need P%`: how many hosts of a fan-out must succeed."""

    quorum: Word


class MaxModifier(Modifier):
    """`max N`: at most N rounds of the loop that follows."""

    count: Word


class Modified(Command):
    """Modifiers applied, outermost first, to a pipeline or block:
    `retry 3 timeout 10s curl ...` gives each of 3 attempts 10 seconds."""

    modifiers: list[Modifier]
    command: Command


class Await(Command):
    """`await KIND ARGS [every DUR] [timeout DUR]`: port, http, file, signal, callback, task, until.

    args: the kind's operands (`until`: the command's words, unless it has a block);
    options: the kind's keywords and their words (status, match, on, into, every, timeout)."""

    kind: str
    args: list[Word]
    options: dict[str, Word]
    block: Command | None
    redirects: list[Redirect]


class Subshell(Command):
    body: CommandList
    redirects: list[Redirect]


class IfArm(Node):
    pos: Pos
    condition: CommandList
    body: CommandList


class If(Command):
    arms: list[IfArm]
    else_body: CommandList | None
    redirects: list[Redirect]


class CaseArm(Node):
    """One `pat|pat) body ;;`; terminator is ";;", ";&" (fall through) or ";;&"."""

    pos: Pos
    patterns: list[Word]
    body: CommandList
    terminator: str


class Case(Command):
    subject: Word
    arms: list[CaseArm]
    redirects: list[Redirect]


class ForEach(Command):
    """`for name in words; do ...; done`; words None means `"$@"`."""

    var: str
    words: list[Word] | None
    body: CommandList
    redirects: list[Redirect]


class ForArith(Command):
    """`for ((init; cond; step)); do ...; done`."""

    init: ArithExpr | None
    cond: ArithExpr | None
    step: ArithExpr | None
    body: CommandList
    redirects: list[Redirect]


class WhileUntil(Command):
    until: bool
    condition: CommandList
    body: CommandList
    redirects: list[Redirect]


class FunctionDef(Command):
    """`name() { ...; }`; `end` is the source offset after the definition (for
    `declare -f` and `type`, which print it as written)."""

    name: str
    body: Command
    end: int


class DoubleBracket(Command):
    """`[[ expr ]]`."""

    expr: BoolExpr
    redirects: list[Redirect]


class ArithCommand(Command):
    """`(( expr ))`: status 0 when the value is non-zero."""

    expr: ArithExpr
    redirects: list[Redirect]


class Program(Node):
    """A whole parsed text (file, -c string, eval string, interactive line)."""

    pos: Pos
    body: CommandList
