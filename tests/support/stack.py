"""The whole stack for `clara load` and the soak: results service, platform, adapter, DCMTK storescp as the PACS.

Every service runs as its own process on free loopback ports under one root folder. The pipeline is
light on purpose (the soak measures the stack, not an operator): `pick` copies one instance of the
payload, `register-results` asks the adapter to send it to the PACS, so every study goes all the way
through the export. Several Clara AE titles each run it; the load generator's AE title is a source.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from openclara.auth.credentials import ENV_FILE, load_or_create
from tests.support.network import free_port
from tests.support.processes import dicom_adapter, payloads_dir, platform_server, results_service, spool_dir, storescp

CALLING = "CLARALOAD"
PACS_AE = "PACS"
PICK = "import pathlib, shutil, sys; shutil.copy(min(pathlib.Path(sys.argv[1]).rglob('*.dcm')), sys.argv[2])"
LOAD_PIPELINE = f"""\
api-version: 0.4.0
name: load-echo
operators:
  - name: pick
    container:
      image: openclara/operators
      tag: "0.1"
      command: ["python", "-c", "{PICK}", "/input", "/output"]
    input:
      - path: /input
    output:
      - path: /output
        name: picked
  - name: register-results
    container:
      image: openclara/operators
      tag: "0.1"
      command: ["python", "-m", "pipeline_operators.register_results", "--agent", "ClaraSCU", "--data", '["{PACS_AE}"]']
    input:
      - from: pick
        name: picked
        path: /input
"""


@dataclass(frozen=True)
class LoadStack:
    root: Path
    results: str
    platform: str
    adapter_api: str
    scp_port: int
    pipeline_id: str
    called: Sequence[str]
    pacs_dir: Path

    def cli_env(self) -> dict[str, str]:
        """What `clara` needs to reach this stack (the token comes from the credentials file variable)."""
        return {
            **os.environ,
            "CLARA_PLATFORM_ENDPOINT": self.platform,
            "CLARA_RESULTS_ENDPOINT": self.results,
            "CLARA_DICOM_ENDPOINT": self.adapter_api,
            "CLARA_HOME": str(self.root / "cli-home"),
        }


def register_pipeline(endpoint: str, path: Path) -> str:
    from platform_api.client import PlatformClient

    async def run() -> str:
        async with PlatformClient(endpoint) as client:
            return str(await client.create_pipeline(path))

    return asyncio.run(run())


def _seed(called: Sequence[str], pipeline_id: str, pacs_port: int, timeout: float) -> dict[str, object]:
    return {
        "ae_titles": [
            {"name": ae, "aeTitle": ae, "processorSettings": {"timeout": timeout, "pipeline-echo": pipeline_id}}
            for ae in called
        ],
        "sources": [{"aeTitle": CALLING, "hostIp": "127.0.0.1"}],
        "destinations": [{"name": PACS_AE, "aeTitle": PACS_AE, "hostIp": "127.0.0.1", "port": pacs_port}],
    }


def ensure_credentials(root: Path) -> None:
    """One credentials file for every service and client of this stack (pytest's session one when set)."""
    if not os.environ.get(ENV_FILE):
        path = root / "credentials.yaml"
        load_or_create(path)
        os.environ[ENV_FILE] = str(path)


@contextmanager
def load_stack(root: Path, called: Sequence[str] = ("LOAD1", "LOAD2", "LOAD3"), grouping_timeout: float = 2.0,
               storescp_path: str | None = None) -> Iterator[LoadStack]:
    # DCMTK's, not the same-named pynetdicom app an activated virtualenv puts first on PATH.
    storescp_path = storescp_path or ("/usr/bin/storescp" if Path("/usr/bin/storescp").exists() else None)
    storescp_path = storescp_path or shutil.which("storescp")
    if storescp_path is None:
        raise RuntimeError("DCMTK storescp is not installed (apt-get install dcmtk)")
    ensure_credentials(root)
    for name in ("results", "platform", "adapter"):
        (root / name).mkdir(parents=True, exist_ok=True)
    pipeline_file = root / "load-echo.yaml"
    pipeline_file.write_text(LOAD_PIPELINE)
    pacs_port, scp_port, api_port = free_port(), free_port(), free_port()
    with ExitStack() as stack:
        results = stack.enter_context(results_service(root / "results", free_port()))
        # Spool and payloads on one file system, as in the embedded stack: files are linked, not uploaded.
        platform = stack.enter_context(platform_server(root / "platform", free_port(), results,
                                                       link_from=spool_dir(root / "adapter")))
        stack.enter_context(storescp(storescp_path, root / "pacs", pacs_port, PACS_AE))
        pipeline_id = register_pipeline(platform, pipeline_file)
        stack.enter_context(dicom_adapter(
            root / "adapter", dicom_port=scp_port, api_port=api_port, platform=platform, results=results,
            seed=_seed(called, pipeline_id, pacs_port, grouping_timeout),
            platform_payloads=payloads_dir(root / "platform")))
        yield LoadStack(root, results, platform, f"http://127.0.0.1:{api_port}", scp_port, pipeline_id, tuple(called),
                        root / "pacs")
