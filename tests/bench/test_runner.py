"""The bench runner's pure parts: output parsing, medians/ratios, the latest.json shape, the registries.

No load is generated here (benchmarks are not tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report, runner, scenarios, targets
from bench.loadgen import LoadResult, parse_locust_csv, parse_wrk
from bench.procs import read_vm_hwm_kb
from bench.upstream.server import BODY, RESPONSE

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]


# ---- wrk and locust output ---------------------------------------------------------------------------------


def test_parse_wrk_c50_sample():
    result = parse_wrk((DATA / "wrk_c50.txt").read_text())
    assert result == LoadResult(rps=5505.73, p50_ms=9.73, p99_ms=24.59, mb_per_s=0.546, requests=17080, errors=0)


def test_parse_wrk_microsecond_percentiles_and_kilobytes():
    result = parse_wrk((DATA / "wrk_c1.txt").read_text())
    assert result.p50_ms == pytest.approx(0.298)
    assert result.p99_ms == pytest.approx(4.89)
    assert result.mb_per_s == pytest.approx(305.84 / 1024, abs=0.001)
    assert result.requests == 2269


def test_parse_wrk_counts_non_2xx_as_errors():
    result = parse_wrk((DATA / "wrk_non2xx.txt").read_text())
    assert result.errors == 11901
    assert result.rps == 11813.73


def test_parse_wrk_counts_socket_errors():
    text = (
        (DATA / "wrk_c50.txt")
        .read_text()
        .replace("Requests/sec:", "  Socket errors: connect 0, read 3, write 0, timeout 2\nRequests/sec:")
    )
    assert parse_wrk(text).errors == 5


def test_parse_wrk_rejects_other_output():
    with pytest.raises(ValueError, match="not wrk output"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_parse_locust_csv_reads_the_aggregated_row():
    result = parse_locust_csv(DATA / "locust_stats.csv")
    assert result.rps == pytest.approx(8929.68, abs=0.01)
    assert (result.p50_ms, result.p99_ms, result.requests, result.errors) == (3.0, 8.0, 26857, 0)


def test_parse_locust_csv_without_aggregated_row(tmp_path):
    path = tmp_path / "x_stats.csv"
    path.write_text("Type,Name,Request Count\nGET,passthrough,1\n")
    with pytest.raises(ValueError, match="no Aggregated row"):
        parse_locust_csv(path)


# ---- medians, ratios, table, json --------------------------------------------------------------------------


def _result(rps: float, p50: float, p99: float = 9.0) -> LoadResult:
    return LoadResult(rps=rps, p50_ms=p50, p99_ms=p99, mb_per_s=1.0)


def _measured() -> dict[str, report.Measurements]:
    return {
        "gateway": report.Measurements(
            wrk=[_result(4000, 10), _result(5000, 9), _result(100, 50)],
            c1=[_result(1, 0.300), _result(1, 0.350), _result(1, 0.310)],
            locust=LoadResult(rps=1800.4, p50_ms=24, p99_ms=60),
            peak_rss_mb=53.4,
        ),
        "direct": report.Measurements(
            wrk=[_result(60000, 0.5), _result(70000, 0.4), _result(65000, 0.6)],
            c1=[_result(1, 0.020), _result(1, 0.030), _result(1, 0.025)],
            proxy_cores=None,
        ),
        "lean": report.Measurements(wrk=[_result(8000, 6), _result(8000, 6), _result(8000, 6)], peak_rss_mb=40.0),
    }


def test_build_rows_takes_medians_and_orders_targets():
    rows = report.build_rows("passthrough", _measured())
    assert [row["target"] for row in rows] == ["direct", "lean", "gateway"]
    gateway = rows[2]
    assert gateway["rps"] == 4000  # median, so the 100 req/s outlier round does not drag it down
    assert gateway["p50_ms"] == 10
    assert gateway["rps_per_core"] == 4000
    assert gateway["c1_p50_ms"] == 0.31
    assert gateway["added_p50_us"] == 285  # 0.310 - 0.025 ms
    assert gateway["locust_rps"] == 1800.4
    assert len(gateway["rounds"]) == 3
    direct = rows[0]
    assert direct["peak_rss_mb"] is None and direct["rps_per_core"] is None
    assert "added_p50_us" not in direct
    assert "added_p50_us" not in rows[1]  # lean has no -c1 measurement


def test_latest_json_shape(tmp_path):
    rows = report.build_rows("passthrough", _measured())
    rows.append(
        report.normalise_etl_row({"scenario": "etl-csv", "target": "etl", "rows_per_s": 1e5, "peak_rss_mb": 80})
    )
    path = tmp_path / "results" / "latest.json"
    report.write_json(rows, path)
    loaded = json.loads(path.read_text())
    assert isinstance(loaded, list) and len(loaded) == 4
    for row in loaded:
        assert set(report.ROW_KEYS) <= set(row)
        assert row["target"] in ("gateway", "lean", "nginx", "fast-gateway", "direct", "gateway-lean", "etl")  # noqa: E501
    etl = loaded[-1]
    assert etl["rps"] is None and etl["mb_per_s"] is None and etl["rows_per_s"] == 1e5


def test_render_table_ratios_and_etl_line():
    rows = report.build_rows("passthrough", _measured())
    rows.append(
        report.normalise_etl_row({"scenario": "etl-csv", "target": "etl", "rows_per_s": 1e5, "peak_rss_mb": 80})
    )
    text = report.render_table(rows, header="hdr")
    lines = text.splitlines()
    assert lines[0] == "hdr" and lines[1] == "[passthrough]"
    by_target = {line.split()[0]: line for line in lines[4:7]}
    assert "0.50x" in by_target["lean"]  # gateway 4000 / lean 8000
    assert "1.00x" in by_target["gateway"] and "+285µs" in by_target["gateway"]
    assert "0.06x" in by_target["direct"]
    assert "[etl-csv] etl: 100,000 rows/s, peak RSS 80.0 MB" in text


# ---- registries, configs, nginx ----------------------------------------------------------------------------


def test_scenario_registry():
    passthrough = scenarios.get("passthrough")
    assert passthrough.url_path == "/bench/v1/hello"
    assert passthrough.expect_body == BODY
    assert passthrough.wrk_lua() is None
    known = ", ".join(sorted(scenarios.SCENARIOS))
    assert "passthrough" in known
    with pytest.raises(KeyError, match=f"unknown scenario 'nope'; known: {known}"):
        scenarios.get("nope")


def test_scenario_wrk_lua_for_a_body():
    upload = scenarios.Scenario("upload", "x", scenarios.CONF_DIR, method="POST", body=b'{"a":"\n"}',
                                headers=(("content-type", "application/json"),))  # fmt: skip
    assert upload.wrk_lua() == (
        'wrk.method = "POST"\nwrk.body = "{\\34a\\34:\\34\\10\\34}"\nwrk.headers["content-type"] = "application/json"\n'
    )


@pytest.mark.parametrize("name", sorted(scenarios.SCENARIOS))
def test_every_bench_config_validates(name):
    splp = Path(sys.executable).parent / "splp"
    result = subprocess.run([str(splp), "check", str(scenarios.SCENARIOS[name].conf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_client_variants(tmp_path):
    from gateway.config.model import UpstreamDefaults

    conf = scenarios.get("passthrough").conf
    assert targets.configured_client(conf) == UpstreamDefaults.model_fields["client"].default  # names none
    for client in ("lean", "aiohttp"):
        variant = targets.client_variant(conf, tmp_path, client)
        assert variant.name == f"gateway-{client}"
        assert targets.configured_client(variant) == client


def test_nginx_conf_keeps_everything_under_its_prefix(tmp_path):
    proxy = targets.nginx_conf(tmp_path, 18081, proxy_to="http://127.0.0.1:18080")
    assert "server 127.0.0.1:18080;" in proxy and "keepalive 256;" in proxy
    assert 'proxy_set_header Connection "";' in proxy and "listen 127.0.0.1:18081" in proxy
    for line in proxy.splitlines():
        if "_path " in line or line.startswith(("pid ", "error_log ")):
            assert str(tmp_path) in line
    assert "/etc/nginx" not in proxy and "/var/" not in proxy
    fixed = targets.nginx_conf(tmp_path, 18080, body=b'{"it\'s":1}')
    assert "return 200 '{\"it\\'s\":1}';" in fixed
    with pytest.raises(ValueError):
        targets.nginx_conf(tmp_path, 1)


def test_target_registry_and_args():
    assert list(targets.TARGETS) == [
        "direct", "nginx", "lean", "fast-gateway", "gateway", "gateway-passthrough", "gateway-lean",
        "gateway-aiohttp",
    ]  # fmt: skip
    args = runner.parse_args(["--scenario", "passthrough etl-x", "--targets", "gateway,direct", "--rounds", "1"])
    assert args.scenarios == ["passthrough", "etl-x"] and args.target_names == ["gateway", "direct"]
    with pytest.raises(SystemExit):
        runner.parse_args(["--targets", "apache"])
    with pytest.raises(SystemExit):
        runner.parse_args(["--scenario", "nope"])


def test_passthrough_baseline_runs_beside_policy_scenarios_only(tmp_path):
    baseline = targets.TARGETS["gateway-passthrough"]

    def context(name: str) -> targets.Context:
        return targets.Context(workdir=tmp_path, scenario=scenarios.get(name), tools={}, log=print)

    assert baseline.unavailable(context("passthrough")) == "the scenario is passthrough itself (that is `gateway`)"
    assert baseline.unavailable(context("jwt")) is None


async def test_etl_hook_reports_not_available(monkeypatch, capsys):
    import bench

    monkeypatch.setattr(bench, "etl", None, raising=False)
    monkeypatch.setitem(sys.modules, "bench.etl", None)  # import raises ModuleNotFoundError(name="bench.etl")
    assert await runner.run_etl_scenario("etl-csv", 10) == []
    assert "etl-csv: not available" in capsys.readouterr().out


async def test_etl_hook_merges_rows(monkeypatch):
    import types

    module = types.ModuleType("bench.etl")

    async def run_scenario(name, rows):
        return [{"scenario": name, "target": "etl", "rows_per_s": rows * 2.0, "peak_rss_mb": 10.0}]

    module.run_scenario = run_scenario
    monkeypatch.setitem(sys.modules, "bench.etl", module)
    rows = await runner.run_etl_scenario("etl-csv", 10)
    assert rows == [{"scenario": "etl-csv", "target": "etl", "rps": None, "p50_ms": None, "p99_ms": None,
                     "mb_per_s": None, "peak_rss_mb": 10.0, "rows_per_s": 20.0}]  # fmt: skip


async def test_etl_hook_turns_a_failure_into_a_bench_error(monkeypatch):
    import types

    from bench.procs import BenchError

    module = types.ModuleType("bench.etl")

    async def run_scenario(name, rows):
        raise ValueError(f"unknown ETL scenario {name!r}")

    module.run_scenario = run_scenario
    monkeypatch.setitem(sys.modules, "bench.etl", module)
    with pytest.raises(BenchError, match="etl-nope: bench.etl.run_scenario failed: ValueError: unknown ETL scenario"):
        await runner.run_etl_scenario("etl-nope", 10)


# ---- small helpers -----------------------------------------------------------------------------------------


def test_read_vm_hwm(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t  900 kB\nVmHWM:\t   54321 kB\nVmRSS:\t  40000 kB\n")
    assert read_vm_hwm_kb(status) == 54321
    assert read_vm_hwm_kb(tmp_path / "missing") is None


def test_upstream_response_is_a_complete_keep_alive_answer():
    head, _, body = RESPONSE.partition(b"\r\n\r\n")
    assert body == BODY
    assert f"content-length: {len(BODY)}".encode() in head and head.startswith(b"HTTP/1.1 200 OK")


def test_profile_summary_own_and_total_time():
    from bench.profile import summarise

    raw = "main (a.py:1);run (b.py:2);send (c.py:3) 6\nmain (a.py:1);run (b.py:2) 3\nmain (a.py:1);parse (d.py:4) 1\n"
    own, total, samples = summarise(raw, top=2)
    assert samples == 10
    assert own == [("send (c.py:3)", 6), ("run (b.py:2)", 3)]
    assert total[0] == ("main (a.py:1)", 10) and total[1] == ("run (b.py:2)", 9)


def test_micro_chain_runs_a_scenario_chain():
    import uvloop

    from bench.micro.chain import measure

    micros, policies, statuses = uvloop.run(measure("throttle-memory", 50))
    assert policies == 1 and statuses == {200} and micros > 0
