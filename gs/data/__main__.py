"""``python -m gs.data``: see :func:`gs.data.cli.main`."""

from gs.data.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
