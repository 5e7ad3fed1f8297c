"""``python -m tests.soak``: see :mod:`tests.soak.run` (``--help`` for the options)."""

import sys

from tests.soak.run import main

sys.exit(main())
