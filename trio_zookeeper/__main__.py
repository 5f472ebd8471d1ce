"""``python -m trio_zookeeper``: the command-line tool (see :mod:`trio_zookeeper._cli`)."""

from __future__ import annotations

import sys

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
