"""``python -m surge.demo``: see :mod:`surge.demo.server`."""
from .server import main

if __name__ == "__main__":
    raise SystemExit(main())
