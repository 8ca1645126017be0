"""Tracing and reports: what ran where, when, and what failed.

    model.py     the trace document: one task read from the journal, as plain data
                 (the JSON of `trace --json`, described by schema.json)
    tree.py      the document as a text tree, a fan-out's hosts folded by outcome
    follow.py    `trace --follow`: the tree redrawn while the task runs
    html.py      the document as one self-contained HTML page
    timeline.py  the page's timeline: a row per step and host, a bar per attempt and try
    markup.py    what html.py and timeline.py share: escaping, durations, times
    spans.py     the document as a tree of spans, plain data with derived ids
    otel.py      the spans as OpenTelemetry's, and as an OTLP/JSON file (optional: `fmsh[otel]`)
    otlp.py      a small OTLP/HTTP client that sends them to a collector

Data flows one way: journal → model → a view. No view reads the journal.
"""
