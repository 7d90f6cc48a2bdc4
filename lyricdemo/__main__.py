"""``python -m lyricdemo ...``: the command line, in ``lyricdemo.cli``."""

import sys

from .cli import FLAGS, build_parser, main, parse_args

__all__ = ["FLAGS", "build_parser", "main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main())
