"""The default timeouts, and where they come from.

Every remote step and every await that has no `timeout` of its own gets one of these, so
that nothing waits for ever by default. Each is found, first to last, in:

    the shell variable      FMSH_STEP_TIMEOUT=30s   (also `set -o step-timeout=30s`)
    the config file         [timeouts] step = "30s" (~/.config/fmsh/config.toml, or $FMSH_CONFIG)
    the built-in default    step 1h, connect 10s, await 10m

A duration of 0 (or `none`) in a variable or the file means no limit, as `timeout 0` does.

The most hosts one pattern may name (`@web[1-10000000]` is refused before it is expanded)
is found the same way: FMSH_MAX_HOSTS (also `set -o max-hosts=N`), `[limits] max-hosts`,
10000; 0 or `none` for no limit.

Sizes (FMSH_JOURNAL_OUTPUT, FMSH_CAPTURE_MAX) are bytes with an optional K, M or G.
"""

from __future__ import annotations

import os

from fmsh.runtime.durations import parse_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# setting -> (shell variable, key under [timeouts], default seconds)
TIMEOUTS: dict[str, tuple[str, str, float]] = {
    "step-timeout": ("FMSH_STEP_TIMEOUT", "step", 3600.0),
    "connect-timeout": ("FMSH_CONNECT_TIMEOUT", "connect", 10.0),
    "await-timeout": ("FMSH_AWAIT_TIMEOUT", "await", 600.0),
}

MAX_HOSTS = ("FMSH_MAX_HOSTS", "max-hosts", 10_000)  # variable, key under [limits], default

_loaded: dict[str, object] | None = None
_problem: str | None = None


class SettingError(Exception):
    """A setting's value is not what it must be; the message says which and where."""


def state_file(environ: Mapping[str, str | None], variable: str, name: str) -> str:
    """Where fmsh keeps a file of state (the journal, the history): the path the variable
    names, else $XDG_STATE_HOME/fmsh/NAME (default ~/.local/state/fmsh/NAME)."""
    explicit = environ.get(variable)
    if explicit:
        return explicit
    home = environ.get("HOME") or os.path.expanduser("~")
    state = environ.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
    return os.path.join(state, "fmsh", name)


def config_path() -> str:
    explicit = os.environ.get("FMSH_CONFIG")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "fmsh", "config.toml")


def config() -> dict[str, object]:
    """The config file's contents ({} when there is none). A file that cannot be read
    is reported once by `problem()` and then treated as empty."""
    global _loaded, _problem
    if _loaded is None:
        path = config_path()
        _loaded = {}
        try:
            with open(path, "rb") as f:
                import tomllib

                _loaded = tomllib.load(f)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            _problem = f"{path}: {getattr(e, 'strerror', None) or e} (the file is ignored)"
    return _loaded


def problem() -> str | None:
    """What was wrong with the config file, once; None afterwards."""
    global _problem
    found, _problem = _problem, None
    return found


def reload() -> None:
    """Forget the file (tests; a changed FMSH_CONFIG)."""
    global _loaded
    _loaded = None


def seconds(text: str, where: str) -> float | None:
    """A setting's duration in seconds; None for no limit (0 or `none`)."""
    text = text.strip()
    if text in ("none", "infinity"):
        return None
    value = parse_duration(text)
    if value is None:
        raise SettingError(f"{where}: `{text}': not a duration (as in 30s, 5m, 1h; 0 for no limit)")
    return value or None


def timeout(name: str, variable: str | None) -> float | None:
    """The value of the setting `name` (a key of TIMEOUTS), given the shell variable's
    value if it is set; None for no limit."""
    var, key, default = TIMEOUTS[name]
    if variable is not None and variable != "":
        return seconds(variable, var)
    section = config().get("timeouts")
    if isinstance(section, dict) and key in section:
        value = section[key]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) or None
        return seconds(str(value), f"{config_path()}: [timeouts] {key}")
    return default


def max_hosts(variable: str | None) -> int | None:
    """The most hosts a pattern may name, given FMSH_MAX_HOSTS's value if it is set; None
    for no limit. Raises SettingError for a value that is not a count."""
    name, key, default = MAX_HOSTS
    where = name
    value: object = variable
    if variable is None or variable == "":
        section = config().get("limits")
        if not isinstance(section, dict) or key not in section:
            return default
        value, where = section[key], f"{config_path()}: [limits] {key}"
    text = str(value).strip()
    if text == "none":
        return None
    if isinstance(value, bool) or not (text.isdigit() and text.isascii()):
        raise SettingError(f"{where}: `{text}': not a number of hosts (0 or none for no limit)")
    return int(text) or None


def size(value: str | None, variable: str, default: int) -> int:
    """A size setting's bytes, given the variable's value (None or empty: `default`).
    Raises SettingError for a value that is not a size."""
    if value is None or not value.strip():
        return default
    text = value.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    if not (number.isdigit() and number.isascii()):
        raise SettingError(f"{variable}={value}: not a size (as in 512K or 4M)")
    return int(number) * scale
