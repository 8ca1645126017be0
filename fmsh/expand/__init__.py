"""The evaluators of words and arithmetic, and shell patterns."""
