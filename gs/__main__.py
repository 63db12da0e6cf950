"""``python -m gs``: see :func:`gs.cli.main` (``recover`` one photo)."""

from gs.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
