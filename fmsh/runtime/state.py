"""Shell variables (with function scopes), arrays, and the option flags.

Values are `str` for scalars, `IndexedArray` (a sparse int-keyed dict) and `AssocArray`
for bash arrays, or None for a variable that is declared but unset (`local x`).
Scoping is dynamic, as in bash: a function sees its callers' locals.
"""

from __future__ import annotations

from fmsh.runtime.errors import ShellError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


class IndexedArray(dict[int, str]):
    """`a=(x y z)`: sparse, iterated in index order."""

    def values_in_order(self) -> list[str]:
        return [self[k] for k in sorted(self)]

    def keys_in_order(self) -> list[int]:
        return sorted(self)

    def next_index(self) -> int:
        return max(self) + 1 if self else 0


class AssocArray(dict[str, str]):
    """`declare -A m`: keys in insertion order."""

    def values_in_order(self) -> list[str]:
        return list(self.values())

    def keys_in_order(self) -> list[str]:
        return list(self)


class Cell:
    """One variable: its value and attributes."""

    __slots__ = ("value", "exported", "readonly", "integer", "case")

    def __init__(self, value: str | IndexedArray | AssocArray | None, exported: bool = False) -> None:
        self.value = value
        self.exported = exported
        self.readonly = False
        self.integer = False
        self.case = ""  # "u" or "l": declare -u / -l change assigned values


