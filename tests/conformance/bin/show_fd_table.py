#!/usr/bin/env python3
"""List this process's open file descriptors as 'FD TARGET' (Linux /proc)."""

import os

d = "/proc/self/fd"
for fd in os.listdir(d):
    try:
        target = os.readlink(os.path.join(d, fd))
    except OSError as e:  # the descriptor listdir itself used is gone by now
        target = str(e)
    print(fd, target)
