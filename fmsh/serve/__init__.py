"""`fmsh --serve` (also `fmsh serve`): the HTTP endpoint that brings events from outside
into the journal — POSTs to callback URLs, and named signals for tasks.

    endpoint.py   what each request means: routes, tokens, body limits, the journal call
    server.py     the HTTP plumbing: threads, TLS, time limits, the access log
    command.py    the command line (a thin click layer)

All its state is in the journal, so any number of `serve` processes, on any machines
that share or replicate the journal, can answer the same URLs: the journal's
transactions make each callback's delivery happen at most once.
"""
