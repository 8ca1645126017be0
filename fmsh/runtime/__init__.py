"""The runtime: process-level state the evaluators act on (variables, descriptors,
processes, jobs, traps). Nothing here knows the AST."""
