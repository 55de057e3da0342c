"""A real `python -m platform_server serve -f CONFIG` process for integration tests and benchmarks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import yaml

from platform_api import PlatformClient, PlatformError
from tests.support.processes import Process, python_module


class ServerProcess:
    """Starts the platform on a free loopback port with its data under `root`; restartable after kill -9."""

    def __init__(self, root: Path, port: int, **settings: object) -> None:
        self.root = root
        self.port = port
        self.endpoint = f"127.0.0.1:{port}"
        self.config = root / "platform-server.yaml"
        sections: dict[str, object] = {
            "server": {"host": "127.0.0.1", "port": port},
            # Any free port: the default (the API's + 1) may be taken on a busy test machine.
            "metrics": {"port": 0},
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
        self.proc: Process | None = None

    async def start(self, timeout: float = 30.0) -> None:
        """Start the process and wait until it answers Clara.Version (listening is not enough: it may still fail)."""
        argv = python_module("platform_server", "serve", "-f", str(self.config))
        self.proc = Process(argv, self.log, env={"CLARA_HOME": str(self.root / "home")})
        deadline = time.monotonic() + timeout
        while True:
            if not self.proc.alive():
                raise AssertionError(f"platform server exited with {self.proc.popen.returncode}:\n{self.proc.log()}")
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
        if self.proc is not None:
            self.proc.kill()

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; the exit code, or None when never started."""
        return None if self.proc is None else self.proc.stop(timeout)
