#!/usr/bin/env python3
"""Usage: stdout_stderr.py [OUT [ERR [STATUS]]]; prints OUT to stdout, ERR to stderr, exits STATUS."""

import os
import sys

args = [os.fsencode(a) for a in sys.argv[1:]]
# ERR goes first: the Python 2 original block-buffered stdout until exit, so on
# a shared pipe the corpus expects STDERR before STDOUT (pipeline.test.sh, |&).
sys.stderr.buffer.write((args[1] if len(args) > 1 else b"STDERR") + b"\n")
sys.stderr.flush()
sys.stdout.buffer.write((args[0] if len(args) > 0 else b"STDOUT") + b"\n")
sys.exit(int(args[2]) if len(args) > 2 else 0)
