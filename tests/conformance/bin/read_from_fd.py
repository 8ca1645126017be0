#!/usr/bin/env python3
"""For each FD argument, print 'FD: ' and then up to 1024 bytes read from that descriptor."""

import os
import sys

for arg in sys.argv[1:]:
    fd = int(arg)
    try:
        data = os.read(fd, 1024)
    except OSError as e:
        print(f"FATAL: Error reading from fd {fd}: {e}", file=sys.stderr)
        sys.exit(1)
    # No newline of our own: the data (e.g. a here-doc) brings its own.
    sys.stdout.buffer.write(b"%d: " % fd + data)
