"""The dashboard page in a real headless Chromium (Debian's chromium + chromedriver, via Selenium): sign in
with a control-API account, and the panels show what real calls through a gateway produced. A screenshot
is kept under var/test-artifacts/ (or $SPLP_TEST_ARTIFACTS). Skips without chromium outside CI; fails in CI.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.gateway.conftest import api, running_gateway
from tests.gateway.control.conftest import PASSWORD, Control
from tests.servers import EchoUpstream, free_port, serve
from tests.services import in_ci

ROOT = Path(__file__).resolve().parents[3]


def browser_paths() -> tuple[str, str]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        message = "Debian's chromium and chromium-driver are not installed (make browser)"
        if in_ci():
            pytest.fail(f"{message}; .ci/run must install them")
        pytest.skip(message)
    return chromium, driver


def drive(base: str, chromium: str, driver: str, screenshot: Path) -> dict[str, Any]:
    """Blocking Selenium work (run in a thread: the servers live on the test's event loop)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1900"):  # fmt: skip
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        wait = WebDriverWait(browser, 20)
        browser.get(f"{base}/dashboard")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Dashboard Monitoring"
        browser.find_element(By.ID, "username").send_keys("root")
        browser.find_element(By.ID, "password").send_keys("wrong password")
        browser.find_element(By.ID, "signin-button").click()
        wait.until(lambda b: b.find_element(By.ID, "signin-error").text)
        refused = browser.find_element(By.ID, "signin-error").text
        browser.find_element(By.ID, "password").clear()
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "signin-button").click()
        wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-loaded"))

        def rows(table: str) -> list[list[str]]:  # read in one script: a refresh may rebuild the table
            script = (
                f"return [...document.querySelectorAll('#{table} tbody tr')]"
                ".map(r => [...r.cells].map(c => c.textContent))"
            )
            result: list[list[str]] = browser.execute_script(script)
            return result

        def loaded() -> str:
            return str(browser.find_element(By.TAG_NAME, "body").get_attribute("data-loaded"))

        seen = {
            "refused": refused,
            "tenants": browser.find_element(By.ID, "t-tenants").text,
            "published": browser.find_element(By.ID, "t-published").text,
            "calls": rows("calls-table"),
            "backends": rows("backends-table"),
            "charts": browser.execute_script(
                "return Object.keys(Chart.instances).map(k => Chart.instances[k].data.datasets.length)"
            ),
        }
        before = loaded()
        browser.find_element(By.ID, "lang").click()
        wait.until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "Monitoring Dashboard" and loaded() != before)
        seen["backends_en"] = rows("backends-table")
        before = loaded()
        browser.find_element(By.ID, "lang").click()
        wait.until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "Dashboard Monitoring" and loaded() != before)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(screenshot))
        return seen
    finally:
        browser.quit()


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
async def test_dashboard_shows_real_calls_after_sign_in(control: Control, store_uri: str, write_config) -> None:
    chromium, driver = browser_paths()
    dead = f"http://127.0.0.1:{free_port()}"
    async with serve(EchoUpstream()) as port:
        apis = [
            api("pegawai", [f"http://127.0.0.1:{port}"], context="/bappenas/pegawai", tenant="bappenas"),
            api("obat", [dead], context="/kemenkes/obat", tenant="kemenkes"),
        ]
        sinks = [{"type": "store", "uri": store_uri}]
        path = write_config(apis, observability={"analytics": {"sinks": sinks}})
        async with running_gateway(path) as (base, app), aiohttp.ClientSession() as http:
            for url in (
                ["/bappenas/pegawai/v1/x"] * 6 + ["/bappenas/pegawai/v1/status/404"] * 2 + ["/kemenkes/obat/v1/x"]
            ):
                async with http.get(base + url) as response:
                    await response.read()
            assert app.pipeline is not None
            await app.pipeline.flush()
    artifacts = Path(os.environ.get("SPLP_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts"))
    screenshot = artifacts / "dashboard.png"
    screenshot.unlink(missing_ok=True)
    seen = await asyncio.to_thread(drive, control.base.removesuffix("/api/v1"), chromium, driver, screenshot)
    assert seen["refused"] == "Nama pengguna atau kata sandi salah"
    assert seen["tenants"] == "4"  # the seeded institutions: the totals panel reads the catalog
    calls = {row[0]: row[1:4] for row in seen["calls"]}
    assert calls == {"/bappenas/pegawai/v1": ["6", "2", "0"], "/kemenkes/obat/v1": ["0", "0", "1"]}
    backends = {row[0]: row[1:] for row in seen["backends"]}  # sorted by endpoint: the ports decide the order
    assert backends[f"http://127.0.0.1:{port}"][:3] == ["normal", "8", "0"]
    assert backends[dead][:3] == ["mati", "1", "1"] and backends[dead][3].startswith("refused (")
    assert {row[0]: row[1] for row in seen["backends_en"]} == {f"http://127.0.0.1:{port}": "up", dead: "down"}
    assert seen["charts"] == [2, 3]  # calls by API (success, failed), latency (p50, p95, p99)
    assert screenshot.stat().st_size > 10_000
