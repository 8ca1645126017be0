"""The command parser: recursive descent from tokens to the command AST.

    program   := list EOF
    list      := and_or ((';' | '&' | NEWLINE) and_or)*
    and_or    := pipeline (('&&' | '||') NEWLINE* pipeline)*
    pipeline  := ['time'] ['!'] command (('|' | '|&') NEWLINE* command)*
    command   := simple | compound redirect* | function_def | task_block
    task_block := 'task' NAME '{' list '}'     (`task` is a command name otherwise)

Reserved words are recognised only in command position and only when unquoted.
"""

from __future__ import annotations

from fmsh.syntax import ast
from fmsh.syntax.errors import ParseError
from fmsh.syntax.lexer import EOF, NEWLINE, REDIR, TOO_DEEP, WORD, Lexer, Token
from fmsh.syntax.modifiers import MODIFIERS, await_ahead, check_duration, modifier_ahead, parse_await, parse_modified
from fmsh.syntax.source import Pos, Source
from fmsh.syntax.word_parser import is_name

RESERVED = frozenset(
    ["if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for",
     "in", "{", "}", "!", "function", "[[", "]]", "time"]
)  # fmt: skip
_CASE_TERMINATORS = (";;", ";&", ";;&")
_UNARY_TESTS = frozenset("abcdefghkprstuwxzGLNOSnov") | {"R"}
_BINARY_TESTS = frozenset(
    ["==", "=", "!=", "=~", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef"]
)


def parse(source: Source, aliases: dict[str, str] | None = None, start: int = 0) -> ast.Program:
    """Parse a whole text (from `start`). Raises ParseError (IncompleteInput for
    unfinished input).

    aliases: expand these in command position (interactive shells, expand_aliases).
    """
    lexer = Lexer(source, start)
    lexer.aliases = aliases
    try:
        return CommandParser(lexer).parse_program()
    except RecursionError:
        # Arithmetic nests without reading tokens (`$((((((...`): the lexer cannot catch it.
        raise ParseError(TOO_DEEP, Pos(source, min(lexer.i, len(source.text)))) from None


def parse_text(text: str, name: str = "-c") -> ast.Program:
    return parse(Source(name, text))


class CommandParser:
    def __init__(self, lexer: Lexer) -> None:
        self.lx = lexer
        self._peeked: Token | None = None
        self.last_end = 0  # where the last consumed token ended

    # --- tokens -------------------------------------------------------------------------

    def peek(self) -> Token:
        if self._peeked is None:
            self._peeked = self.lx.next_token()
        return self._peeked

    def next(self) -> Token:
        tok = self.peek()
        self._peeked = None
        self.last_end = tok.offset + len(tok.text)
        return tok

    def _unexpected(self, tok: Token) -> ParseError:
        if tok.kind == EOF:
            return self.lx.incomplete("unexpected end of input", tok.offset)
        shown = "newline" if tok.kind == NEWLINE else tok.text
        return self.lx.error(f"syntax error near unexpected token `{shown}'", tok.offset)

    def expect(self, kind: str, message: str, offset: int, incomplete: bool = False) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            if tok.kind == EOF or incomplete and tok.kind == EOF:
                raise self.lx.incomplete(message, offset)
            raise self._unexpected(tok)
        return self.next()

    def _expect_reserved(self, word: str, opening: Token) -> Token:
        self._skip_newlines()
        tok = self.peek()
        if tok.kind == WORD and tok.literal == word:
            return self.next()
        if tok.kind == EOF:
            raise self.lx.incomplete(f"`{opening.text}' without `{word}'", opening.offset)
        raise self.lx.error(
            f"syntax error: expected `{word}' (for `{opening.text}' at line "
            f"{self.lx.source.line_col(opening.offset)[0]})",
            tok.offset,
        )

    def _skip_newlines(self) -> None:
        while self.peek().kind == NEWLINE:
            self.next()

    def _pos(self, tok: Token) -> Pos:
        return Pos(tok.source or self.lx.source, tok.offset)

    # --- lists --------------------------------------------------------------------------

    def parse_program(self) -> ast.Program:
        body = self.parse_list(frozenset())
        tok = self.peek()
        if tok.kind != EOF:
            raise self._unexpected(tok)
        return ast.Program(self.lx.pos(0), body)

    def parse_list(self, stop: frozenset[str], closing: str = "") -> ast.CommandList:
        """Commands until EOF, a reserved word in `stop`, `closing` or a case terminator."""
        start = self.lx.i
        commands: list[ast.Command] = []
        while True:
            self._skip_newlines()
            tok = self.peek()
            if tok.kind == EOF or tok.kind == closing or tok.kind in _CASE_TERMINATORS:
                break
            if tok.kind == WORD and tok.literal in stop:
                break
            if tok.kind == ")":
                raise self._unexpected(tok)
            command = self.parse_and_or()
            tok = self.peek()
            if tok.kind == "&":
                self.next()
                command = ast.Background(command.pos, command)
            elif tok.kind == ";" or tok.kind == NEWLINE:
                self.next()
            commands.append(command)
            if tok.kind not in ("&", ";", NEWLINE):
                break
        pos = commands[0].pos if commands else self.lx.pos(start)
        return ast.CommandList(pos, commands)

    def _body(self, stop: frozenset[str], opening: Token) -> ast.CommandList:
        """A list that must not be empty (the body of if/while/for/{ })."""
        body = self.parse_list(stop)
        if not body.commands:
            tok = self.peek()
            if tok.kind == EOF:
                raise self.lx.incomplete(f"unfinished `{opening.text}'", opening.offset)
            raise self._unexpected(tok)
        return body

    def parse_and_or(self) -> ast.Command:
        first = self.parse_pipeline()
        commands = [first]
        ops: list[str] = []
        while self.peek().kind in ("&&", "||"):
            ops.append(self.next().kind)
            self._skip_newlines()
            commands.append(self.parse_pipeline())
        if not ops:
            return first
        return ast.AndOr(first.pos, commands, ops)

    def parse_pipeline(self) -> ast.Command:
        tok = self.peek()
        if tok.kind == WORD and tok.literal in MODIFIERS and modifier_ahead(self, tok):
            return parse_modified(self)
        pos = self._pos(tok)
        negated = False
        timed = ""
        if tok.kind == WORD and tok.literal == "time":
            self.next()
            timed = "bash"
            tok = self.peek()
            if tok.kind == WORD and tok.literal == "-p":
                self.next()
                timed = "posix"
                tok = self.peek()
        while tok.kind == WORD and tok.literal == "!":
            self.next()
            negated = not negated
            tok = self.peek()
        if tok.kind == WORD and tok.literal in MODIFIERS and modifier_ahead(self, tok):
            # `! retry 3 cmd`, `time timeout 5s cmd`: the modifiers take the rest of the pipeline
            return ast.Pipeline(pos, [parse_modified(self)], negated, [], timed)
        commands = [self.parse_command()]
        stderr_too: list[bool] = []
        while self.peek().kind in ("|", "|&"):
            stderr_too.append(self.next().kind == "|&")
            self._skip_newlines()
            commands.append(self.parse_command())
        if len(commands) == 1 and not negated and not timed:
            return commands[0]
        return ast.Pipeline(pos, commands, negated, stderr_too, timed)

    # --- commands -----------------------------------------------------------------------

    def parse_command(self) -> ast.Command:
        tok = self.peek()
        if tok.kind == WORD:
            lit = tok.literal
            aliases = self.lx.aliases
            if aliases and lit in aliases and not self.lx.expanding(lit):  # type: ignore[operator]
                self.next()
                self.lx.push_alias(lit, aliases[lit])  # type: ignore[arg-type,index]
                command = self.parse_command()
                command.pos = self._pos(tok)  # where the user wrote it, not in the alias
                return command
            if lit is not None and lit in RESERVED:
                method = _COMPOUND.get(lit)
                if method is not None:
                    return self._with_redirects(method(self))
                if lit == "function":
                    return self._function_keyword()
                raise self._unexpected(tok)
            if lit == "await" and await_ahead(self, tok):
                return self._with_redirects(parse_await(self))
            return self._simple_command()
        if tok.kind == "(":
            if self.lx.peek_char() == "(":
                arith = self._try_arith_command(tok)
                if arith is not None:
                    return self._with_redirects(arith)
            return self._with_redirects(self._subshell())
        if tok.kind == REDIR:
            return self._simple_command()
        raise self._unexpected(tok)

    def _with_redirects(self, command: ast.Command) -> ast.Command:
        redirects = getattr(command, "redirects", None)
        if redirects is None:
            return command
        while self.peek().kind == REDIR:
            redirects.append(self._redirect(self.next()))
        return command

    def _simple_command(self) -> ast.Command:
        first = self.peek()
        pos = self._pos(first)
        previous = first
        task_timeout: tuple[Token] | None = None  # `task NAME timeout DUR {`: the NAME
        assignments: list[ast.Assignment] = []
        words: list[ast.Word] = []
        redirects: list[ast.Redirect] = []
        while True:
            tok = self.peek()
            if tok.kind == REDIR:
                redirects.append(self._redirect(self.next()))
            elif tok.kind == WORD:
                assert tok.word is not None
                if not words and _remote_hosts(tok.word) is not None:
                    return self._remote_command(pos, assignments, redirects)
                if not words and tok.literal == "@":
                    raise self.lx.error("a host pattern must follow `@' (as in @web1 uptime)", tok.offset)
                if words and self.lx.alias_blank:
                    # An alias ending in a blank: the next word is checked as well.
                    self.lx.alias_blank = False
                    lit = tok.literal
                    aliases = self.lx.aliases
                    if aliases and lit in aliases and not self.lx.expanding(lit):  # type: ignore[operator]
                        self.next()
                        self.lx.push_alias(lit, aliases[lit])  # type: ignore[arg-type,index]
                        continue
                if not words:
                    assignment = as_assignment(tok.word)
                    if assignment is not None:
                        self.next()
                        assignments.append(assignment)
                        continue
                self.next()
                words.append(tok.word)
                if len(words) == 1 and not assignments and not redirects and self.peek().kind == "(":
                    return self._function_def(tok)
                if first.literal == "task" and len(words) in (2, 4) and not assignments and not redirects:
                    after = self.peek()
                    if after.kind == WORD and after.literal == "{":
                        if len(words) == 2:
                            return self._task_block(pos, tok, None)
                        if task_timeout is not None:
                            check_duration(self, tok)
                            return self._task_block(pos, task_timeout[0], tok.word)
                if first.literal == "task" and len(words) == 3 and tok.literal == "timeout":
                    task_timeout = (previous,)
                previous = tok
            else:
                break
        return ast.SimpleCommand(pos, assignments, words, redirects)

    def _remote_command(
        self, pos: Pos, assignments: list[ast.Assignment], redirects: list[ast.Redirect]
    ) -> ast.RemoteCommand:
        """`@HOSTS cmd args` or `@HOSTS { script; }` (the `@` word is the next token)."""
        at_tok = self.next()
        assert at_tok.word is not None
        hosts = _remote_hosts(at_tok.word)
        assert hosts is not None
        nxt = self.peek()
        if nxt.kind == WORD and nxt.literal == "{" and not redirects:
            group = self._brace_group()
            end = self.last_end
            text = self.lx.text[nxt.offset + 1 : end - 1]
            while self.peek().kind == REDIR:
                redirects.append(self._redirect(self.next()))
            names = sorted({p.name for p in _walk_parts(group) if isinstance(p, ast.ParamSub) and is_name(p.name)})
            return ast.RemoteCommand(pos, assignments, hosts, [], text.strip(), names, redirects)
        words: list[ast.Word] = []
        while True:
            tok = self.peek()
            if tok.kind == REDIR:
                redirects.append(self._redirect(self.next()))
            elif tok.kind == WORD:
                assert tok.word is not None
                words.append(self.next().word)  # type: ignore[arg-type]
            else:
                break
        if not words:
            raise self.lx.error(f"`{at_tok.text}': a command or a {{ block }} must follow the hosts", tok.offset)
        return ast.RemoteCommand(pos, assignments, hosts, words, None, [], redirects)

    def _task_block(self, pos: Pos, name_tok: Token, timeout: ast.Word | None) -> ast.TaskBlock:
        """`task NAME [timeout DUR] { ...; }` (the `{` is the next token)."""
        name = name_tok.literal
        if name is None or not _is_task_name(name):
            raise self.lx.error(
                f"`{name_tok.text}': a task name is letters, digits and . _ - (as in task deploy-web {{ ... }})",
                name_tok.offset,
            )
        group = self._brace_group()
        return self._with_redirects(ast.TaskBlock(pos, name, timeout, group.body, []))  # type: ignore[return-value]

    def _redirect(self, tok: Token) -> ast.Redirect:
        op = tok.text
        pos = self._pos(tok)
        target_tok = self.peek()
        if target_tok.kind != WORD:
            raise self._unexpected(target_tok)
        self.next()
        word = target_tok.word
        assert word is not None
        if op in ("<<", "<<-"):
            if any(type(p) in (ast.CommandSub, ast.ArithSub) for p in word.parts):
                raise self.lx.error("a here-document delimiter cannot hold a command substitution", target_tok.offset)
            delimiter, quoted = _heredoc_delimiter(word)
            doc = ast.HereDoc(pos, delimiter, quoted, op == "<<-", None)
            self.lx.pending_heredocs.append(doc)
            return ast.Redirect(pos, op, tok.fd, doc, tok.fd_var)
        return ast.Redirect(pos, op, tok.fd, word, tok.fd_var)

    def _function_def(self, name_tok: Token) -> ast.FunctionDef:
        name = name_tok.literal
        if name is None or not _is_function_name(name):
            raise self.lx.error(f"`{name_tok.text}': not a valid function name", name_tok.offset)
        self.next()  # (
        self.expect(")", "expected `)' in function definition", name_tok.offset)
        body = self._function_body(name_tok)
        return ast.FunctionDef(self._pos(name_tok), name, body, self.last_end)

    def _function_keyword(self) -> ast.FunctionDef:
        kw = self.next()
        name_tok = self.next()
        name = name_tok.literal
        if name_tok.kind != WORD or name is None or not _is_function_name(name):
            raise self._unexpected(name_tok)
        if self.peek().kind == "(":
            self.next()
            self.expect(")", "expected `)' in function definition", name_tok.offset)
        body = self._function_body(name_tok)
        return ast.FunctionDef(self._pos(kw), name, body, self.last_end)

    def _function_body(self, name_tok: Token) -> ast.Command:
        self._skip_newlines()
        tok = self.peek()
        if tok.kind == EOF:
            raise self.lx.incomplete("function without a body", name_tok.offset)
        body = self.parse_command()
        if isinstance(body, ast.SimpleCommand):
            raise self.lx.error("a function body must be a compound command such as { ...; }", tok.offset)
        return body

    def _try_arith_command(self, tok: Token) -> ast.ArithCommand | None:
        """`((...))` at the start of a command, or None for `( (...) )`."""
        from fmsh.syntax.arith_parser import parse_double_paren

        expr = parse_double_paren(self.lx, self.lx.i + 1)
        if expr is None:
            return None
        self._peeked = None
        return ast.ArithCommand(self._pos(tok), expr, [])

    def _subshell(self) -> ast.Subshell:
        opening = self.next()
        body = self.parse_list(frozenset(), closing=")")
        if not body.commands:
            raise self._unexpected(self.peek())
        self.expect(")", "unterminated subshell `('", opening.offset, incomplete=True)
        return ast.Subshell(self._pos(opening), body, [])

    def _brace_group(self) -> ast.BraceGroup:
        opening = self.next()
        body = self._body(frozenset(["}"]), opening)
        self._expect_reserved("}", opening)
        return ast.BraceGroup(self._pos(opening), body, [])

    def _if(self) -> ast.If:
        opening = self.next()
        arms: list[ast.IfArm] = []
        else_body: ast.CommandList | None = None
        keyword = opening
        while True:
            condition = self._body(frozenset(["then"]), keyword)
            self._expect_reserved("then", keyword)
            body = self._body(frozenset(["elif", "else", "fi"]), keyword)
            arms.append(ast.IfArm(self._pos(keyword), condition, body))
            tok = self.peek()
            if tok.literal == "elif":
                keyword = self.next()
                continue
            if tok.literal == "else":
                keyword = self.next()
                else_body = self._body(frozenset(["fi"]), keyword)
            break
        self._expect_reserved("fi", opening)
        return ast.If(self._pos(opening), arms, else_body, [])

    def _while_until(self) -> ast.WhileUntil:
        opening = self.next()
        condition = self._body(frozenset(["do"]), opening)
        body = self._do_group(opening)
        return ast.WhileUntil(self._pos(opening), opening.literal == "until", condition, body, [])

    def _do_group(self, opening: Token) -> ast.CommandList:
        do = self._expect_reserved("do", opening)
        body = self._body(frozenset(["done"]), do)
        self._expect_reserved("done", opening)
        return body

    def _for(self) -> ast.Command:
        opening = self.next()
        if self.peek().kind == "(" and self.lx.peek_char() == "(":
            return self._for_arith(opening)
        var_tok = self.next()
        var = var_tok.literal
        if var_tok.kind != WORD:
            raise self._unexpected(var_tok)
        if var is None or not is_name(var):
            raise self.lx.error(f"`{var_tok.text}': not a valid identifier in for loop", var_tok.offset)
        words: list[ast.Word] | None = None
        self._skip_newlines()
        tok = self.peek()
        if tok.kind == WORD and tok.literal == "in":
            self.next()
            words = []
            while True:
                tok = self.peek()
                if tok.kind != WORD:
                    break
                self.next()
                assert tok.word is not None
                words.append(tok.word)
            if tok.kind in (";", NEWLINE):
                self.next()
            elif tok.kind != EOF:
                raise self._unexpected(tok)
        elif tok.kind == ";":
            self.next()
        body = self._do_group(opening)
        return ast.ForEach(self._pos(opening), var, words, body, [])

    def _for_arith(self, opening: Token) -> ast.ForArith:
        from fmsh.syntax.arith_parser import ArithParser

        self._peeked = None
        lx = self.lx
        lx.i += 1
        arith = ArithParser(lx)
        init = arith.parse_optional_until(";")
        cond = arith.parse_optional_until(";")
        step = arith.parse_optional_until("))")
        tok = self.peek()
        if tok.kind in (";", NEWLINE):
            self.next()
        self._skip_newlines()
        if self.peek().literal == "{":
            body_cmd = self._brace_group()
            body = ast.CommandList(body_cmd.pos, [body_cmd])
        else:
            body = self._do_group(opening)
        return ast.ForArith(self._pos(opening), init, cond, step, body, [])

    def _case(self) -> ast.Case:
        opening = self.next()
        subject_tok = self.next()
        if subject_tok.kind != WORD:
            raise self._unexpected(subject_tok)
        assert subject_tok.word is not None
        self._skip_newlines()
        in_tok = self.next()
        if in_tok.literal != "in":
            raise (
                self._unexpected(in_tok)
                if in_tok.kind != EOF
                else self.lx.incomplete("`case' without `in'", opening.offset)
            )
        arms: list[ast.CaseArm] = []
        while True:
            self._skip_newlines()
            tok = self.peek()
            if tok.literal == "esac":
                self.next()
                break
            if tok.kind == EOF:
                raise self.lx.incomplete("`case' without `esac'", opening.offset)
            arm_pos = self._pos(tok)
            if tok.kind == "(":
                self.next()
            patterns: list[ast.Word] = []
            while True:
                tok = self.next()
                if tok.kind != WORD:
                    raise self._unexpected(tok)
                assert tok.word is not None
                patterns.append(tok.word)
                sep = self.next()
                if sep.kind == ")":
                    break
                if sep.kind != "|":
                    raise self._unexpected(sep)
            body = self.parse_list(frozenset(["esac"]))
            tok = self.peek()
            terminator = ";;"
            if tok.kind in _CASE_TERMINATORS:
                terminator = self.next().kind
            elif tok.literal != "esac":
                raise (
                    self._unexpected(tok)
                    if tok.kind != EOF
                    else self.lx.incomplete("`case' without `esac'", opening.offset)
                )
            arms.append(ast.CaseArm(arm_pos, patterns, body, terminator))
        return ast.Case(self._pos(opening), subject_tok.word, arms, [])

    # --- [[ ]] --------------------------------------------------------------------------

    def _double_bracket(self) -> ast.DoubleBracket:
        opening = self.next()
        expr = self._bool_or()
        self._skip_newlines()
        tok = self.next()
        if tok.literal != "]]":
            raise self._unexpected(tok)
        return ast.DoubleBracket(self._pos(opening), expr, [])

    def _bool_or(self) -> ast.BoolExpr:
        left = self._bool_and()
        while self.peek().kind == "||":
            tok = self.next()
            self._skip_newlines()
            left = ast.BoolOr(self._pos(tok), left, self._bool_and())
        return left

    def _bool_and(self) -> ast.BoolExpr:
        left = self._bool_not()
        while self.peek().kind == "&&":
            tok = self.next()
            self._skip_newlines()
            left = ast.BoolAnd(self._pos(tok), left, self._bool_not())
        return left

    def _bool_not(self) -> ast.BoolExpr:
        self._skip_newlines()
        tok = self.peek()
        if tok.kind == WORD and tok.literal == "!":
            self.next()
            return ast.BoolNot(self._pos(tok), self._bool_not())
        return self._bool_primary()

    def _bool_primary(self) -> ast.BoolExpr:
        tok = self.next()
        pos = self._pos(tok)
        if tok.kind == "(":
            expr = self._bool_or()
            self._skip_newlines()
            close = self.next()
            if close.kind != ")":
                raise self._unexpected(close)
            return expr
        if tok.kind != WORD:
            raise self._unexpected(tok)
        assert tok.word is not None
        lit = tok.literal
        if lit == "]]":
            raise self._unexpected(tok)
        nxt = self.peek()
        if lit is not None and len(lit) == 2 and lit[0] == "-" and lit[1] in _UNARY_TESTS:
            if nxt.kind == WORD and nxt.literal != "]]":
                self.next()
                assert nxt.word is not None
                return ast.BoolUnary(pos, lit, nxt.word)
        op: str | None = None
        if nxt.kind == WORD and nxt.literal in _BINARY_TESTS:
            op = nxt.literal
        elif nxt.kind == REDIR and nxt.text in ("<", ">") and nxt.fd is None:
            op = nxt.text
        if op is None:
            return ast.BoolWord(pos, tok.word)
        self.next()
        if op == "=~":
            right = self.lx.words.read_regex_word()
        else:
            right_tok = self.next()
            if right_tok.kind != WORD or right_tok.literal == "]]":
                raise self.lx.error(f"expected an operand after `{op}'", right_tok.offset)
            assert right_tok.word is not None
            right = right_tok.word
        return ast.BoolBinary(pos, op, tok.word, right)


_COMPOUND = {
    "if": CommandParser._if,
    "while": CommandParser._while_until,
    "until": CommandParser._while_until,
    "for": CommandParser._for,
    "case": CommandParser._case,
    "{": CommandParser._brace_group,
    "[[": CommandParser._double_bracket,
}


def _remote_hosts(word: ast.Word) -> ast.Word | None:
    """The host pattern of a word that opens a remote stage (`@web1`, `@$h`), or None."""
    first = word.parts[0]
    if type(first) is not ast.Literal or not first.text.startswith("@"):
        return None
    rest = first.text[1:]
    parts = ([ast.Literal(first.pos, rest)] if rest else []) + word.parts[1:]
    return ast.Word(word.pos, parts) if parts else None


def _walk_parts(node: object) -> list[ast.WordPart]:
    """Every word part under a node (for the variables a remote block uses)."""
    found: list[ast.WordPart] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, ast.Node):
            if isinstance(item, ast.WordPart):
                found.append(item)
            stack.extend(getattr(item, f) for f in item._fields if f != "pos")
    return found


