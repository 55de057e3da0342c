"""Real processes for integration tests and benchmarks: our services (`python -m <package> serve`), DCMTK
storescp and Orthanc, each on loopback ports with its output in a log file and SIGTERM on the way out.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `condition()` until true; timeouts are generous because the test machine is shared."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Process:
    """A child process whose output goes to a log file; stop() sends SIGTERM, kill() SIGKILL."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "TCP_NODELAY": "1", **(env or {})},
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL: what a crash looks like (no draining, no clean-up)."""
        if self.alive():
            self.popen.kill()
        self.popen.wait()
        self._log.close()


@contextmanager
def running(proc: Process, ready: Callable[[], bool], timeout: float, what: str) -> Iterator[Process]:
    """Wait until `ready()` (or the process died: its log is the error), then stop it on the way out."""
    try:
        wait_for(lambda: ready() or not proc.alive(), timeout, what)
        assert proc.alive(), proc.log()
        yield proc
    finally:
        proc.stop()


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


@contextmanager
def results_service(tmp: Path, port: int, **overrides: object) -> Iterator[str]:
    """`python -m results_service serve` with short leases and retry backoff; yields its URL."""
    config = {
        "host": "127.0.0.1",
        "port": port,
        "database": {"path": str(tmp / "results.db")},
        "lease": {"seconds": 3, "sweep_interval_seconds": 0.2},
        "retry": {"max_retries": 5, "backoff_base_seconds": 0.2, "backoff_max_seconds": 1},
        "cleanup": {"enabled": False},
        **overrides,
    }
    path = tmp / "results-service.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = Process(python_module("results_service", "serve", "-f", str(path)), tmp / "results-service.log")
    url = f"http://127.0.0.1:{port}"
    with running(proc, lambda: _ready(url), 60, "the results service"):
        yield url


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def platform_server(tmp: Path, port: int, results_url: str = "http://127.0.0.1:9",
                    executor: dict[str, Any] | None = None, link_from: Path | None = None) -> Iterator[str]:
    """`python -m platform_server serve`; yields its gRPC endpoint. `executor` = the config section;
    `link_from`: an adapter's spool to take files from by hard link (as the embedded stack does), else
    the adapters of these tests upload. Payloads are under `payloads_dir(tmp)`."""
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port},
        "metrics": {"port": 0},  # any free port: the default (the API's + 1) may be taken
        "storage": {"data_dir": str(tmp / "platform")},
        "results_service": {"url": results_url},
    }
    if link_from is not None:
        config["local_files"] = {"directories": [str(link_from)]}
    if executor is not None:
        config["executor"] = executor
    path = tmp / "platform-server.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = Process(
        python_module("platform_server", "serve", "-f", str(path)),
        tmp / "platform-server.log",
        env={"CLARA_HOME": str(tmp / "clara-home")},
    )
    with running(proc, lambda: port_open(port), 60, "the platform server"):
        yield f"127.0.0.1:{port}"


def payloads_dir(platform_tmp: Path) -> Path:
    """Where `platform_server(platform_tmp, ...)` keeps its payloads."""
    return platform_tmp / "platform" / "payloads"


def spool_dir(adapter_tmp: Path) -> Path:
    """Where `dicom_adapter(adapter_tmp, ...)` spools what it receives."""
    return adapter_tmp / "spool"


@contextmanager
def storescp(storescp_path: str, out_dir: Path, port: int, ae_title: str, *options: str) -> Iterator[Process]:
    """DCMTK storescp writing every received instance under a unique file name into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = [storescp_path, "-aet", ae_title, "+uf", "-od", str(out_dir), *options, str(port)]
    proc = Process(argv, out_dir.parent / f"storescp-{port}.log")
    with running(proc, lambda: port_open(port), 20, "storescp"):
        yield proc


def received_files(out_dir: Path) -> list[Path]:
    return sorted(p for p in out_dir.iterdir() if p.is_file()) if out_dir.exists() else []


@contextmanager
def orthanc(
    orthanc_path: str, tmp: Path, http_port: int, dicom_port: int, modalities: dict[str, list[object]]
) -> Iterator[str]:
    """Orthanc as the hospital PACS on loopback ports; yields its REST base URL."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = {
        "Name": "openclara-test",
        "StorageDirectory": str(tmp / "db"),
        "IndexDirectory": str(tmp / "db"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": "ORTHANC",
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "DicomAlwaysAllowStore": True,
        "DicomModalities": modalities,
        "Plugins": [],
        "SaveJobs": False,
        "HttpTimeout": 60,
    }
    path = tmp / "orthanc.json"
    path.write_text(json.dumps(config))
    proc = Process([orthanc_path, str(path)], tmp / "orthanc.log")
    url = f"http://127.0.0.1:{http_port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/system", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    with running(proc, lambda: ready(), 60, "Orthanc"):
        yield url


@contextmanager
def dicom_adapter(
    tmp: Path,
    *,
    dicom_port: int,
    api_port: int,
    platform: str,
    results: str,
    seed: dict[str, object],
    export: dict[str, object] | None = None,
    platform_payloads: Path | None = None,
) -> Iterator[Process]:
    """`python -m dicom_adapter serve` with everything under `tmp`, seeded with AE titles and destinations.
    `platform_payloads`: the platform's payload folder, to link results from."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = {
        "scp": {"host": "127.0.0.1", "port": dicom_port},
        "storage": {"spool_dir": str(spool_dir(tmp)), "watermark_percent": 99.9, "reserve_space_gb": 0.0},
        "export": {
            "state_dir": str(tmp / "export"),
            "poll_interval_min_seconds": 0.1,
            "poll_interval_max_seconds": 0.5,
            **(export or {}),
        },
        "api": {"host": "127.0.0.1", "port": api_port},
        "platform": {"endpoint": platform, **({"payloads_dir": str(platform_payloads)} if platform_payloads else {})},
        "results": {"endpoint": results},
        "database": {"path": str(tmp / "adapter.db")},
        "seed": seed,
    }
    path = tmp / "dicom-adapter.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = Process(
        python_module("dicom_adapter", "serve", "-f", str(path)),
        tmp / "dicom-adapter.log",
        env={"CLARA_HOME": str(tmp / "clara-home")},
    )
    with running(proc, lambda: port_open(dicom_port), 60, "the DICOM adapter"):
        yield proc
