"""Tasks that any machine of a fleet may run: `fmsh --submit` puts a task in a queue of
the journal, and `fmsh --worker` processes, on any number of machines that share the
journal (an rqlite cluster: FMSH_JOURNAL=rqlite://...), claim and run them.

    submit.py    a script or a command line, made a queued task
    worker.py    the worker: claims, runs each task as `fmsh --resume ID`, takes over
                 the tasks of a worker whose lease expired
    command.py   the command line (a thin click layer)

Fleet-wide limits on what runs at once are the journal's locks: `lock -n N NAME` (see
builtins/lock.fmsh) holds one of N slots across every machine that shares the journal.
"""
