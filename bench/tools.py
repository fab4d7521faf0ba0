"""External load tools and reference servers: find them, or install them from Debian when running as root."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# command -> Debian package that provides it
DEBIAN_PACKAGES = {"wrk": "wrk", "nginx": "nginx"}
FASTGW_DIR = Path(__file__).parent / "fastgw"


def find(command: str) -> str | None:
    """The command's path; nginx also lives in /usr/sbin, which a non-root PATH may lack."""
    return shutil.which(command) or shutil.which(command, path="/usr/sbin:/usr/local/sbin")


def ensure_debian(commands: list[str], *, log=print) -> dict[str, str | None]:
    """Finds each command, installing the missing ones with apt-get when running as root.

    Returns command -> path (None when still missing). Never raises: the caller decides which tools it needs.
    """
    found = {command: find(command) for command in commands}
    missing = [command for command, path in found.items() if path is None]
    if not missing:
        return found
    packages = [DEBIAN_PACKAGES[command] for command in missing]
    if os.geteuid() != 0:
        log(f"missing: {', '.join(missing)}; install them with `sudo apt-get install -y {' '.join(packages)}`")
        return found
    log(f"installing {', '.join(packages)} from Debian (apt-get) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            log(f"apt-get install {' '.join(packages)} failed:\n{result.stderr.strip()[-2000:]}")
    # Debian's nginx package starts a system nginx on port 80; the bench never uses it.
    if "nginx" in missing and find("nginx"):
        subprocess.run(["service", "nginx", "stop"], capture_output=True)
    return {command: find(command) for command in commands}


def ensure_fast_gateway(*, log=print) -> Path | None:
    """npm-installs fast-gateway into bench/fastgw/node_modules (git-ignored); None without node and npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        log("fast-gateway: skipped (node and npm are not both installed)")
        return None
    if (FASTGW_DIR / "node_modules" / "fast-gateway").is_dir():
        return FASTGW_DIR
    log("fast-gateway: npm install into bench/fastgw/ ...")
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=FASTGW_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        log(f"fast-gateway: npm install failed, skipped:\n{result.stderr.strip()[-2000:]}")
        return None
    return FASTGW_DIR
