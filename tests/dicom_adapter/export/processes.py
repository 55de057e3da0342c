"""The export tests' process helpers, now shared by every area in `tests/processes.py` (bench/ imports them here)."""

from __future__ import annotations

from tests.processes import (
    ROOT,
    Process,
    dicom_adapter,
    orthanc,
    platform_server,
    port_open,
    python_module,
    received_files,
    results_service,
    storescp,
    wait_for,
)

__all__ = [
    "ROOT",
    "Process",
    "dicom_adapter",
    "orthanc",
    "platform_server",
    "port_open",
    "python_module",
    "received_files",
    "results_service",
    "storescp",
    "wait_for",
]
