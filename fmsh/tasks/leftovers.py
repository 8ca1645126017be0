"""What a dead shell left running: the remote commands of the steps it had in flight.

A remote command has no terminal, so when the shell that started it is SIGKILLed, sshd
closes the session and nothing signals the command: it runs on. A resumed task would run
that step again while the first copy still runs. So, before a resumed task runs its
script, it stops, on each host, the process groups that its journal says were started and
are not known to have ended (table remote_processes) — each only when a live member of
the group still carries that try's marker (FMSH_ATTEMPT) in its environment, so that a
pid the host has since given to another process is left alone: TERM, then KILL after 2 s.
A host that cannot be reached keeps its rows: the step tries again just before it runs
again (the host may be back by then), and so does the next resume.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from fmsh.journal.records import ProcessRecord
    from fmsh.tasks.run import TaskRun

# $@: pairs of (process group, marker). Exit 0: nothing of ours was running; 3: stopped
# some; 4: some survived KILL. /proc/PID/stat's fields after the command name: state,
# ppid, pgrp. A zombie has an empty environ: it is not "running".
STOP_SCRIPT = r"""
ours() {
  for d in /proc/[0-9]*; do
    { read -r l < "$d/stat"; } 2>/dev/null || continue
    set -- "$1" "$2" ${l##*")"}
    [ "$5" = "$1" ] || continue
    tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -qxF "FMSH_ATTEMPT=$2" && return 0
  done
  return 1
}
status=0
while [ $# -ge 2 ]; do
  g=$1 m=$2
  shift 2
  ours "$g" "$m" || continue
  kill -TERM -"$g" 2>/dev/null
  n=0
  while [ $n -lt 20 ] && ours "$g" "$m"; do sleep 0.1; n=$((n + 1)); done
  if ours "$g" "$m"; then
    kill -KILL -"$g" 2>/dev/null
    sleep 0.2
  fi
  if ours "$g" "$m"; then status=4; elif [ $status = 0 ]; then status=3; fi
done
exit $status
"""

_STOPPED = 3
_SECONDS = 15.0  # to connect and stop, per host


def stop_leftovers(run: TaskRun, report: Callable[[str], None], seq: int | None = None) -> set[int]:
    """Stop the task's remote process groups (of step `seq` only, when given) that a dead
    shell may have left running. Never raises: what cannot be stopped now is reported;
    the steps it belongs to are returned (tried again before they run again)."""
    from fmsh.runtime.errors import ShellError

    try:
        left = [p for p in run.journal.open_processes(run.id) if seq is None or p.seq == seq]
    except ShellError as e:
        report(e.message)
        return set()
    if not left:
        return set()
    by_host: dict[str, list[ProcessRecord]] = {}
    for process in left:
        by_host.setdefault(process.host, []).append(process)
    # Every host gets every (group, marker) pair: the marker is unique to one try of one
    # step, so a group that carries it is this task's wherever it is found.
    argv = ["sh", "-c", STOP_SCRIPT, "fmsh-stop"]
    for process in left:
        argv += [str(process.pid), process.marker]
    try:
        targets = [t for host in by_host for t in run.sh.remote.targets(host)]
        results = run.sh.remote.probe(targets, argv, _SECONDS)
    except ShellError as e:
        report(f"task {run.id}: cannot stop what its dead shell left running: {e.message}")
        return {p.seq for p in left}
    from fmsh.remote.nodeset import fold

    stopped: dict[str, list[str]] = {}  # steps -> the hosts where they were stopped
    closed: list[ProcessRecord] = []
    unreached: set[int] = set()
    for result in results:
        processes = by_host.get(result.name, [])
        if not processes:
            continue
        steps = ", ".join(sorted({str(p.seq) for p in processes}, key=int))
        if result.kind is None or (result.kind == "exit" and result.status == _STOPPED):
            if result.status == _STOPPED:
                stopped.setdefault(steps, []).append(result.name)
            for process in processes:
                process.outcome = "stopped" if result.status else "gone"
            closed += processes
        else:
            unreached.update(p.seq for p in processes)
            why = result.message or result.kind or f"status {result.status}"
            report(
                f"task {run.id}: {result.name}: cannot stop step {steps}, which the dead shell may have left "
                f"running ({why}); tried again before the step runs again"
            )
    for steps, hosts in stopped.items():
        word = "steps" if "," in steps else "step"
        report(f"task {run.id}: stopped {word} {steps} on {fold(hosts)}, left running by the dead shell")
    try:
        for outcome in ("stopped", "gone"):
            done = [p for p in closed if p.outcome == outcome]
            if done:
                run.journal.close_processes(run.id, run.epoch, done, outcome)
    except ShellError as e:
        report(e.message)
    return unreached
