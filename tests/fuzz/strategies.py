"""Hypothesis strategies for the fuzzers: inputs built from fmsh's own vocabulary.

Random text alone rarely gets past the first token of a parser, so every strategy here
mixes three sources: fragments of the language (keywords, operators, quotes, `$(`, `${`,
`$((`, here-docs, `@hosts` stages, modifiers, nodeset brackets), whole programs grown
recursively from a small grammar (so that nesting is balanced and the parser goes deep),
and noise (random text, and random bytes decoded as fmsh decodes a script: UTF-8 with
surrogateescape). A program is then cut, spliced and mutated with more of the same.
"""

from __future__ import annotations

from hypothesis import strategies as st

KEYWORDS = (
    "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for",
    "in", "{", "}", "!", "function", "[[", "]]", "time", "select", "task", "local", "return",
    "break", "continue", "exit", "export", "eval", "source", ".",
)  # fmt: skip
MODIFIERS = (
    "timeout 1s", "timeout -s KILL 5", "retry 3", "retry 3 backoff 1s..30s", "retry 5 on 255,75",
    "need 2", "need 50%", "max 5", "retry $n", "timeout $t", "timeout abc", "retry -1", "max",
    "await port web1:443 timeout 2m", "await http http://web1/ status 200 every 5s timeout 5m",
    "await file /tmp/x on @web1 timeout 1m", "await signal approved timeout 1d", "await until",
    "await task t1", "await", "every 5s", "jitter", "task deploy timeout 10m {", "task x {",
    "task 'bad name' {",
)  # fmt: skip
OPERATORS = (
    ";", "&", "&&", "||", "|", "|&", ";;", ";&", ";;&", "(", ")", "((", "))", "<", ">", ">>",
    "<<", "<<-", "<<<", "<&", ">&", "<>", ">|", "&>", "&>>", "2>&1", "1>&2", "2>", "9>",
    "99999999999>", "{fd}>", "{x}<", "<(", ">(", "\n", " ", "\t", "\\\n", "#", "# comment\n",
)  # fmt: skip
QUOTES = ("'", '"', "$'", '$"', "`", "\\", "'a b'", '"a $x b"', "$'\\x41\\n\\c''", "\\'", '\\"')
EXPANSIONS = (
    "$", "$x", "$1", "$10", "$@", "$*", "$#", "$?", "$$", "$!", "$-", "$0", "${", "}", "${x}",
    "${x:-d}", "${x:=d}", "${x:?msg}", "${x:+alt}", "${x-d}", "${#x}", "${#}", "${x#a*}",
    "${x##*/}", "${x%.*}", "${x%%.*}", "${x/a/b}", "${x//a/b}", "${x/#a/b}", "${x/%a/b}",
    "${x:1:2}", "${x: -1}", "${x:}", "${x^}", "${x^^}", "${x,,}", "${!x}", "${!a*}", "${!a@}",
    "${x[@]}", "${x[*]}", "${x[1]}", "${x[$i]}", "${#x[@]}", "${!x[@]}", "${x@Q}", "${x@P}",
    "${x@}", "${@:2}", "${x:$((1+1))}", "${x/$y/$(z)}", "${", "${!", "${#", "${x[", "$(",
    "$((", "$[", "$(( ))", "$(echo x)", "$((1+2))", "`echo x`", "$( (a) | b)", "$(( (1) ))",
)  # fmt: skip
ARITH = (
    "1", "0x1f", "010", "2#101", "64#@_", "36#zz", "99#1", "1#0", "x", "x[1]", "x[", "++x", "x--",
    "+", "-", "*", "/", "%", "**", "<<", ">>", "<", ">", "<=", ">=", "==", "!=", "&", "|", "^",
    "&&", "||", "!", "~", "?", ":", ",", "=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=",
    "^=", "|=", "(", ")", " ", "9223372036854775807", "-9223372036854775808", "0/0", "1%0",
    "2**-1", "2**64", "$x", "${x}", "$((1))", '"1"',
)  # fmt: skip
GLOBS = ("*", "?", "[", "]", "[!a]", "[^a]", "[a-z]", "[[:alpha:]]", "[[:bogus:]]", "**", "@(a|b)",
         "!(a)", "+(a)", "*(a)", "?(a)", "@(", "{a,b}", "{1..3}", "{a..e..2}", "{1..10..-3}",
         "{,}", "{}", "{x}", "{1..", ".*", "~", "~root", "~/x", "~nobody_such_user")  # fmt: skip
