"""The faults the chaos driver injects: one small class per kind, each with `inject` and
`heal` (what a real incident's end would be: the host comes back, space is freed).

A fault acts on the run in progress (`Target`): the fmsh process, the lab's sshd hosts,
the journal's tmpfs, the workload's ledger directory.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from chaos.lab import ChaosLab


@dataclass
class Target:
    lab: ChaosLab
    fmsh: subprocess.Popen[bytes]
    ledger: Path
    rng: random.Random


class Fault:
    kind = ""
    needs_netns = False
    healed = False

    def inject(self, target: Target) -> str:
        """Do it; what was done, for the report."""
        raise NotImplementedError

    def heal(self, target: Target) -> None:
        pass

    def heal_once(self, target: Target) -> None:
        """`heal`, unless done already (the driver heals again after an error)."""
        if not self.healed:
            self.healed = True
            self.heal(target)


class KillFmsh(Fault):
    """SIGKILL of the shell that runs the task: its remote commands are left running."""

    kind = "kill-fmsh"

    def inject(self, target: Target) -> str:
        if target.fmsh.poll() is None:
            target.fmsh.send_signal(signal.SIGKILL)
        return f"SIGKILL fmsh {target.fmsh.pid}"


class _HostFault(Fault):
    def __init__(self) -> None:
        self.host = ""

    def pick(self, target: Target) -> str:
        self.host = target.rng.choice(target.lab.names)
        return self.host


class KillSshd(_HostFault):
    """SIGKILL of a host's sshd and its sessions (the commands with them): the host dies."""

    kind = "kill-sshd"

    def inject(self, target: Target) -> str:
        target.lab.server(self.pick(target)).kill_all()
        return f"SIGKILL sshd of {self.host}"

    def heal(self, target: Target) -> None:
        target.lab.server(self.host).start()


class StopSshd(_HostFault):
    """SIGSTOP of a host's sshd processes (not its commands): the host stops answering."""

    kind = "stop-sshd"

    def inject(self, target: Target) -> str:
        target.lab.server(self.pick(target)).freeze(signal.SIGSTOP)
        return f"SIGSTOP sshd of {self.host}"

    def heal(self, target: Target) -> None:
        target.lab.server(self.host).freeze(signal.SIGCONT)


class RestartSshd(_HostFault):
    """The listening sshd stops (SIGTERM: its sessions go on) and starts again."""

    kind = "restart-sshd"

    def inject(self, target: Target) -> str:
        target.lab.server(self.pick(target)).stop()
        return f"sshd of {self.host} stopped"

    def heal(self, target: Target) -> None:
        target.lab.server(self.host).start()


class CutOff(_HostFault):
    """A host in a network namespace loses its link: nothing reaches it, nothing comes back."""

    kind = "cut-off"
    needs_netns = True

    def inject(self, target: Target) -> str:
        self.host = target.rng.choice(sorted(target.lab.namespaces))
        target.lab.namespaces[self.host].link(False)
        return f"link of {self.host} down"

    def heal(self, target: Target) -> None:
        target.lab.namespaces[self.host].link(True)


class DiskFull(Fault):
    """The journal's filesystem (a small tmpfs) fills up."""

    kind = "disk-full"

    def inject(self, target: Target) -> str:
        self.filler = target.lab.journal_dir / "filler"
        written = 0
        with open(self.filler, "wb", buffering=0) as f:
            block = b"\0" * (1 << 16)
            try:
                while True:
                    written += f.write(block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
        return f"journal disk full ({written >> 10} KiB filler)"

    def heal(self, target: Target) -> None:
        os.unlink(self.filler)


class SlowOutput(Fault):
    """The workload's commands slow down: 0.3 s more between lines."""

    kind = "slow-output"

    def inject(self, target: Target) -> str:
        (target.ledger / "slow").touch()
        return "output slowed"

    def heal(self, target: Target) -> None:
        (target.ledger / "slow").unlink(missing_ok=True)


KINDS: list[type[Fault]] = [KillFmsh, KillSshd, StopSshd, RestartSshd, CutOff, DiskFull, SlowOutput]


def available(lab: ChaosLab) -> list[type[Fault]]:
    return [k for k in KINDS if not k.needs_netns or lab.namespaces]
