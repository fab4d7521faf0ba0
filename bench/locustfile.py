"""Locust load for the bench scenarios: one user class that sends the request of SPLP_BENCH_SCENARIO.

The runner calls it headless against each target (`--host http://127.0.0.1:PORT`); to run it by hand:

    SPLP_BENCH_SCENARIO=passthrough locust -f bench/locustfile.py --headless --host http://127.0.0.1:8000 \
        -u 50 -r 50 --run-time 10s
"""

from __future__ import annotations

import os

from locust import FastHttpUser, task

from bench.scenarios import get

SCENARIO = get(os.environ.get("SPLP_BENCH_SCENARIO", "passthrough"))


class ScenarioUser(FastHttpUser):
    """No wait time: every user sends its next request as soon as the previous answer arrives (like wrk)."""

    @task
    def request(self) -> None:
        with self.client.request(
            SCENARIO.method,
            SCENARIO.url_path,
            data=SCENARIO.body or None,
            headers=dict(SCENARIO.headers) or None,
            name=SCENARIO.name,
            catch_response=True,
        ) as response:
            if response.status_code != SCENARIO.expect_status:
                response.failure(f"status {response.status_code}")
