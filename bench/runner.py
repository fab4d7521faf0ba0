"""`python -m bench`: the same load against the gateway and reference proxies, interleaved, medians of rounds.

    python -m bench --scenario passthrough [--duration 10] [--rounds 3] [--targets gateway,lean,direct]

For each scenario: start the upstream (core 1) and every target (core 0), verify each answers the expected
200 and body, warm each up, then run `wrk -t1 -c50` against each target in turn, rotating the order every
round; `wrk -t1 -c1` against the gateway targets and direct (added latency); one locust run per target.
Results: a table on stdout and bench/results/latest.json. Every server runs in its own process group and
is killed on exit, error or Ctrl-C. Scenarios named etl-* are delegated to bench.etl.run_scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench import media, scenarios, tools
from bench.loadgen import run_locust, run_wrk
from bench.procs import LOAD_CPU, BenchError
from bench.report import Measurements, build_rows, normalise_etl_row, render_table, write_json
from bench.targets import TARGETS, Context, Running, start_upstream, verify

RESULTS = Path(__file__).parent / "results" / "latest.json"
C1_TARGETS = ("direct", "gateway", "gateway-lean", "gateway-aiohttp")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="passthrough", help="space- or comma-separated scenario names")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk -c50 run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported (default 3)")
    parser.add_argument("--targets", default="", help=f"comma-separated subset of: {', '.join(TARGETS)}")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load per target before measuring")
    parser.add_argument("--c1-duration", type=float, default=None, help="seconds per wrk -c1 run (default duration/2)")
    parser.add_argument("--locust-duration", type=float, default=5.0, help="seconds per locust run; 0 skips locust")
    parser.add_argument("--locust-users", type=int, default=50)
    parser.add_argument("--connections", type=int, default=50, help="wrk connections for the headline run")
    parser.add_argument("--etl-rows", type=int, default=100_000, help="rows for etl-* scenarios")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results path")
    args = parser.parse_args(argv)
    args.scenarios = [name for name in args.scenario.replace(",", " ").split() if name]
    args.target_names = [name for name in args.targets.replace(",", " ").split() if name] or list(TARGETS)
    unknown = [name for name in args.target_names if name not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    for name in args.scenarios:
        if not name.startswith("etl-") and name not in scenarios.SCENARIOS and name not in media.SCENARIOS:
            known = ", ".join([*scenarios.SCENARIOS, *media.SCENARIOS])
            parser.error(f"unknown scenario {name!r}; known: {known} (and etl-*)")
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_load_scenario(scenario: scenarios.Scenario, args: argparse.Namespace, found: dict) -> list[dict]:
    measured: dict[str, Measurements] = {}
    with tempfile.TemporaryDirectory(prefix=f"splp-bench-{scenario.name}-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        ctx = Context(workdir=workdir, scenario=scenario, tools=found, log=log)
        stack.callback(ctx.stop_all)  # kills every server started, on success, error or Ctrl-C
        upstream = start_upstream(ctx)
        log(f"{scenario.name}: upstream {upstream.name} at {ctx.upstream_url} (core {LOAD_CPU})")

        running: list[Running] = []
        for name in args.target_names:
            spec = TARGETS[name]
            reason = spec.unavailable(ctx)
            if reason:
                log(f"{scenario.name}: target {name} skipped: {reason}")
                continue
            target = spec.start(ctx)
            verify(target, scenario)
            running.append(target)
            measured[name] = Measurements(proxy_cores=target.proxy_cores)
            log(f"{scenario.name}: {name} at {target.base_url} answers {scenario.expect_status} as expected")
        if not running:
            raise BenchError(f"{scenario.name}: no target to measure")

        wrk = found["wrk"]
        for target in running:
            run_wrk(wrk, target.base_url, scenario, connections=args.connections, duration=args.warmup, cpus=LOAD_CPU)
        c1_duration = args.c1_duration or max(2.0, args.duration / 2)
        for round_no in range(args.rounds):
            shift = round_no % len(running)
            for target in running[shift:] + running[:shift]:
                result = run_wrk(wrk, target.base_url, scenario, connections=args.connections,
                                 duration=args.duration, cpus=LOAD_CPU)  # fmt: skip
                measured[target.name].wrk.append(result)
                errors = f", {result.errors} ERRORS" if result.errors else ""
                log(f"round {round_no + 1}/{args.rounds} {target.name}: {result.rps:,.0f} req/s, "
                    f"p50 {result.p50_ms} ms, p99 {result.p99_ms} ms{errors}")  # fmt: skip
                if target.name in C1_TARGETS:
                    result = run_wrk(wrk, target.base_url, scenario, connections=1, duration=c1_duration, cpus=LOAD_CPU)
                    measured[target.name].c1.append(result)
                    log(f"round {round_no + 1}/{args.rounds} {target.name} -c1: p50 {result.p50_ms} ms")
        if args.locust_duration > 0:
            for target in running:
                result = run_locust(target.base_url, scenario, users=args.locust_users,
                                    duration=args.locust_duration, cpus=LOAD_CPU, workdir=workdir)  # fmt: skip
                measured[target.name].locust = result
                log(f"locust {target.name}: {result.rps:,.0f} req/s, p50 {result.p50_ms} ms, failures {result.errors}")
        for target in running:
            if target.server:
                measured[target.name].peak_rss_mb = target.server.peak_rss_mb()
    return build_rows(scenario.name, measured)


async def run_etl_scenario(name: str, rows: int) -> list[dict]:
    """Delegates to bench.etl.run_scenario(name, rows) when that module exists (it belongs to the ETL side)."""
    try:
        module = importlib.import_module("bench.etl")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench.etl", "bench"):
            raise
        module = None
    run_scenario = getattr(module, "run_scenario", None)
    if run_scenario is None:
        print(f"{name}: not available (bench.etl.run_scenario does not exist yet)")
        return []
    try:
        return [normalise_etl_row(row) for row in await run_scenario(name, rows)]
    except Exception as exc:  # the ETL side's failure: reported, and the other scenarios' results are kept
        raise BenchError(f"{name}: bench.etl.run_scenario failed: {type(exc).__name__}: {exc}") from exc


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # stop like Ctrl-C: every ExitStack kills its servers
    load_scenarios = [name for name in args.scenarios if not name.startswith("etl-") and name not in media.SCENARIOS]
    media_scenarios = [name for name in args.scenarios if name in media.SCENARIOS]
    rows: list[dict] = []
    media_rows: list[dict] = []
    failed: list[str] = []
    started = time.monotonic()
    try:
        found: dict[str, str | None] = {}
        if media_scenarios:
            found = tools.ensure_debian(["nginx"], log=log)
        if load_scenarios:
            found = tools.ensure_debian(["wrk", "nginx"], log=log)
            if not found["wrk"]:
                raise BenchError("wrk is required (apt-get install -y wrk)")
            if "fast-gateway" in args.target_names:
                found["node"] = shutil.which("node") if tools.ensure_fast_gateway(log=log) else None
        for name in args.scenarios:
            try:
                if name.startswith("etl-"):
                    rows += asyncio.run(run_etl_scenario(name, args.etl_rows))
                elif name in media.SCENARIOS:
                    media_rows += media.run_scenario(name, args.rounds, found, log)
                else:
                    rows += run_load_scenario(scenarios.get(name), args, found)
            except BenchError as exc:
                failed.append(name)
                print(f"bench failed: {exc}", file=sys.stderr)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench interrupted; all servers stopped", file=sys.stderr)
        return 130
    header = ""
    if load_scenarios:
        header = (
            f"SPLP bench: wrk -t1 -c{args.connections} -d{args.duration:g}s, {args.rounds} interleaved rounds, "
            "medians; proxy pinned to core 0, wrk + upstream to core 1; 'c1' = wrk -t1 -c1; "
            "'added' = c1 p50 minus direct's"
        )
    if rows:
        print(render_table(rows, header=header))
    if media_rows:
        print(media.render(media_rows))
    if rows or media_rows:
        write_json(rows + media_rows, args.output)
        log(f"wrote {args.output} in {time.monotonic() - started:.0f}s")
    if failed:
        print(f"bench: {len(failed)} scenario(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
