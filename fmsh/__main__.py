"""`python -m fmsh`: the same entry point as the `fmsh` console command."""

import sys

from fmsh.cli import main

sys.exit(main())