class Variables:
    """The variable store: a global scope and one scope per active function call."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.globals: dict[str, Cell] = {name: Cell(value, True) for name, value in environ.items()}
        self.scopes: list[dict[str, Cell]] = [self.globals]
        self.dynamic: dict[str, Callable[[], str]] = {}
        self.on_assign: dict[str, Callable[[str | None], None]] = {}
        self.allexport = False
        self._env_cache: dict[str, str] | None = None

    # --- lookup -------------------------------------------------------------------------

    def cell(self, name: str) -> Cell | None:
        scopes = self.scopes
        for k in range(len(scopes) - 1, -1, -1):
            cell = scopes[k].get(name)
            if cell is not None:
                return cell
        return None

    def get(self, name: str) -> str | None:
        """The scalar value (an array's element 0), or None when unset."""
        cell = self.cell(name)
        if cell is None:
            getter = self.dynamic.get(name)
            return getter() if getter is not None else None
        value = cell.value
        if isinstance(value, str):
            if name in self.dynamic:
                return self.dynamic[name]()
            return value
        if value is None:
            return None
        if isinstance(value, IndexedArray):
            return value.get(0)
        return value.get("0")

    def is_set(self, name: str) -> bool:
        cell = self.cell(name)
        return (cell is not None and cell.value is not None) or (cell is None and name in self.dynamic)

    # --- assignment ---------------------------------------------------------------------

    def _target_cell(self, name: str, local: bool) -> Cell:
        scope = self.scopes[-1] if local else None
        if scope is None:
            cell = self.cell(name)
            if cell is not None:
                return cell
            scope = self.globals
        cell = scope.get(name)
        if cell is None:
            cell = scope[name] = Cell(None, self.allexport)
        return cell

    def set(self, name: str, value: str, local: bool = False, append: bool = False) -> None:
        cell = self._target_cell(name, local)
        if cell.readonly:
            raise ShellError(f"{name}: readonly variable")
        old = cell.value
        if cell.case:
            value = value.upper() if cell.case == "u" else value.lower()
        if isinstance(old, IndexedArray):
            # Assigning a scalar to an array sets element 0, as bash does.
            old[0] = (old.get(0, "") + value) if append else value
        elif isinstance(old, AssocArray):
            old["0"] = (old.get("0", "") + value) if append else value
        else:
            cell.value = (old or "") + value if append and old is not None else value
        if self.allexport:
            cell.exported = True
        if cell.exported:
            self._env_cache = None
        hook = self.on_assign.get(name)
        if hook is not None:
            hook(value)

    def set_array(self, name: str, value: IndexedArray | AssocArray, local: bool = False) -> None:
        cell = self._target_cell(name, local)
        if cell.readonly:
            raise ShellError(f"{name}: readonly variable")
        cell.value = value
        if cell.exported:
            self._env_cache = None

    def set_element(self, name: str, key: int | str, value: str, append: bool = False) -> None:
        cell = self._target_cell(name, False)
        if cell.readonly:
            raise ShellError(f"{name}: readonly variable")
        array = cell.value
        if isinstance(array, str):
            array = IndexedArray({0: array})
        elif array is None:
            array = AssocArray() if isinstance(key, str) else IndexedArray()
        if isinstance(array, IndexedArray):
            index = int(key)
            if index < 0:
                index += array.next_index()
                if index < 0:
                    raise ShellError(f"{name}[{key}]: bad array subscript")
            array[index] = array.get(index, "") + value if append else value
        else:
            skey = str(key)
            array[skey] = array.get(skey, "") + value if append else value
        cell.value = array
        if cell.exported:
            self._env_cache = None

    def declare_local(self, name: str) -> Cell:
        """Create (or find) `name` in the innermost scope, unset unless it was there."""
        scope = self.scopes[-1]
        cell = scope.get(name)
        if cell is None:
            cell = scope[name] = Cell(None)
            if self.allexport:
                cell.exported = True
        return cell

    def unset(self, name: str) -> bool:
        """Remove the visible binding of `name` (a local shadows: bash unsets the local)."""
        scopes = self.scopes
        for k in range(len(scopes) - 1, -1, -1):
            cell = scopes[k].get(name)
            if cell is not None:
                if cell.readonly:
                    raise ShellError(f"{name}: cannot unset: readonly variable")
                if k == 0:
                    del scopes[k][name]
                else:
                    # A local stays declared but unset: the global does not show through.
                    cell.value = None
                if cell.exported:
                    self._env_cache = None
                hook = self.on_assign.get(name)
                if hook is not None:
                    hook(None)
                return True
        return False

    def export(self, name: str, flag: bool = True) -> None:
        cell = self.cell(name)
        if cell is None:
            cell = self.globals[name] = Cell(None)
        cell.exported = flag
        self._env_cache = None

    def mark_env_dirty(self) -> None:
        self._env_cache = None

    # --- scopes -------------------------------------------------------------------------

    def push_scope(self, scope: dict[str, Cell] | None = None) -> None:
        self.scopes.append({} if scope is None else scope)

    def pop_scope(self) -> None:
        scope = self.scopes.pop()
        if any(cell.exported for cell in scope.values()):
            self._env_cache = None

    # --- environment --------------------------------------------------------------------

    def environ(self) -> dict[str, str]:
        """Exported scalars, for child processes. Cached until an exported value changes."""
        if self._env_cache is None:
            env: dict[str, str] = {}
            for scope in self.scopes:
                for name, cell in scope.items():
                    if cell.exported and type(cell.value) is str:
                        env[name] = cell.value
                    elif name in env and not cell.exported:
                        del env[name]
            self._env_cache = env
        return self._env_cache

    def names(self) -> Iterator[str]:
        seen: set[str] = set()
        for scope in reversed(self.scopes):
            for name in scope:
                if name not in seen:
                    seen.add(name)
                    yield name


_HOT_OPTIONS = frozenset(["errexit", "nounset", "xtrace", "pipefail", "noglob", "noclobber", "noexec"])


class Options:
    """`set -o` options and the `shopt` options fmsh honours."""

    # set -o name -> single-letter flag shown in $-
    SET_OPTIONS = {
        "allexport": "a", "errexit": "e", "noglob": "f", "hashall": "h", "monitor": "m",
        "noclobber": "C", "noexec": "n", "nounset": "u", "verbose": "v", "xtrace": "x",
        "pipefail": "", "ignoreeof": "", "posix": "", "vi": "", "emacs": "",
        "interactive-comments": "", "braceexpand": "B", "notify": "b", "errtrace": "E",
        "functrace": "T", "privileged": "p", "onecmd": "t", "physical": "P", "history": "",
        "keyword": "k", "nolog": "",
    }  # fmt: skip
    SHOPT_OPTIONS = (
        "lastpipe", "nullglob", "failglob", "dotglob", "extglob", "nocaseglob", "nocasematch",
        "expand_aliases", "inherit_errexit", "globstar", "xpg_echo", "sourcepath",
        "globskipdots", "checkhash", "execfail",
    )  # fmt: skip

    def __init__(self) -> None:
        self.values: dict[str, bool] = {name: False for name in self.SET_OPTIONS}
        self.values.update(braceexpand=True, hashall=True, **{"interactive-comments": True})
        self.shopt: dict[str, bool] = {name: False for name in self.SHOPT_OPTIONS}
        # lastpipe: `cmd | while read x; do n=$x; done` sets n in this shell, as in ksh
        # and zsh (bash needs `shopt -s lastpipe` for that).
        self.shopt.update(sourcepath=True, globskipdots=True, lastpipe=True)
        self.interactive = False
        # Hot flags are plain attributes: they are read on every command.
        self.errexit = False
        self.nounset = False
        self.xtrace = False
        self.pipefail = False
        self.noglob = False
        self.noclobber = False
        self.noexec = False

    def set(self, name: str, on: bool) -> None:
        if name not in self.values:
            raise ShellError(f"set: {name}: invalid option name", status=2)
        self.values[name] = on
        if name in _HOT_OPTIONS:
            setattr(self, name, on)

    def by_letter(self, letter: str) -> str | None:
        for name, flag in self.SET_OPTIONS.items():
            if flag == letter:
                return name
        return None

    def flags(self) -> str:
        """The value of `$-`."""
        out = "".join(flag for name, flag in self.SET_OPTIONS.items() if flag and self.values.get(name))
        if self.interactive:
            out += "i"
        return out
