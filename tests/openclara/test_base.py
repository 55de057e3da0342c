"""The shared base imports no service: loading it must not pull in grpc servers, FastAPI apps or DICOM."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import openclara

SERVICES = ("platform_server", "results_service", "dicom_adapter", "clara_cli", "platform_api", "pipeline_operators")


def test_importing_every_openclara_module_loads_no_service() -> None:
    modules = [m.name for m in pkgutil.walk_packages(openclara.__path__, "openclara.")]
    # A fresh interpreter: this test session has long since imported every service.
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True).stdout)
    assert [m for m in loaded if m.split(".")[0] in SERVICES] == []
