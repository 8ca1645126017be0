#!/usr/bin/env python3
"""Print the value of each named environment variable, or None when unset."""

import os
import sys

for name in sys.argv[1:]:
    # Bytes, so values that are not UTF-8 come out unchanged.
    sys.stdout.buffer.write(os.environb.get(os.fsencode(name), b"None") + b"\n")
