"""Remote stages over SSH: the only part of fmsh that speaks SSH.

    nodeset.py      host patterns (`web[01-20]!web07`, groups, user@ and :port) to hosts
    inventory.py    fmsh's inventory file: hosts, groups, per-host settings and vars
    sshconfig.py    a host's SSH settings, as `ssh -G` answers them
    known_hosts.py  host key checking against OpenSSH's known_hosts files
    pool.py         one SSH connection per host, kept and reused; ProxyJump; auth
    run.py          a command on N hosts: channels, streams, signals, statuses
    output.py       what a fan-out prints: live lines, gathered, JSON, progress, summary
    failures.py     why a host failed: the failure classes

paramiko and ClusterShell are imported here only, and only when a remote stage runs.
"""
