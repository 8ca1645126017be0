"""The builtin commands written in Python, by name. Each module is imported only when one
of its builtins first runs, so that start-up pays for none of them."""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fmsh.builtins.base import Builtin

# name -> "module:Class"
REGISTRY: dict[str, str] = {
    ":": "control:Colon",
    "true": "control:Colon",
    "false": "control:FalseBuiltin",
    "break": "control:Break",
    "continue": "control:Continue",
    "return": "control:Return",
    "exit": "control:Exit",
    "eval": "control:Eval",
    "source": "control:Source",
    ".": "control:Source",
    "exec": "control:Exec",
    "command": "control:Command",
    "builtin": "control:BuiltinCommand",
    "let": "control:Let",
    "echo": "echo:Echo",
    "printf": "printf:Printf",
    "read": "read:Read",
    "mapfile": "read:Mapfile",
    "readarray": "read:Mapfile",
    "export": "variables:Export",
    "readonly": "variables:Readonly",
    "unset": "variables:Unset",
    "local": "variables:Local",
    "declare": "variables:Declare",
    "typeset": "variables:Declare",
    "shift": "variables:Shift",
    "set": "options:Set",
    "shopt": "options:Shopt",
    "test": "test:Test",
    "[": "test:Test",
    "cd": "dirs:Cd",
    "pwd": "dirs:Pwd",
    "wait": "jobs:Wait",
    "jobs": "jobs:Jobs",
    "fg": "jobs:Fg",
    "bg": "jobs:Bg",
    "kill": "jobs:Kill",
    "trap": "jobs:Trap",
    "umask": "jobs:Umask",
    "times": "jobs:Times",
    "type": "lookup:Type",
    "hash": "lookup:Hash",
    "alias": "lookup:Alias",
    "unalias": "lookup:Unalias",
    "getopts": "getopts:Getopts",
    "hosts": "hosts:Hosts",
    "history": "history:History",
    "check": "check:Check",
    "tasks": "tasks:Tasks",
    "trace": "tasks:Trace",
    "log": "tasks:Log",
    "resume": "tasks:Resume",
    "cancel": "tasks:Cancel",
    "retry": "tasks:Retry",
    "forget": "tasks:Forget",
    "signal": "signal:Signal",
    "callback": "callback:Callback",
    "secret": "secret:Secret",
    "__lock": "stdlib:Lock",  # the primitives of the standard library (builtins/*.fmsh)
    "__unlock": "stdlib:Unlock",
    "__batches": "stdlib:Batches",
    "__in_task": "stdlib:InTask",
}


def load(name: str) -> type[Builtin] | None:
    spec = REGISTRY.get(name)
    if spec is None:
        return None
    module_name, class_name = spec.split(":")
    module = importlib.import_module(f"fmsh.builtins.{module_name}")
    cls: type[Builtin] = getattr(module, class_name)
    return cls
