"""Durable tasks: a script that touches remote hosts (or says `task NAME { }`) runs as a
task whose every step is journaled, so that it can be resumed after a crash.

    detect.py        is this program a task (decided from its text)
    start.py         begin a task; resume one; retry one from a step
    run.py           TaskRun: each step journaled before and after its effect, or replayed
    result.py        StepResult, what a step gave
    keys.py          deterministic step keys
    replay.py        matching a resumed script's steps with the journaled ones
    observations.py  the clock values a script read, replayed on resume
    environment.py   the starting environment, journaled without its secrets
    owner.py         who owns a task, and whether that owner is gone
    lease.py         the lease and its heartbeat thread
    recording.py     the sink that journals a remote stage's hosts and output
    views.py         `tasks` as text and JSON (`trace` is in fmsh/trace)
"""
