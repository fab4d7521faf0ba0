"""Schemathesis against the control API's own OpenAPI document: generated requests, valid and not,
on every operation, signed in as the super admin; no answer may be a 5xx.

Runs the schemathesis CLI as operators would, bounded in examples and time to keep `make test` short.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from tests.gateway.control.conftest import Control

MAX_EXAMPLES = "3"
MAX_TIME = "45"  # seconds, a ceiling; a run normally ends when every operation had its examples


@pytest.mark.timeout(180)
async def test_no_server_errors(control: Control, tmp_path: Path) -> None:
    token = await control.token("root")
    cli = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    process = await asyncio.create_subprocess_exec(
        cli,
        "run",
        f"{control.base}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {token}",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        MAX_EXAMPLES,
        "--max-time",
        MAX_TIME,
        "--workers",
        "1",
        "--seed",
        "1",
        "--exclude-path-regex",
        "/auth/token|/myaccount/change-password",  # would lock out or sign out the token under test
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
    # the run stayed signed in throughout, so the operations were exercised past authentication
    status, _ = await control.call("GET", "/myaccount/profile", token=token)
    assert status == 200
