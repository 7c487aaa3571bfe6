"""``python -m engine``: the same as ``cachelab-server``."""

import sys

from engine.cli import main

sys.exit(main())
