"""Replication of the journal to a replica, and relocation from it (DESIGN.md §4).

Off by default. The modules:

- `litestream`: Litestream as a supervised child: config, replicate, sync, restore.
- `store`: the replica store: epochs, exclusive claims, heartbeats (file, sftp).
- `control`: the owner's side: claim, fence, heartbeat, sync after each step.
- `relocate`: the other machine's side: recover, standby, and `replicate status`.
- `commands`: `fmsh --recover`, `--standby`, `--replicate` (a thin click layer).
"""
