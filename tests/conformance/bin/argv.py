#!/usr/bin/env python3
"""Print the arguments as a Python 2 style list: ['a', 'b c'], bytes escaped as \\xNN."""

import os
import sys

# The corpus was written against a Python 2 argv.py that printed byte strings,
# so non-ASCII shows as '\xce\xbc'; the repr of bytes minus its b prefix matches.
print("[" + ", ".join(repr(os.fsencode(a))[1:] for a in sys.argv[1:]) + "]")
