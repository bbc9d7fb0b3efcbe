"""`python -m jobsvc.cli`: the `jobsvc` command."""

import sys

from jobsvc.cli import main

sys.exit(main())