def _is_task_name(name: str) -> bool:
    return bool(name) and name[0] not in ".-" and all(c.isalnum() or c in "_.-" for c in name) and name.isascii()


def _is_function_name(name: str) -> bool:
    # bash accepts most words as function names; refuse only what would be ambiguous.
    return bool(name) and name not in RESERVED and not any(c in name for c in "$`'\"\\=/") and not name.isdigit()


def as_assignment(word: ast.Word) -> ast.Assignment | None:
    """`name=value`, `name+=value`, `name[i]=value` or `name=(...)`, else None."""
    first = word.parts[0]
    if type(first) is not ast.Literal:
        return None
    text = first.text
    eq = text.find("=")
    index: ast.Word | None = None
    if eq == -1:
        # name[...]=value, where the subscript may hold expansions: name[$i]=v
        bracket = text.find("[")
        if bracket <= 0 or not is_name(text[:bracket]):
            return None
        return _subscripted_assignment(word)
    name = text[:eq]
    append = name.endswith("+")
    if append:
        name = name[:-1]
    if "[" in name and name.endswith("]"):
        bracket = name.index("[")
        sub_text = name[bracket + 1 : -1]
        index = ast.Word(first.pos, [ast.Literal(first.pos, sub_text)])
        name = name[:bracket]
    if not is_name(name):
        return None
    rest = text[eq + 1 :]
    value_parts: list[ast.WordPart] = ([ast.Literal(first.pos, rest)] if rest else []) + word.parts[1:]
    value = ast.Word(word.pos, _assignment_tildes(value_parts))
    return ast.Assignment(word.pos, name, index, value, append)


