"""A real `python -m platform_server serve -f CONFIG` process for integration tests and benchmarks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from platform_api import PlatformClient, PlatformError


class ServerProcess:
    """Starts the platform on a free loopback port with its data under `root`; restartable after kill -9."""

    def __init__(self, root: Path, port: int, **settings: object) -> None:
        self.root = root
        self.port = port
        self.endpoint = f"127.0.0.1:{port}"
        self.config = root / "platform-server.yaml"
        sections: dict[str, object] = {
            "server": {"host": "127.0.0.1", "port": port},
            "storage": {"data_dir": str(root / "data")},
            "scheduler": {"max_concurrent_jobs": 1, "gpus": 0},
            "executor": {"kill_grace": 0.5},
            "shutdown": {"drain_timeout": 2},
            "log": {"level": "INFO", "format": "console"},
        }
        for key, value in settings.items():
            section, name = key.split("__")
            sections.setdefault(section, {})[name] = value  # type: ignore[index]
        self.config.write_text(yaml.safe_dump(sections))
        self.log = root / "platform-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, "CLARA_HOME": str(self.root / "home")}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "platform_server", "serve", "-f", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=Path(__file__).resolve().parents[2],
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"platform server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                async with PlatformClient(self.endpoint, timeout=2) as client:
                    await client.version()
                return
            except PlatformError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: what a crash looks like (no draining, no clean-up)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode
