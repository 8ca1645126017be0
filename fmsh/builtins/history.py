"""`history`: the command lines typed at the prompt, from the shared SQLite history
(fmsh/repl/history.py), in every session of the user."""

from __future__ import annotations

from fmsh.builtins.base import Builtin, UsageError, parse_flags
from fmsh.runtime.errors import ShellError


class History(Builtin):
    """`history [-l] [-j] [N]`: the last N command lines (all without N), oldest first,
    each with its number; -l adds when it started, its status, duration and directory;
    -j: one JSON object a line. `history -c` forgets them all."""

    name = "history"

    def run(self, argv: list[str]) -> int:
        from fmsh.repl.history import HistoryError, HistoryStore, history_path, history_variables

        flags, operands = parse_flags(argv, "clj")
        if len(operands) > 1 or (operands and not operands[0].isdigit()):
            raise UsageError("usage: history [-l] [-j] [N] | history -c")
        store = HistoryStore(history_path(history_variables(self.sh)))
        try:
            if flags.get("c"):
                store.clear()
                return 0
            rows = store.entries(int(operands[0]) if operands else None)
        except HistoryError as e:
            raise ShellError(f"history: {e}") from None
        if flags.get("j"):
            import json

            self.write("".join(json.dumps(row) + "\n" for row in rows))
        elif flags.get("l"):
            self.write("".join(_long(row) for row in rows))
        else:
            self.write("".join(f"{row['id']:5}  {_one_line(row['command'])}\n" for row in rows))
        return 0


def _one_line(command: str) -> str:
    # A multi-line command keeps its shape, indented under its number.
    return command.replace("\n", "\n       ")


def _long(row: dict[str, object]) -> str:
    import time

    started = row["started_at"]
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, float) else "?"
    status = "" if row["status"] is None else str(row["status"])
    duration = row["duration"]
    took = f"{duration:.3f}s" if isinstance(duration, float) else ""
    return f"{row['id']:5}  {when}  {status:>3}  {took:>9}  {row['cwd'] or ''}  {_one_line(str(row['command']))}\n"
