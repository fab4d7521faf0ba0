"""Servers under test as process groups: pinned to a core, waited for, measured (peak RSS), always killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

PROXY_CPU = "0"  # the proxy under test
LOAD_CPU = "1"  # load generator and upstream


class BenchError(RuntimeError):
    """A setup or verification failure: the run stops loudly instead of measuring something wrong."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pinned(command: list[str], cpus: str | None) -> list[str]:
    """Prefixes `taskset -c CPUS` when taskset exists and the machine has that core."""
    if cpus is None or not _has_cpus(cpus) or not _which("taskset"):
        return command
    return ["taskset", "-c", cpus, *command]


def _has_cpus(cpus: str) -> bool:
    try:
        return all(int(cpu) in os.sched_getaffinity(0) for cpu in cpus.split(","))
    except (ValueError, AttributeError):
        return False


def _which(command: str) -> bool:
    import shutil

    return shutil.which(command) is not None


class Server:
    """One server in its own session (process group), so stop() reaches its workers too."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        cpus: str | None,
        log: Path,
        env: dict | None = None,
        cwd: str | None = None,
    ) -> None:
        self.name = name
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            pinned(command, cpus),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        self.pid = self.process.pid

    def wait_for_port(self, port: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.process.returncode} before listening:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise BenchError(f"{self.name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s:\n{self.tail()}")

    def group_pids(self) -> list[int]:
        """The server's process and every process still in its process group (workers, nginx workers)."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                fields = stat[stat.rindex(")") + 2 :].split()
                if int(fields[2]) == self.pid:  # field 5 of stat: process group id
                    pids.append(int(entry))
        return pids

    def peak_rss_mb(self) -> float | None:
        """Sum of VmHWM (peak resident set) over the process group, in MiB."""
        total_kb = 0
        found = False
        for pid in self.group_pids():
            kb = read_vm_hwm_kb(Path(f"/proc/{pid}/status"))
            if kb is not None:
                total_kb += kb
                found = True
        return round(total_kb / 1024, 1) if found else None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(self.pid, signal.SIGKILL)  # stragglers in the group, and a server that ignored SIGTERM
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def read_vm_hwm_kb(status: Path) -> int | None:
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
