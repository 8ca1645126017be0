"""`hosts PATTERN...`: what a host pattern resolves to, before anything connects."""

from __future__ import annotations

from fmsh.builtins.base import Builtin, UsageError, parse_flags


class Hosts(Builtin):
    """One line per host: name, user, address, port, jump host, and where the settings
    came from: the inventory file and its section or group (`inv.toml [hosts.db1]`,
    `hosts.ini [web]`, `inventory.yml all.children.web`, `groups.yaml @web`; with several
    files, the one that wins first), then `ssh -G`. -j: JSON lines (with the vars)."""

    name = "hosts"

    def run(self, argv: list[str]) -> int:
        flags, patterns = parse_flags(argv, "j")
        if not patterns:
            raise UsageError("usage: hosts [-j] PATTERN...")
        remote = self.sh.remote
        rows: list[dict[str, object]] = []
        status = 0
        for pattern in patterns:
            for target in remote.targets(pattern.removeprefix("@")):
                config = target.config
                if config is None:
                    self.warn(f"{target.name}: {target.failure.message if target.failure else 'unknown'}")
                    status = 1
                    continue
                rows.append(
                    {
                        "name": target.name,
                        "user": config.user,
                        "address": config.hostname,
                        "port": config.port,
                        "jump": config.proxy_jump or "",
                        "source": config.source,
                        "vars": config.vars,
                    }
                )
        if flags.get("j"):
            import json

            for row in rows:
                self.write(json.dumps(row) + "\n")
            return status
        headers = ["NAME", "USER", "ADDRESS", "PORT", "JUMP", "SOURCE"]
        table = [headers] + [[str(row[h.lower()]) for h in headers] for row in rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
        for row_cells in table:
            self.write("  ".join(cell.ljust(w) for cell, w in zip(row_cells, widths, strict=True)).rstrip() + "\n")
        return status