HOSTS = (
    "@web1", "@web[01-20]", "@web[01-20]!web07", "@db[1-3]&x", "@web[1-9]&db*", "@u@h:22", "@h:99999",
    "@{", "@", "@@", "@web[", "@web]", "@web[1-", "@web[a-z]", "@web[1-3]^web2", "@web[01-20],db1",
    "@$h", "@web$i", "@web[1-2][1-2]", "@:22", "@u@", "@web[1-10000000]", "@web[1-3/2]",
)  # fmt: skip
NODESET_PIECES = (
    "web", "db", "x", "web1", "[", "]", "-", ",", "!", "&", "^", "01", "1", "20", "9", "/", "@", ":",
    "[01-20]", "[1-3]", "[1-3,5]", "[1-10/2]", "[0-9]", "[a-c]", "[1-10000000]", "[001-100]",
    "@web", "@all", "@grp", "@source:web", " ", "*", "[1-2][1-2]", "user@", ":22", "[]", "[-]",
)  # fmt: skip
WORDS = ("echo", "x", "a", "b", "x=1", "a=(1 2 3)", "a[1]=2", "a+=3", "f()", "f", "cat", "true",
         "-n", "--", "EOF", "'EOF'", "\"EOF\"", "\\EOF", "0", "1", "-1", "2", "10s", "/tmp/x")  # fmt: skip
HEREDOCS = (
    "cat <<EOF\nline $x\nEOF\n",
    "cat <<-'X'\n\tbody ${y}\n\tX\n",
    "cat <<\"E\" <<F\na\nE\nb $(echo c)\nF\n",
    "cat <<EOF\nunterminated ${\nEOF\n",
    "cat <<EOF\n`echo x`\n",
    "cat <<EOF",
    "<<$(x)\n",
)  # fmt: skip

VOCABULARY = KEYWORDS + MODIFIERS + OPERATORS + QUOTES + EXPANSIONS + GLOBS + HOSTS + WORDS + HEREDOCS


def noise() -> st.SearchStrategy[str]:
    """Random text, and random bytes as fmsh reads a script (UTF-8, surrogateescape)."""
    return st.one_of(
        st.text(max_size=12),
        st.binary(max_size=12).map(lambda b: b.decode("utf-8", "surrogateescape")),
        st.sampled_from(["\x00", "\r", "\r\n", "\x0b", "\u00a0", "\u2028", "\ufeff", "é", "٣", "𝟘", "\udcff"]),
    )


def fragments(*vocabularies: tuple[str, ...], noise_weight: int = 1) -> st.SearchStrategy[str]:
    """Pieces from the given vocabularies (all of the language by default), with noise."""
    vocabulary = sum(vocabularies, ()) if vocabularies else VOCABULARY
    pieces = [st.sampled_from(vocabulary)] * 4 + [noise()] * noise_weight
    return st.one_of(*pieces)


def _join(pieces: list[str], separators: list[str]) -> str:
    out: list[str] = []
    for k, piece in enumerate(pieces):
        if k:
            out.append(separators[k % len(separators)] if separators else "")
        out.append(piece)
    return "".join(out)


def soup(*vocabularies: tuple[str, ...], max_size: int = 30) -> st.SearchStrategy[str]:
    """A run of fragments, joined by nothing or blanks."""
    return st.builds(
        _join,
        st.lists(fragments(*vocabularies), max_size=max_size),
        st.lists(st.sampled_from(["", " ", " ", "\n", "; "]), max_size=4),
    )


# --- whole programs from a small grammar ----------------------------------------------------


