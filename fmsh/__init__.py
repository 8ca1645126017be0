"""fmsh: a shell for people who run things on many machines.

The package is laid out the way data flows through it:

    syntax/    text -> tokens -> AST (lexer, word and command parsers, the AST)
    expand/    the word and arithmetic evaluators, shell patterns
    runtime/   the process-level state: variables, file descriptors, processes, jobs, traps
    interp/    the command evaluator that walks the AST
    builtins/  one small class per builtin command
    cli.py     the `fmsh` command line
"""

__version__ = "0.1.0"
