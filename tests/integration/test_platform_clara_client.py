"""NVIDIA's own Python client (`nvidia-clara-client` 0.8.1.7) against our server, unchanged.

It pins nothing we use but its generated code needs the pure-Python protobuf runtime, so it lives in
its own virtualenv: set OPENCLARA_CLARA_CLIENT_PYTHON to that interpreter, e.g.

    python3 -m venv /tmp/clara-client && /tmp/clara-client/bin/pip install nvidia-clara-client==0.8.1.7
    OPENCLARA_CLARA_CLIENT_PYTHON=/tmp/clara-client/bin/python pytest tests/integration/test_platform_clara_client.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.platform_server.server_process import ServerProcess

pytestmark = pytest.mark.integration
SESSION = Path(__file__).parents[1] / "platform_server" / "clara_client_session.py"


def test_nvidia_clara_client_runs_a_job_unchanged(tmp_path: Path) -> None:
    python = os.environ.get("OPENCLARA_CLARA_CLIENT_PYTHON")
    if not python:
        pytest.skip("set OPENCLARA_CLARA_CLIENT_PYTHON to a Python with nvidia-clara-client installed")
    server = ServerProcess(tmp_path, free_port())
    try:
        asyncio.run(server.start())
        env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
        result = subprocess.run([python, str(SESSION), server.endpoint, str(tmp_path)], capture_output=True,
                                text=True, timeout=120, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ok Payloads.Download" in result.stdout and "ok read-only payload refused" in result.stdout
    finally:
        assert server.stop() == 0
