"""`python -m arli`: the command line."""

from arli.cli import main

raise SystemExit(main())
