"""Where the gateway worker spends its time under load: py-spy samples it while wrk drives the passthrough path.

    python -m bench.profile [--scenario passthrough] [--seconds 10] [--top 15] [--client aiohttp|lean]

Needs py-spy (`pip install py-spy`; not a project dependency) and wrk. Prints the top functions by own
time (leaf samples) and by total time, and keeps the raw collapsed stacks in bench/results/.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from bench import scenarios, tools
from bench.loadgen import run_wrk
from bench.procs import LOAD_CPU, BenchError
from bench.targets import TARGETS, Context, start_upstream, verify

RESULTS = Path(__file__).parent / "results"
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def summarise(raw: str, top: int = 15) -> tuple[list[tuple[str, int]], list[tuple[str, int]], int]:
    """Collapsed stacks (`a;b;c N`) -> (own-time top, total-time top, total samples)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        count = int(match["count"])
        frames = match["stack"].split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    return own.most_common(top), total.most_common(top), samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="passthrough")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--target", default="gateway", choices=[name for name in TARGETS if name != "direct"])
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if not py_spy:
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 1
    found = tools.ensure_debian(["wrk", "nginx"])
    if not found["wrk"]:
        print("wrk is required", file=sys.stderr)
        return 1
    scenario = scenarios.get(args.scenario)
    RESULTS.mkdir(exist_ok=True)
    raw_path = RESULTS / f"profile-{args.target}-{scenario.name}.txt"
    with tempfile.TemporaryDirectory(prefix="splp-profile-") as tmp, ExitStack() as stack:
        ctx = Context(workdir=Path(tmp), scenario=scenario, tools=found)
        stack.callback(ctx.stop_all)
        start_upstream(ctx)
        target = TARGETS[args.target].start(ctx)
        verify(target, scenario)
        run_wrk(found["wrk"], target.base_url, scenario, connections=50, duration=2, cpus=LOAD_CPU)  # warm-up
        load = threading.Thread(
            target=run_wrk,
            args=(found["wrk"], target.base_url, scenario),
            kwargs={"connections": 50, "duration": args.seconds + 2, "cpus": LOAD_CPU},
        )
        load.start()
        record = [py_spy, "record", "--pid", str(target.server.pid), "--duration", str(args.seconds), "--rate",
                  "250", "--format", "raw", "--function", "--nonblocking", "--output", str(raw_path)]  # fmt: skip
        result = subprocess.run(record, capture_output=True, text=True, timeout=args.seconds + 60)
        load.join()
        if result.returncode != 0:
            raise BenchError(f"py-spy failed: {result.stderr.strip()}")
    own, total, samples = summarise(raw_path.read_text(), args.top)
    print(f"{args.target} worker under wrk -t1 -c50 ({scenario.name}), {args.seconds}s, {samples} samples")
    for title, rows in (("own time", own), ("total time (inclusive)", total)):
        print(f"\ntop {len(rows)} by {title}:")
        for frame, count in rows:
            print(f"  {count / samples * 100:5.1f}%  {frame}")
    print(f"\nraw stacks: {raw_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
