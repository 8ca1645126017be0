"""The front end: source text to a typed AST. Nothing in here runs anything."""
