"""ETL benchmark scenarios; the main runner (bench/runner.py) calls run_scenario for names etl-*."""

from __future__ import annotations

from .scenarios import SCENARIOS, run_scenario

__all__ = ["SCENARIOS", "run_scenario"]
