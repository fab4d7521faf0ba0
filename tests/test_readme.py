"""The README's walk-through, pasted as written, against a `make run`-like stack started from a clean
copy of conf/ (fresh catalog and keys): `splp serve` (gateway + control API in one process) and the
sample backend. The shell blocks are read from README.md, so the test and the README cannot drift;
only the ports (ephemeral here, 8000/8001/9001 in the README) and `.venv/bin/splp` are substituted."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.conftest import ROOT, SPLP
from tests.servers import free_port
from tests.services import in_ci

README = ROOT / "README.md"
# Fixed ports of the shipped config and the README (8000, 8001, 9001, ...): each gets an ephemeral one.
_ADDRESS = re.compile(r"\b(localhost|127\.0\.0\.1):(\d{4,5})\b")
_LISTEN = re.compile(r"\bport: (\d{4,5})\b")


def walkthrough_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Walk-through") : text.index("\n## ", text.index("## Walk-through") + 1)]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def _wait(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the stack exited with status {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - a loopback URL we built
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 in time")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Path, dict[str, int]]]:
    """conf/ copied as shipped, only its ports moved: what `make run` starts, in a clean directory."""
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            message = f"the README walk-through needs {tool}"
            if in_ci():
                pytest.fail(f"{message}; .ci/run installs it")
            pytest.skip(message)
    ports: dict[str, int] = {}

    def moved(port: str) -> int:
        return ports.setdefault(port, free_port())

    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    for file in (tmp_path / "conf").rglob("*.yaml"):
        text = _LISTEN.sub(lambda m: f"port: {moved(m.group(1))}", file.read_text(encoding="utf-8"))
        file.write_text(_ADDRESS.sub(lambda m: f"{m.group(1)}:{moved(m.group(2))}", text), encoding="utf-8")
    for block in walkthrough_blocks():
        for match in _ADDRESS.finditer(block):
            moved(match.group(2))
    moved("9001")  # the sample backend's
    logs = (tmp_path / "stack.log").open("wb")
    processes = [
        subprocess.Popen([*SPLP, "sample-backend", "--port", str(ports["9001"])], cwd=tmp_path, stderr=logs),
        subprocess.Popen([*SPLP, "serve", "--config", "conf/gateway.yaml"], cwd=tmp_path, stderr=logs),
    ]
    try:
        deadline = time.monotonic() + 60
        _wait(f"http://127.0.0.1:{ports['8000']}/_ready", processes[1], deadline)
        _wait(f"http://127.0.0.1:{ports['8001']}/api/v1/health", processes[1], deadline)
        yield tmp_path, ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()


def paste(block: str, cwd: Path, ports: dict[str, int]) -> str:
    """Runs a block as a pasted shell session would (no `set -e`), on this stack's ports."""
    script = _ADDRESS.sub(lambda m: f"{m.group(1)}:{ports[m.group(2)]}", block)
    script = script.replace(".venv/bin/splp", shlex.join(SPLP))
    result = subprocess.run(["bash"], input=script, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert not result.stderr, result.stderr
    return result.stdout


def test_walkthrough_blocks_work_as_pasted(stack: tuple[Path, dict[str, int]]) -> None:
    cwd, ports = stack
    files_api, national_flow = walkthrough_blocks()
    out = paste(files_api, cwd, ports)
    assert '"Budi Santoso"' in out and "HTTP/1.1 405" in out and "HTTP/1.1 404" in out
    assert '"status":"ready"' in out and '"openapi":"3.1.0"' in out

    out = paste(national_flow, cwd, ports)
    lines = out.splitlines()
    assert lines[0].startswith("created super_admin 'admin'"), out
    assert lines[1:3] == ["PUBLISHED", "ACTIVE"], out  # publish; the subscription, live at once
    assert "HTTP/1.1 200 OK" in out and 'ratelimit-policy: "Gold";q=5000;w=60' in out, out
    assert '"Budi Santoso"' in out
