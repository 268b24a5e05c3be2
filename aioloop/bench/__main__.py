"""``python -m aioloop.bench`` is ``python -m aioloop bench``."""

import sys

from .cli import main

sys.exit(main())
