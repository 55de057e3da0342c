"""End-to-end time of the reference pipeline (lung-seg) through real processes, Orthanc as the PACS.

    .venv/bin/python bench/roundtrip_orthanc.py [--slices 200] [--matrix 512] [--rounds 3]

Per round: a fresh study (new seed) is uploaded into Orthanc; the timer starts when Orthanc is asked to
C-STORE it to the DICOM adapter and stops when the SEG series appears in the same study in Orthanc.
Reported: time until Orthanc finished sending, and until the SEG is stored; medians over rounds.
"""

from __future__ import annotations

import argparse
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

from tests.support.network import free_port  # noqa: E402
from tests.support.processes import (  # noqa: E402
    dicom_adapter,
    orthanc,
    platform_server,
    results_service,
    wait_for,
)
from tests.support.roundtrip import (  # noqa: E402
    CLARA_AE,
    Loop,
    register_pipeline,
    seed,
    seg_series,
    upload_to_orthanc,
)


def export_seconds(results: str) -> float:
    """Registration -> Succeeded of the newest export task: lease wait, download and C-STORE."""
    tasks = httpx.get(f"{results}/api/tasks", params={"state": "Succeeded"}, timeout=30, headers=auth_headers()).json()
    newest = max(tasks, key=lambda t: t["updated"])
    return (datetime.fromisoformat(newest["updated"]) - datetime.fromisoformat(newest["created"])).total_seconds()


def one_round(loop: Loop, work: Path, slices: int, matrix: int, seed_value: int) -> tuple[float, float, float]:
    from pipeline_operators.phantom import PhantomSpec
    from pipeline_operators.sample_study import write_study

    files = write_study(PhantomSpec(slices=slices, matrix=matrix, seed=seed_value), work / f"ct{seed_value}")
    study = upload_to_orthanc(loop.orthanc, files)
    start = time.monotonic()
    response = httpx.post(
        f"{loop.orthanc}/modalities/clara/store", json={"Resources": [study], "Synchronous": True}, timeout=600
    )
    response.raise_for_status()
    sent = time.monotonic() - start
    wait_for(lambda: bool(seg_series(loop.orthanc, study)), 900, "the SEG in Orthanc")
    total = time.monotonic() - start
    return sent, total, export_seconds(loop.results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    orthanc_exe = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
    root = Path(tempfile.mkdtemp(prefix="roundtrip-bench-"))
    try:
        for name in ("rs", "ps"):
            (root / name).mkdir()
        adapter_port, orthanc_dicom = free_port(), free_port()
        modalities = {"clara": [CLARA_AE, "127.0.0.1", adapter_port]}
        with (
            results_service(root / "rs", free_port(), lease={"seconds": 120, "sweep_interval_seconds": 0.5}) as rs,
            platform_server(root / "ps", free_port(), rs) as platform,
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
            ):
                runs = [one_round(loop, root, args.slices, args.matrix, 100 + i) for i in range(args.rounds)]
        sent = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        export = statistics.median(r[2] for r in runs)
        print(
            f"{args.slices} x CT {args.matrix}x{args.matrix}, {args.rounds} rounds, medians: Orthanc -> adapter "
            f"{sent:.1f} s; first instance sent -> SEG stored in Orthanc {total:.1f} s (runs: "
            f"{', '.join(f'{r[1]:.1f}' for r in runs)}); of which export task registered -> Succeeded "
            f"{export:.2f} s"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
