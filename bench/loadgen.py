"""Load generators: wrk (headline req/s and latency) and locust (a second, Python-side opinion).

Each run is bounded in time (wrk -d, locust --run-time, plus a subprocess timeout) and only ever
targets 127.0.0.1.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.procs import BenchError, pinned
from bench.scenarios import Scenario

LOCUSTFILE = Path(__file__).parent / "locustfile.py"

_TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_SIZE_UNITS = {"B": 1 / 1024**2, "KB": 1 / 1024, "MB": 1.0, "GB": 1024.0, "TB": 1024.0**2}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_TRANSFER = re.compile(r"^Transfer/sec:\s+([\d.]+)(B|KB|MB|GB|TB)", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", re.M)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", re.M)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True, slots=True)
class LoadResult:
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    mb_per_s: float | None = None
    requests: int = 0
    errors: int = 0  # non-2xx/3xx responses plus socket errors (wrk) or failures (locust)


def parse_wrk(text: str) -> LoadResult:
    """Parses `wrk --latency` output; raises ValueError when it has no Requests/sec line."""
    rps = _RPS.search(text)
    if rps is None:
        raise ValueError(f"not wrk output (no Requests/sec line):\n{text[-1000:]}")
    percentiles = {int(p): float(value) * _TIME_UNITS[unit] for p, value, unit in _PERCENTILE.findall(text)}
    transfer = _TRANSFER.search(text)
    total = _TOTAL.search(text)
    non_2xx = _NON_2XX.search(text)
    socket_errors = _SOCKET_ERRORS.search(text)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    return LoadResult(
        rps=float(rps.group(1)),
        p50_ms=percentiles.get(50),
        p99_ms=percentiles.get(99),
        mb_per_s=round(float(transfer.group(1)) * _SIZE_UNITS[transfer.group(2)], 3) if transfer else None,
        requests=int(total.group(1)) if total else 0,
        errors=errors,
    )


def run_wrk(
    wrk: str, base_url: str, scenario: Scenario, *, connections: int, duration: float, cpus: str | None
) -> LoadResult:
    seconds = max(1, round(duration))
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    script = scenario.wrk_lua()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script or "")
    try:
        if script:
            command += ["-s", handle.name]
        command.append(base_url + scenario.url_path)
        result = subprocess.run(pinned(command, cpus), capture_output=True, text=True, timeout=seconds + 30)
    finally:
        os.unlink(handle.name)
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
    return parse_wrk(result.stdout)


def parse_locust_csv(path: Path) -> LoadResult:
    """Reads the Aggregated row of locust's `<prefix>_stats.csv`."""
    with open(path, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("Name") == "Aggregated"]
    if not rows:
        raise ValueError(f"{path}: no Aggregated row")
    row = rows[-1]

    def number(key: str) -> float | None:
        value = row.get(key, "")
        return float(value) if value not in ("", "N/A") else None

    return LoadResult(
        rps=number("Requests/s") or 0.0,
        p50_ms=number("50%"),
        p99_ms=number("99%"),
        requests=int(number("Request Count") or 0),
        errors=int(number("Failure Count") or 0),
    )


def run_locust(
    base_url: str, scenario: Scenario, *, users: int, duration: float, cpus: str | None, workdir: Path
) -> LoadResult:
    prefix = workdir / f"locust-{scenario.name}"
    seconds = max(1, round(duration))
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base_url,
        "-u", str(users), "-r", str(users), "--run-time", f"{seconds}s", "--stop-timeout", "2",
        "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR", "--exit-code-on-error", "0",
    ]  # fmt: skip
    env = {**os.environ, "SPLP_BENCH_SCENARIO": scenario.name, "PYTHONPATH": str(Path(__file__).parent.parent)}
    result = subprocess.run(pinned(command, cpus), capture_output=True, text=True, env=env, timeout=seconds + 60)
    stats = Path(f"{prefix}_stats.csv")
    if result.returncode != 0 or not stats.exists():
        raise BenchError(f"locust failed ({result.returncode}):\n{result.stderr.strip()[-2000:]}")
    return parse_locust_csv(stats)