def _word() -> st.SearchStrategy[str]:
    simple = st.sampled_from(WORDS + GLOBS[:12])
    quoted = st.sampled_from(QUOTES[6:9])
    expansion = st.sampled_from(EXPANSIONS[10:60])
    return st.lists(st.one_of(simple, quoted, expansion), min_size=1, max_size=3).map("".join)


def _simple() -> st.SearchStrategy[str]:
    redirect = st.sampled_from(["", " >/dev/null", " 2>&1", " <<<x", " >>$f", " <x"])
    return st.builds(
        lambda name, args, r: name + "".join(" " + a for a in args) + r,
        st.sampled_from(["echo", "true", "x=1", "f", "cat", "@web[1-3]", "@db1", "retry 3", "timeout 5s"]),
        st.lists(_word(), max_size=3),
        redirect,
    )


# Compound commands: {0} {1} {2} are inner commands (each drawn once per template).
COMPOUNDS = (
    "( {0} )", "{{ {0}; }}", "echo $({0})", 'echo "$({0})"', "echo `{0}`", "if {0}; then {1}; fi",
    "if {0}\nthen {1}\nelif {2}; then :\nelse {2}\nfi", "while {0}; do {1}; done", "until {0}\ndo\n{1}\ndone",
    "for i in a b $x; do {0}; done", "for ((i=0; i<3; i++)); do {0}; done", "for x\ndo {0}; done",
    "case $x in a|b) {0};; (*) {1};& esac", "f() {{ {0}; }}", "function g {{ {0}; }}", "task t1 {{ {0}; }}",
    "task t2 timeout 5m {{ {0}; }}", "retry 3 backoff 1s..5s {{ {0}; }}", "timeout 10s {{ {0}; }}",
    "@web[01-20] {{ {0}; }}", "{0} | {1} |& {2}", "{0} && {1} || {2}", "! {0}", "time -p {0}",
    "[[ -n $x && ( $y == a* || ! -z '{0}' ) ]]", "(( x = $((1 + 2)) * 2 ))", "cat <<EOF\n$({0})\nEOF\n{1}",
    "{0} &", "{0}; {1}\n{2}", "need 2 @web[1-3] {0}", "max 3 while {0}; do {1}; done",
)  # fmt: skip


def _fill(template: str, inner: list[str]) -> str:
    return template.format(*inner)


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(_fill, st.sampled_from(COMPOUNDS), st.lists(inner, min_size=3, max_size=3))


def programs() -> st.SearchStrategy[str]:
    """Programs grown from the grammar: balanced, often deep."""
    return st.recursive(_simple(), _compound, max_leaves=12)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A text from `base`, then cut, spliced and sprinkled with fragments."""
    text = draw(base)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "truncate", "duplicate"]))
        if action == "insert":
            text = text[:at] + draw(fragments()) + text[at:]
        elif action == "delete":
            end = draw(st.integers(at, min(len(text), at + 6)))
            text = text[:at] + text[end:]
        elif action == "truncate":
            text = text[:at]
        else:
            text = text[:at] + text[at : at + 8] + text[at:]
    return text


def shell_texts() -> st.SearchStrategy[str]:
    """What the lexer and parser fuzzers feed: grammar programs (as is and mutated), soup
    of the vocabulary, and plain noise."""
    return st.one_of(
        programs(),
        mutated(programs()),
        soup(),
        mutated(soup()),
        noise(),
    )


def nodeset_texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(st.sampled_from(NODESET_PIECES), min_size=1, max_size=12).map("".join),
        mutated(st.lists(st.sampled_from(NODESET_PIECES), min_size=1, max_size=8).map("".join)),
        st.builds(
            lambda head, lo, hi, tail: f"{head}[{lo}-{hi}]{tail}",
            st.sampled_from(["web", "n", "", "db-"]),
            st.integers(0, 10**7).map(str) | st.sampled_from(["01", "001", "0"]),
            st.integers(0, 10**9).map(str) | st.sampled_from(["20", "099"]),
            st.sampled_from(["", "!web07", "&web[1-5]", ",db1", "^web2", "-x", "[1-2]"]),
        ),
        noise(),
    )
