"""The chaos suite (issue 11): a seeded driver runs mixed task workloads against ten real
sshd hosts while it injects faults, resumes each task to its end, and checks that nothing
was lost or run twice. `test_chaos.py` is the bounded run; `tests/chaos/run` the long one."""
