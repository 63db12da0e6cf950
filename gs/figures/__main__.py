import sys

from gs.figures.cli import main

sys.exit(main())
