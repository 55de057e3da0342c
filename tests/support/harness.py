"""Real processes for the adapter's integration tests and benchmark: platform server, adapter, storescu."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pydicom
import yaml
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from tests.support import http
from tests.support.network import free_port

TRIVIAL_PIPELINE = """\
api-version: 0.4.0
name: {name}
operators:
  - name: noop
    container:
      image: openclara/operators
      tag: "0.1"
      command: ["python", "-c", "import time; time.sleep(0.2)"]
    input:
      - path: /input
"""


def wait_until(condition: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Service:
    """One child process (started in its own session, so kill -9 hits only it)."""

    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self, timeout: float = 40.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Platform:
    root: Path
    port: int = field(default_factory=free_port)
    service: Service | None = None
    link_from: Path | None = None  # adapters' spools below it are hard-linked into jobs (else uploaded)

    @property
    def payloads_dir(self) -> Path:
        return self.root / "platform-data" / "payloads"

    def start(self) -> None:
        config = self.root / "platform.yaml"
        settings: dict[str, Any] = {"server": {"port": self.port}, "metrics": {"port": 0},
                                    "storage": {"data_dir": str(self.root / "platform-data")},
                                    "scheduler": {"max_concurrent_jobs": 4}, "log": {"level": "WARNING"}}
        if self.link_from is not None:
            settings["local_files"] = {"directories": [str(self.link_from)]}
        config.write_text(yaml.safe_dump(settings))
        env = {**os.environ, "CLARA_HOME": str(self.root / "home")}
        argv = [sys.executable, "-m", "platform_server", "serve", "-f", str(config)]
        self.service = Service(argv, env, self.root / "platform.log")
        self.service.start()
        wait_until(lambda: port_open(self.port) or not self.service.alive(), 60, what="platform port")
        assert self.service.alive(), self.service.output()

    def stop(self) -> None:
        if self.service is not None:
            self.service.terminate()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Adapter:
    root: Path
    platform_endpoint: str
    seed: dict[str, Any] = field(default_factory=dict)
    dicom_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    extra: dict[str, Any] = field(default_factory=dict)
    service: Service | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def config(self) -> Path:
        data: dict[str, Any] = {
            "scp": {"port": self.dicom_port},
            "api": {"port": self.api_port},
            "platform": {"endpoint": self.platform_endpoint, "retry_backoff_base_seconds": 0.5,
                         "retry_backoff_max_seconds": 2.0, "call_timeout_seconds": 10},
            "database": {"path": str(self.root / "adapter" / "adapter.db")},
            "storage": {"spool_dir": str(self.root / "adapter" / "spool"), "reserve_space_gb": 0.1,
                        "watermark_percent": 99.9},
            "export": {"enabled": False},
            "seed": self.seed,
        }
        for section, values in self.extra.items():
            data.setdefault(section, {}).update(values)
        path = self.root / "adapter.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    def start(self) -> None:
        env = {**os.environ, "CLARA_HOME": str(self.root / "home")}
        argv = [sys.executable, "-m", "dicom_adapter", "serve", "-f", str(self.config())]
        self.service = Service(argv, env, self.root / "adapter.log")
        self.service.start()
        wait_until(lambda: self.ready() or not self.service.alive(), 60, what="adapter ready")
        assert self.service.alive(), self.service.output()

    def ready(self) -> bool:
        try:
            return http.get(f"{self.api}/health/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def payloads(self) -> list[dict[str, Any]]:
        return list(http.get(f"{self.api}/api/payloads", timeout=10).json())


def seed(pipelines: dict[str, str], ae: str = "CLARA", timeout: float = 1.0, **settings: str) -> dict[str, Any]:
    processor = {"timeout": str(timeout), **{f"pipeline-{k}": v for k, v in pipelines.items()}, **settings}
    return {
        "ae_titles": [{"aeTitle": ae, "processorSettings": processor}],
        "sources": [{"aeTitle": "STORESCU", "hostIp": "127.0.0.1"}],
    }


def write_study(directory: Path, series: int = 2, per_series: int = 3, study_uid: str | None = None) -> list[Path]:
    """A small CT study (pydicom's CT_small with fresh UIDs), `series` x `per_series` instances."""
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    # storescu drops trailing padding when it sends; without it the file is exactly what goes on the wire.
    if (0xFFFC, 0xFFFC) in template:
        del template[0xFFFC, 0xFFFC]
    study_uid = study_uid or generate_uid()
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for s in range(series):
        series_uid = generate_uid()
        for n in range(per_series):
            template.StudyInstanceUID = study_uid
            template.SeriesInstanceUID = series_uid
            template.SOPInstanceUID = generate_uid()
            template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
            template.InstanceNumber = n + 1
            path = directory / f"s{s}_{n}.dcm"
            template.save_as(path, enforce_file_format=True)
            files.append(path)
    return files


def dataset_bytes(path: Path) -> bytes:
    """The data set after the Part-10 file meta (what travels in C-STORE)."""
    data = path.read_bytes()
    assert data[128:132] == b"DICM"
    group_length = int.from_bytes(data[140:144], "little")
    return data[144 + group_length:]


def storescu(port: int, files: Sequence[Path], called: str = "CLARA", calling: str = "STORESCU") -> tuple[int, str]:
    argv = ["storescu", "-nh", "-aec", called, "-aet", calling, "127.0.0.1", str(port), *map(str, files)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr
