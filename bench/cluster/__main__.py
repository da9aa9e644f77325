"""``python -m bench.cluster``: see :mod:`bench.cluster.topology`."""

import sys

from bench.cluster.topology import main

sys.exit(main())
