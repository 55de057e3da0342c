"""End-to-end time of the reference pipeline (lung-seg) through real processes, Orthanc as the PACS.

    .venv/bin/python bench/roundtrip_orthanc.py [--slices 200] [--matrix 512] [--rounds 3] [--upload]

Per round: a fresh study (new seed) is uploaded into Orthanc; the timer starts when Orthanc is asked to
C-STORE it to the DICOM adapter and stops when the SEG series appears in the same study in Orthanc.
The adapter and the platform share a file system as in the embedded stack (spool files and results are
hard-linked, not uploaded); `--upload` makes the platform refuse the link, as across machines.
Reported, medians over rounds: until Orthanc finished sending; until the SEG is stored; the operators'
own run time (the platform's operator-duration histogram, scraped before and after); the export task
(registered -> Succeeded); and the overhead: total - operators - the AE title's grouping timeout.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from openclara.auth.credentials import auth_headers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openclara.metrics import Figures  # noqa: E402
from tests.support.network import free_port  # noqa: E402
from tests.support.processes import (  # noqa: E402
    dicom_adapter,
    orthanc,
    payloads_dir,
    platform_server,
    results_service,
    spool_dir,
    wait_for,
)
from tests.support.roundtrip import (  # noqa: E402
    CLARA_AE,
    GROUPING_TIMEOUT,
    Loop,
    register_pipeline,
    seed,
    seg_series,
    upload_to_orthanc,
)
from tests.support.stack import ensure_credentials  # noqa: E402


def export_seconds(results: str) -> float:
    """Registration -> Succeeded of the newest export task: lease wait, download and C-STORE."""
    tasks = httpx.get(f"{results}/api/tasks", params={"state": "Succeeded"}, timeout=30, headers=auth_headers()).json()
    newest = max(tasks, key=lambda t: t["updated"])
    return (datetime.fromisoformat(newest["updated"]) - datetime.fromisoformat(newest["created"])).total_seconds()


def operator_seconds(metrics_url: str) -> float:
    """Sum of every operator run so far, from the platform's own histogram (full resolution)."""
    text = httpx.get(metrics_url, timeout=30, headers=auth_headers()).text
    return Figures.parse(text).total("openclara_platform_operator_duration_seconds_sum")


def metrics_url(platform_log: Path) -> str:
    # The log line is JSON or key=value, depending on the platform's log settings.
    pattern = r'platform\.metrics\.listening.*?"?url"?[=:]\s*"?([^"\s,}]+)'
    found = re.search(pattern, platform_log.read_text(errors="replace"))
    if found is None:
        raise RuntimeError(f"no metrics URL in {platform_log}")
    return found.group(1)


def one_round(loop: Loop, work: Path, slices: int, matrix: int, seed_value: int,
              metrics: str) -> tuple[float, float, float, float]:
    from pipeline_operators.phantom import PhantomSpec
    from pipeline_operators.sample_study import write_study

    files = write_study(PhantomSpec(slices=slices, matrix=matrix, seed=seed_value), work / f"ct{seed_value}")
    study = upload_to_orthanc(loop.orthanc, files)
    operators_before = operator_seconds(metrics)
    start = time.monotonic()
    response = httpx.post(
        f"{loop.orthanc}/modalities/clara/store", json={"Resources": [study], "Synchronous": True}, timeout=600
    )
    response.raise_for_status()
    sent = time.monotonic() - start
    wait_for(lambda: bool(seg_series(loop.orthanc, study)), 900, "the SEG in Orthanc")
    total = time.monotonic() - start
    # The histogram is observed when an operator stops, before the job does: wait for the last one.
    wait_for(lambda: not _operators_running(loop.platform), 60, "the job to stop")
    return sent, total, export_seconds(loop.results), operator_seconds(metrics) - operators_before


def _operators_running(endpoint: str) -> bool:
    import asyncio

    from platform_api.client import PlatformClient
    from platform_api.types import JobState

    async def run() -> bool:
        async with PlatformClient(endpoint) as client:
            return any(job.state is not JobState.STOPPED for job in await client.list_jobs())

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--upload", action="store_true", help="no hand-off: files go over gRPC")
    args = parser.parse_args()
    orthanc_exe = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
    root = Path(tempfile.mkdtemp(prefix="roundtrip-bench-"))
    ensure_credentials(root)  # one credentials file for every service and for this script
    try:
        for name in ("rs", "ps"):
            (root / name).mkdir()
        adapter_port, orthanc_dicom = free_port(), free_port()
        modalities = {"clara": [CLARA_AE, "127.0.0.1", adapter_port]}
        with (
            results_service(root / "rs", free_port(), lease={"seconds": 120, "sweep_interval_seconds": 0.5}) as rs,
            platform_server(root / "ps", free_port(), rs,
                            link_from=None if args.upload else spool_dir(root / "adapter")) as platform,
            orthanc(orthanc_exe, root / "orthanc", free_port(), orthanc_dicom, modalities) as pacs,
        ):
            loop = Loop(rs, platform, register_pipeline(platform), pacs, orthanc_dicom, adapter_port, root)
            with dicom_adapter(
                root / "adapter",
                dicom_port=adapter_port,
                api_port=free_port(),
                platform=platform,
                results=rs,
                seed=seed(loop, "ORTHANC", orthanc_dicom),
                platform_payloads=None if args.upload else payloads_dir(root / "ps"),
            ):
                metrics = metrics_url(root / "ps" / "platform-server.log")
                runs = [one_round(loop, root, args.slices, args.matrix, 100 + i, metrics) for i in range(args.rounds)]
        sent = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        export = statistics.median(r[2] for r in runs)
        operators = statistics.median(r[3] for r in runs)
        overheads = [r[1] - r[3] - GROUPING_TIMEOUT for r in runs]
        print(
            f"{args.slices} x CT {args.matrix}x{args.matrix}, {args.rounds} rounds, "
            f"{'uploaded' if args.upload else 'hand-off by hard link'}, medians: Orthanc -> adapter {sent:.1f} s; "
            f"first instance sent -> SEG stored in Orthanc {total:.1f} s (runs: "
            f"{', '.join(f'{r[1]:.1f}' for r in runs)}); operators {operators:.1f} s; grouping timeout "
            f"{GROUPING_TIMEOUT:.0f} s; overhead (the rest) {statistics.median(overheads):.2f} s (runs: "
            f"{', '.join(f'{o:.2f}' for o in overheads)}); export task registered -> Succeeded {export:.2f} s"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
