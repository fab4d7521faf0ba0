"""Rounds -> medians -> rows (the latest.json shape) -> one readable table. Pure functions, no I/O but write_json."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen import LoadResult

ROW_KEYS = ("scenario", "target", "rps", "p50_ms", "p99_ms", "mb_per_s", "peak_rss_mb")
TARGET_ORDER = ("direct", "nginx", "fast-gateway", "lean", "gateway", "gateway-lean", "gateway-aiohttp")


@dataclass
class Measurements:
    """Everything measured for one (scenario, target) pair."""

    wrk: list[LoadResult] = field(default_factory=list)  # one per round, -c50
    c1: list[LoadResult] = field(default_factory=list)  # one per round, -c1 (gateway targets and direct only)
    locust: LoadResult | None = None
    peak_rss_mb: float | None = None
    proxy_cores: int | None = 1


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def build_rows(scenario: str, measured: dict[str, Measurements]) -> list[dict]:
    """One row per target, medians over rounds; gateway rows also carry added_p50_us against direct at -c1."""
    rows = []
    for target in sorted(measured, key=lambda t: (TARGET_ORDER.index(t) if t in TARGET_ORDER else 99, t)):
        m = measured[target]
        rps = _median([r.rps for r in m.wrk])
        row = {
            "scenario": scenario,
            "target": target,
            "rps": rps,
            "p50_ms": _median([r.p50_ms for r in m.wrk]),
            "p99_ms": _median([r.p99_ms for r in m.wrk]),
            "mb_per_s": _median([r.mb_per_s for r in m.wrk]),
            "peak_rss_mb": m.peak_rss_mb,
            "proxy_cores": m.proxy_cores,
            "rps_per_core": round(rps / m.proxy_cores, 1) if rps is not None and m.proxy_cores else None,
            "errors": sum(r.errors for r in m.wrk),
            "rounds": [{"rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms} for r in m.wrk],
            "c1_p50_ms": _median([r.p50_ms for r in m.c1]),
            "locust_rps": round(m.locust.rps, 1) if m.locust else None,
            "locust_p50_ms": m.locust.p50_ms if m.locust else None,
            "locust_p99_ms": m.locust.p99_ms if m.locust else None,
        }
        rows.append(row)
    direct_c1 = next((r["c1_p50_ms"] for r in rows if r["target"] == "direct"), None)
    for row in rows:
        if row["target"] != "direct" and row["c1_p50_ms"] is not None and direct_c1 is not None:
            row["added_p50_us"] = round((row["c1_p50_ms"] - direct_c1) * 1000)
    return rows


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _spread(row: dict) -> str:
    values = [r["rps"] for r in row.get("rounds", []) if r.get("rps") is not None]
    if len(values) < 2 or not row.get("rps"):
        return "-"
    return f"±{(max(values) - min(values)) / 2 / row['rps'] * 100:.0f}%"


def render_table(rows: list[dict], *, header: str = "") -> str:
    """A fixed-width table per scenario; `gw ÷ this` is the gateway's req/s over this target's, same run."""
    lines = [header] if header else []
    for scenario in dict.fromkeys(row["scenario"] for row in rows):
        group = [row for row in rows if row["scenario"] == scenario]
        load_rows = [row for row in group if "rps" in row and row.get("rps") is not None]
        etl_rows = [row for row in group if row.get("rows_per_s") is not None]
        gateway_rps = next((row["rps"] for row in load_rows if row["target"] == "gateway"), None)
        if load_rows:
            columns = ("target", "req/s/core", "spread", "p50 ms", "p99 ms", "MB/s", "RSS MB", "gw ÷ this",
                       "locust r/s", "locust p50", "c1 p50 ms", "added")  # fmt: skip
            table = [columns]
            for row in load_rows:
                ratio = f"{gateway_rps / row['rps']:.2f}x" if gateway_rps and row["rps"] else "-"
                added = f"+{row['added_p50_us']}µs" if row.get("added_p50_us") is not None else "-"
                table.append((
                    row["target"], _fmt(row.get("rps_per_core") or row["rps"]), _spread(row),
                    _fmt(row["p50_ms"], 2), _fmt(row["p99_ms"], 2), _fmt(row["mb_per_s"], 1),
                    _fmt(row["peak_rss_mb"], 1), ratio, _fmt(row.get("locust_rps")),
                    _fmt(row.get("locust_p50_ms"), 0), _fmt(row.get("c1_p50_ms"), 3), added,
                ))  # fmt: skip
            widths = [max(len(str(line[i])) for line in table) for i in range(len(columns))]
            lines.append(f"[{scenario}]")
            for i, line in enumerate(table):
                pairs = zip(line, widths, strict=True)
                cells = [str(c).ljust(w) if j == 0 else str(c).rjust(w) for j, (c, w) in enumerate(pairs)]
                lines.append("  ".join(cells).rstrip())
                if i == 0:
                    lines.append("  ".join("-" * w for w in widths))
        for row in load_rows:
            if row.get("errors"):
                errors = row["errors"]
                lines.append(f"  WARNING {row['target']}: {errors} non-2xx responses or socket errors under load")
        for row in etl_rows:
            lines.append(f"[{scenario}] {row['target']}: {_fmt(row['rows_per_s'])} rows/s, "
                         f"peak RSS {_fmt(row.get('peak_rss_mb'), 1)} MB")  # fmt: skip
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def normalise_etl_row(row: dict) -> dict:
    """An ETL row (scenario, target, rows_per_s, peak_rss_mb) with the load keys present as null."""
    return {key: row.get(key) for key in ROW_KEYS} | row


def write_json(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rows, indent=2) + "\n")
    tmp.replace(path)
