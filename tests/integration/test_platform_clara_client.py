"""NVIDIA's own Python client (`nvidia-clara-client` 0.8.1.7) against our server, unchanged.

Its generated code needs the pure-Python protobuf runtime, so it runs in its own virtualenv: the one
tests/compat/client_venv.py builds on first use, or the interpreter in OPENCLARA_CLARA_CLIENT_PYTHON.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from tests.compat.client_venv import ClientVenvError, default_dir, ensure_client_venv
from tests.conftest import free_port
from tests.platform_server.server_process import ServerProcess

pytestmark = pytest.mark.integration
SESSION = Path(__file__).parents[1] / "platform_server" / "clara_client_session.py"


def client_python() -> str:
    """NVIDIA's client's interpreter; like a missing peer, an unavailable client fails in CI and skips elsewhere."""
    configured = os.environ.get("OPENCLARA_CLARA_CLIENT_PYTHON")
    if configured:
        return configured
    try:
        return str(ensure_client_venv(default_dir()))
    except ClientVenvError as exc:
        message = f"could not build the virtualenv for nvidia-clara-client: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_nvidia_clara_client_runs_a_job_unchanged(tmp_path: Path) -> None:
    python = client_python()
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
