"""`python -m bench [--smoke] [...]`: see bench.cli."""

from bench.cli import main

raise SystemExit(main())
