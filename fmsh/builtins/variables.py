"""Builtins that declare and change variables: `declare`/`typeset`, `local`, `export`,
`readonly`, `unset`, `shift`."""

from __future__ import annotations

from fmsh.builtins.base import Builtin, UsageError, parse_flags
from fmsh.interp.simple import ArrayValue
from fmsh.runtime.errors import ShellError
from fmsh.runtime.state import AssocArray, Cell, IndexedArray
from fmsh.syntax.word_parser import is_name


def _quote_value(value: str) -> str:
    """Double-quoted as bash's `declare -p` writes it."""
    escaped = "".join("\\" + c if c in '"\\$`' else c for c in value)
    return f'"{escaped}"'


def declaration(name: str, cell: Cell) -> str:
    """`declare -x NAME="value"`: how declare -p, export -p and readonly -p show a variable."""
    flags = ""
    value = cell.value
    if type(value) is IndexedArray:
        flags += "a"
    elif type(value) is AssocArray:
        flags += "A"
    if cell.integer:
        flags += "i"
    if cell.readonly:
        flags += "r"
    if cell.exported:
        flags += "x"
    head = f"declare -{flags or '-'} {name}"
    if value is None:
        return head
    if type(value) is IndexedArray:
        items = " ".join(f"[{k}]={_quote_value(value[k])}" for k in value.keys_in_order())
        return f"{head}=({items})"
    if type(value) is AssocArray:
        items = " ".join(f"[{k}]={_quote_value(v)}" for k, v in value.items())
        return f"{head}=({items} )" if items else f"{head}=()"
    return f"{head}={_quote_value(value)}"  # type: ignore[arg-type]


class _Declarer(Builtin):
    """What declare, local, export and readonly share: NAME[=VALUE] operands."""

    def declare_operand(self, operand: str | ArrayValue, local: bool, attributes: dict[str, str | bool]) -> bool:
        """Apply one operand; False (after a message) when it is not a valid name."""
        sh = self.sh
        vars_ = sh.vars
        if isinstance(operand, ArrayValue):
            name = operand.name
            if attributes.get("A") is True and (vars_.cell(name) is None or local):
                cell = vars_.declare_local(name) if local else self._global_cell(name)
                if type(cell.value) is not AssocArray:
                    cell.value = AssocArray()
            sh.cmd.simple.assign_array(name, operand.items, operand.append, local)
            self._set_attributes(name, attributes, local)
            return True
        name, op, value = _split_operand(operand)
        base = name.partition("[")[0]
        if not is_name(base) or ("[" in name and not name.endswith("]")):
            self.warn(f"`{operand}': not a valid identifier")
            return False
        if local:
            cell = vars_.declare_local(base)
        else:
            cell = vars_.cell(base) or self._global_cell(base)
        if attributes.get("a") is True and type(cell.value) is not IndexedArray:
            cell.value = IndexedArray({0: cell.value} if type(cell.value) is str else {})
        elif attributes.get("A") is True and type(cell.value) is not AssocArray:
            cell.value = AssocArray()
        if attributes.get("i") is True:
            cell.integer = True
        for letter in "ul":
            if attributes.get(letter) is True:
                cell.case = letter
            elif attributes.get(letter) is False and cell.case == letter:
                cell.case = ""
        if op:
            if cell.readonly:
                raise ShellError(f"{base}: readonly variable")
            if cell.integer:
                value = str(sh.arith.evaluate_text(value))
            elif cell.case:
                value = value.upper() if cell.case == "u" else value.lower()
            if "[" in name:
                key = sh.cmd.simple.subscript(base, _literal(name[len(base) + 1 : -1]))
                vars_.set_element(base, key, value, append=op == "+=")
            elif isinstance(cell.value, IndexedArray):
                cell.value[0] = (cell.value.get(0, "") + value) if op == "+=" else value
            elif isinstance(cell.value, AssocArray):
                cell.value["0"] = (cell.value.get("0", "") + value) if op == "+=" else value
            else:
                cell.value = (cell.value or "") + value if op == "+=" and cell.value is not None else value
        self._set_attributes(base, attributes, local)
        vars_.mark_env_dirty()
        return True

    def _global_cell(self, name: str) -> Cell:
        cell = self.sh.vars.globals.get(name)
        if cell is None:
            cell = self.sh.vars.globals[name] = Cell(None)
        return cell

    def _set_attributes(self, name: str, attributes: dict[str, str | bool], local: bool) -> None:
        cell = self.sh.vars.cell(name)
        if cell is None:
            return
        if "x" in attributes:
            cell.exported = bool(attributes["x"])
        if "i" in attributes and attributes["i"] is False:
            cell.integer = False
        if attributes.get("r") is True:
            cell.readonly = True
        self.sh.vars.mark_env_dirty()

    def print_variables(self, names: list[str], only: str = "") -> int:
        """`-p`: declarations of the given names (or every variable with the attribute)."""
        vars_ = self.sh.vars
        status = 0
        if not names:
            names = sorted(vars_.names())
            for name in names:
                cell = vars_.cell(name)
                if cell is None:
                    continue
                if only == "x" and not cell.exported or only == "r" and not cell.readonly:
                    continue
                self.write(declaration(name, cell) + "\n")
            return 0
        for name in names:
            cell = vars_.cell(name)
            if cell is None:
                self.warn(f"{name}: not found")
                status = 1
                continue
            self.write(declaration(name, cell) + "\n")
        return status


