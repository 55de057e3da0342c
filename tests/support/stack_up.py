"""`openclara up` as a user runs it, for tests and benchmarks: every port 0, endpoints read from its banner."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT, wait_for

PORTS = ("CLARA_PLATFORM_SERVER__PORT", "CLARA_RESULTS_PORT", "CLARA_DICOM_SCP__PORT", "CLARA_DICOM_API__PORT",
         "CLARA_CONSOLE__PORT")
UP = [sys.executable, "-m", "launcher.supervisor", "up", "--config-dir", str(ROOT / "config")]


def stack_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without CLARA_* settings, a private CLARA_HOME and every port free-picked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLARA_")}
    return {**env, "CLARA_HOME": str(tmp / "home"), **{name: "0" for name in PORTS}, **extra}


class Up:
    """`openclara up` with its stderr (the services' logs included) in a file."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.env = env
        self.log_path = tmp / "up.log"
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(UP, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)

    def wait_up(self, timeout: float = 180.0) -> None:
        wait_for(lambda: "openclara is up" in self.log() or self.popen.poll() is not None, timeout, "openclara up")
        assert self.popen.poll() is None, self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def endpoint(self, label: str) -> str:
        match = re.search(rf"^  {label}\s+(\S+)", self.log(), re.MULTILINE)
        assert match, self.log()
        return match.group(1)

    def cli_env(self) -> dict[str, str]:
        return {
            **self.env,
            "CLARA_PLATFORM_ENDPOINT": self.endpoint(r"Platform API \(gRPC\)"),
            "CLARA_RESULTS_ENDPOINT": self.endpoint("results service"),
            "CLARA_DICOM_ENDPOINT": self.endpoint("adapter REST API"),
        }

    def clara(self, *args: str) -> str:
        """Run the `clara` CLI against this stack; its stdout, or an assertion with its stderr."""
        done = subprocess.run([sys.executable, "-m", "clara_cli", *args], env=self.cli_env(), cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(90)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            raise
