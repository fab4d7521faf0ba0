"""A transform_batch that takes its time, so a test can kill a run in the middle of a step."""

from __future__ import annotations

import os
import time
from typing import Any


def pause(rows: list[dict[str, Any]], ctx: Any) -> list[dict[str, Any]]:
    time.sleep(float(os.environ.get("ETL_TEST_PAUSE", "0.01")))
    return rows