def _subscripted_assignment(word: ast.Word) -> ast.Assignment | None:
    """name[...]=value where the subscript spans several parts."""
    first = word.parts[0]
    assert type(first) is ast.Literal
    bracket = first.text.index("[")
    name = first.text[:bracket]
    index_parts: list[ast.WordPart] = []
    head = first.text[bracket + 1 :]
    if head:
        index_parts.append(ast.Literal(first.pos, head))
    for k in range(1, len(word.parts)):
        part = word.parts[k]
        if type(part) is ast.Literal:
            close = part.text.find("]=")
            if close == -1 and part.text.find("]+=") == -1:
                index_parts.append(part)
                continue
            append = close == -1
            close = part.text.find("]+=") if append else close
            if close:
                index_parts.append(ast.Literal(part.pos, part.text[:close]))
            rest = part.text[close + (3 if append else 2) :]
            value_parts = ([ast.Literal(part.pos, rest)] if rest else []) + word.parts[k + 1 :]
            return ast.Assignment(
                word.pos, name, ast.Word(word.pos, index_parts), ast.Word(word.pos, value_parts), append
            )
        index_parts.append(part)
    return None


def _assignment_tildes(parts: list[ast.WordPart]) -> list[ast.WordPart]:
    """`~` after `=` or `:` in an assignment value expands, as in `PATH=~/bin:~/sbin`."""
    if not parts or type(parts[0]) is not ast.Literal or "~" not in parts[0].text:
        return parts
    first = parts[0]
    out: list[ast.WordPart] = []
    pieces = first.text.split(":")
    for k, piece in enumerate(pieces):
        if k:
            out.append(ast.Literal(first.pos, ":"))
        rest_of_word = k == len(pieces) - 1 and len(parts) > 1
        if piece.startswith("~"):
            user, slash, tail = piece[1:].partition("/")
            if slash or not rest_of_word:
                out.append(ast.Tilde(first.pos, user))
                if slash:
                    out.append(ast.Literal(first.pos, "/" + tail))
                continue
        if piece:
            out.append(ast.Literal(first.pos, piece))
    return out + parts[1:]


def _heredoc_delimiter(word: ast.Word) -> tuple[str, bool]:
    """The delimiter text with quotes removed, and whether any quoting was present."""
    out: list[str] = []
    quoted = False
    for part in word.parts:
        if type(part) is ast.Literal:
            out.append(part.text)
        elif type(part) is ast.SingleQuoted:
            out.append(part.text)
            quoted = True
        elif type(part) is ast.Escaped:
            out.append(part.text)
            quoted = True
        elif type(part) is ast.DoubleQuoted:
            quoted = True
            for inner in part.parts:
                out.append(_source_text(inner))
        else:
            out.append(_source_text(part))
    return "".join(out), quoted


def _source_text(part: ast.WordPart) -> str:
    """Best-effort text of a part, for here-doc delimiters such as `<<$x`."""
    if type(part) in (ast.Literal, ast.SingleQuoted, ast.Escaped):
        return part.text  # type: ignore[attr-defined]
    if type(part) is ast.ParamSub:
        return "${" + part.name + "}" if part.braced else "$" + part.name
    return ""