def _split_operand(operand: str) -> tuple[str, str, str]:
    """NAME, "=" / "+=" / "", VALUE."""
    eq = operand.find("=")
    bracket = operand.find("[")
    if bracket != -1 and (eq == -1 or bracket < eq):
        close = operand.find("]", bracket)
        if close != -1:
            eq = operand.find("=", close)
    if eq == -1:
        return operand, "", ""
    if eq > 0 and operand[eq - 1] == "+":
        return operand[: eq - 1], "+=", operand[eq + 1 :]
    return operand[:eq], "=", operand[eq + 1 :]


def _literal(text: str):  # type: ignore[no-untyped-def]
    from fmsh.syntax import ast

    return ast.Word(None, [ast.Literal(None, text)])  # type: ignore[arg-type]


class Declare(_Declarer):
    """`declare`/`typeset [-aAfFgilrux] [-p] [NAME[=VALUE]...]`."""

    name = "declare"

    def run(self, argv: list) -> int:
        flags, operands = parse_flags(argv, "aAfFgilnrtuxp+")
        sh = self.sh
        if flags.get("f") or flags.get("F"):
            return self._functions(operands, names_only=bool(flags.get("F")))
        if flags.get("p") or (not operands and not flags):
            return self.print_variables([o for o in operands if isinstance(o, str)])
        local = bool(sh.call_stack) and not flags.get("g")
        status = 0
        for operand in operands:
            if not self.declare_operand(operand, local, flags):
                status = 1
        return status

    def _functions(self, names: list[str], names_only: bool) -> int:
        functions = self.sh.functions
        status = 0
        for name in names or sorted(functions):
            function = functions.get(name)
            if function is None:
                status = 1
                continue
            if names_only:
                self.write(f"{name}\n" if names else f"declare -f {name}\n")
            else:
                self.write(function_text(function) + "\n")
        return status


def function_text(function) -> str:  # type: ignore[no-untyped-def]
    """A function's definition as it was written."""
    pos = function.pos
    text = pos.source.text[pos.offset : function.end]
    return text if text.startswith(function.name) or text.startswith("function") else f"{function.name} () {text}"


class Local(_Declarer):
    name = "local"

    def run(self, argv: list) -> int:
        if not self.sh.call_stack:
            raise ShellError("can only be used in a function")
        flags, operands = parse_flags(argv, "aAilrux+p")
        if flags.get("p") or not operands:
            return 0
        status = 0
        for operand in operands:
            if not self.declare_operand(operand, True, flags):
                status = 1
        return status


class Export(_Declarer):
    """`export [-n] [-p] [NAME[=VALUE]...]`."""

    name = "export"

    def run(self, argv: list) -> int:
        flags, operands = parse_flags(argv, "fnp")
        if flags.get("p") or not operands:
            return self.print_variables([], only="x")
        status = 0
        for operand in operands:
            if flags.get("n"):
                name = operand if isinstance(operand, str) else operand.name
                if self.sh.vars.cell(name) is not None:
                    self.sh.vars.export(name, False)
                continue
            if not self.declare_operand(operand, False, {"x": True}):
                status = 1
        return status


class Readonly(_Declarer):
    name = "readonly"

    def run(self, argv: list) -> int:
        flags, operands = parse_flags(argv, "aAfp")
        if flags.get("f"):
            for name in operands:
                if name not in self.sh.functions:
                    raise ShellError(f"{name}: not a function")
                self.sh.readonly_functions.add(name)
            return 0
        if flags.get("p") or not operands:
            return self.print_variables([], only="r")
        status = 0
        attributes: dict[str, str | bool] = {"r": True}
        if flags.get("a"):
            attributes["a"] = True
        if flags.get("A"):
            attributes["A"] = True
        for operand in operands:
            if not self.declare_operand(operand, False, attributes):
                status = 1
        return status


class Unset(Builtin):
    """`unset [-fv] NAME...`: variables (or array elements), else functions."""

    name = "unset"

    def run(self, argv: list[str]) -> int:
        flags, names = parse_flags(argv, "fvn")
        sh = self.sh
        status = 0
        for name in names:
            if flags.get("f"):
                if name in sh.readonly_functions:
                    raise ShellError(f"{name}: cannot unset: readonly function")
                sh.functions.pop(name, None)
                continue
            base, bracket, rest = name.partition("[")
            if not is_name(base) or (bracket and not rest.endswith("]")):
                self.warn(f"`{name}': not a valid identifier")
                status = 1
                continue
            if bracket:
                self._unset_element(base, rest[:-1])
                continue
            if not sh.vars.unset(base) and not flags.get("v"):
                sh.functions.pop(base, None)
        return status

    def _unset_element(self, name: str, index: str) -> None:
        cell = self.sh.vars.cell(name)
        if cell is None or cell.value is None:
            return
        if cell.readonly:
            raise ShellError(f"{name}: cannot unset: readonly variable")
        value = cell.value
        if type(value) is AssocArray:
            value.pop(index, None)
        elif type(value) is IndexedArray:
            key = self.sh.arith.evaluate_text(index)
            if key < 0:
                key += value.next_index()
            value.pop(key, None)
        elif index in ("0", "@", "*"):
            self.sh.vars.unset(name)


class Shift(Builtin):
    name = "shift"

    def run(self, argv: list[str]) -> int:
        if len(argv) > 2:
            raise UsageError("too many arguments")
        count = 1
        if len(argv) == 2:
            if not argv[1].isdigit():
                raise ShellError(f"{argv[1]}: numeric argument required")
            count = int(argv[1])
        positional = self.sh.positional
        if count > len(positional):
            return 1
        del positional[:count]
        return 0
