import sys

from gs.sweep.cli import main

sys.exit(main())
