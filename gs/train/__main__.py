"""``python -m gs.train``: see :func:`gs.train.cli.main`."""

from gs.train.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
