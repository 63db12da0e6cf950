import sys

from gs.paper.cli import main

sys.exit(main())
