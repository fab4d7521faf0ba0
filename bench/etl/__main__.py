"""`python -m bench.etl [SCENARIO ...] [--rows N]`: run ETL scenarios alone and print their rows."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from .scenarios import SCENARIOS, run_scenario


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.etl")
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS), help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--reconcile",
        choices=["counts", "full", "off"],
        default="counts",
        help="reconciliation after the run (full re-reads both sides for checksums)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the SPLP worker with py-spy into bench/results/profile-<scenario>.txt",
    )
    args = parser.parse_args()
    for name in args.scenarios:
        profile = None
        if args.profile:
            Path("bench/results").mkdir(parents=True, exist_ok=True)
            profile = f"bench/results/profile-{name}.txt"
        for row in asyncio.run(run_scenario(name, args.rows, reconcile=args.reconcile, profile=profile)):
            print(json.dumps(row))


if __name__ == "__main__":
    main()
