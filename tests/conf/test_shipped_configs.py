"""Every config the project ships validates: conf/ (gateway, APIs, ETL jobs) and bench/conf/."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.load import load_config
from gateway.etl.load import load_job

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_CONFIGS = [ROOT / "conf" / "gateway.yaml", *sorted((ROOT / "bench" / "conf").glob("*/gateway.yaml"))]
ETL_JOBS = sorted((ROOT / "conf" / "etl").glob("*.yaml"))


@pytest.mark.parametrize("path", GATEWAY_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_gateway_config_validates(path: Path) -> None:
    config = load_config(path)
    assert config.apis, f"{path} defines no API"


@pytest.mark.parametrize("path", ETL_JOBS, ids=lambda p: str(p.relative_to(ROOT)))
def test_etl_job_validates(path: Path) -> None:
    assert load_job(path).steps


def test_every_bench_scenario_dir_is_checked() -> None:
    assert len(GATEWAY_CONFIGS) >= 4 and len(ETL_JOBS) >= 3
