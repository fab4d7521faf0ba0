"""`python -m gateway.etl ...`: the etl subcommands without the rest of `splp`."""

from __future__ import annotations

import argparse
import logging
import sys

from .cli import add_subcommands


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m gateway.etl")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["etl", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
