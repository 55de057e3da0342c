"""A real `python -m results_service serve` process for integration tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support import http

REPO = Path(__file__).resolve().parents[2]


def wait_until(condition: Any, timeout: float = 30.0, interval: float = 0.05, what: str = "condition") -> None:
    """Poll `condition()` until truthy; generous timeouts because the test machine is shared."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class ServiceProcess:
    """Starts the service on `port` with a YAML config written from `overrides`; kill or terminate it."""

    def __init__(self, folder: Path, port: int, **overrides: Any) -> None:
        self.folder = folder
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.config = folder / "results-service.yaml"
        self.log = folder / "results-service.log"
        settings: dict[str, Any] = {
            "port": port,
            "database": {"path": str(folder / "results.db")},
            "cleanup": {"enabled": False},
            "log_level": "WARNING",
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                settings[key] = {**settings[key], **value}
            else:
                settings[key] = value
        self.config.write_text(yaml.safe_dump(settings))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        env = {**os.environ, "CLARA_HOME": str(self.folder / "home"), "PYTHONPATH": str(REPO)}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "results_service", "serve", "-f", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )
        wait_until(self._ready, timeout, what=f"results service on port {self.port} (log {self.log})")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"results service exited {self.proc.returncode}:\n{self.log.read_text()[-2000:]}")
        try:
            return http.get(f"{self.url}/health/ready", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """kill -9: no chance to flush or drain."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
