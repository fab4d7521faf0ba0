"""`python -m bench.etl [SCENARIO ...] [--rows N]`: run ETL scenarios alone and print their rows."""

from __future__ import annotations

import argparse
import asyncio
import json

from .scenarios import SCENARIOS, run_scenario


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.etl")
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS), help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reconcile", choices=["counts", "full", "off"], default="counts",
                        help="reconciliation after the run (full re-reads both sides for checksums)")
    args = parser.parse_args()
    for name in args.scenarios:
        for row in asyncio.run(run_scenario(name, args.rows, reconcile=args.reconcile)):
            print(json.dumps(row))


if __name__ == "__main__":
    main()
