"""Tracing and reports: what ran where, when, and what failed.

    model.py     the trace document: one task read from the journal, as plain data
                 (the JSON of `trace --json`, described by schema.json)
    tree.py      the document as a text tree, a fan-out's hosts folded by outcome
    follow.py    `trace --follow`: the tree redrawn while the task runs
    html.py      the document as one self-contained HTML page with a timeline
    otel.py      the document as OpenTelemetry spans (optional: `fmsh[otel]`)

Data flows one way: journal → model → a view. No view reads the journal.
"""
