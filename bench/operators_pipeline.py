"""Benchmark: the reference pipeline's operators on a 200-slice 512x512 synthetic CT.

    .venv/bin/python bench/operators_pipeline.py [--slices 200] [--matrix 512] [--runs 3] [--no-platform]
                                                 [--out docs/benchmarks-operators.md]

1. Each operator of config/pipelines/lung-seg.yaml as its own process (`python -m ...`), `--runs`
   times: median wall time and CPU time (user + sys of the child).
2. Unless --no-platform: the whole pipeline as a job through a real platform server (local executor)
   and results service on free loopback ports: upload of the study, then start -> job STOPPED/HEALTHY,
   median of `--runs` jobs, and its ratio to the sum of the operators run directly (platform overhead).
Everything is loopback and temporary; the machine is shared, so read medians, not single runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline_operators.phantom import PhantomSpec  # noqa: E402
from pipeline_operators.sample_study import write_study  # noqa: E402

OPERATORS = (
    ("dicom_reader", ["--input", "{ct}", "--output", "{vol}"]),
    ("lung_segmentation", ["--input", "{vol}", "--output", "{lab}"]),
    ("dicom_seg_writer", ["--input", "{lab}", "--dicom", "{ct}", "--output", "{seg}"]),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_operators(ct: Path, work: Path, runs: int) -> dict[str, tuple[float, float]]:
    """Median (wall, cpu) seconds per operator."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in OPERATORS}
    for run in range(runs):
        folders = {"ct": ct, "vol": work / f"vol{run}", "lab": work / f"lab{run}", "seg": work / f"seg{run}"}
        for name, args in OPERATORS:
            argv = [sys.executable, "-m", f"pipeline_operators.{name}", *(a.format(**folders) for a in args)]
            cpu, start = _child_cpu(), time.perf_counter()
            subprocess.run(argv, check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples[name].append((time.perf_counter() - start, _child_cpu() - cpu))
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in samples.items()
    }


def _start(module: str, config: dict[str, object], tmp: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    path = tmp / f"{module}.yaml"
    path.write_text(yaml.safe_dump(config))
    log = (tmp / f"{module}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", module, "serve", "-f", str(path)], stdout=log,
                            stderr=subprocess.STDOUT, cwd=REPO, env=env)


async def _job(endpoint: str, ct: Path) -> tuple[float, float]:
    from platform_api.client import PlatformClient
    from platform_api.types import JobState, JobStatus

    async with PlatformClient(endpoint, timeout=120) as client:
        pipeline_id = await client.create_pipeline(REPO / "config" / "pipelines" / "lung-seg.yaml")
        job_id, payload_id = await client.create_job(pipeline_id, "bench")
        start = time.perf_counter()
        await client.upload_many(payload_id, [(p.name, p) for p in sorted(ct.glob("*.dcm"))])
        uploaded = time.perf_counter()
        await client.start_job(job_id)
        status = await client.job_status(job_id)
        while status.state != JobState.STOPPED:
            await asyncio.sleep(0.1)
            status = await client.job_status(job_id)
        if status.status != JobStatus.HEALTHY:
            raise RuntimeError(f"job ended {status.status}: {status.messages}")
        return uploaded - start, time.perf_counter() - uploaded


def time_platform(ct: Path, tmp: Path, runs: int) -> list[tuple[float, float]]:
    from platform_api.client import PlatformClient
    from platform_api.errors import PlatformError

    results_port, platform_port = _free_port(), _free_port()
    env = {**os.environ, "CLARA_HOME": str(tmp / "home")}
    procs = [
        _start("results_service", {"port": results_port, "database": {"path": str(tmp / "r.db")},
                                   "cleanup": {"enabled": False}, "log_level": "WARNING"}, tmp, env),
        _start("platform_server", {"server": {"port": platform_port}, "storage": {"data_dir": str(tmp / "p")},
                                   "results_service": {"url": f"http://127.0.0.1:{results_port}"},
                                   "log": {"level": "WARNING"}}, tmp, env),
    ]
    endpoint = f"127.0.0.1:{platform_port}"

    async def ready() -> bool:
        try:
            async with PlatformClient(endpoint, timeout=2) as client:
                await client.version()
            return httpx.get(f"http://127.0.0.1:{results_port}/health/ready", timeout=2).status_code == 200
        except (PlatformError, httpx.TransportError):
            return False

    try:
        deadline = time.monotonic() + 60
        while not asyncio.run(ready()):
            if time.monotonic() > deadline:
                raise RuntimeError("platform server / results service did not start")
            time.sleep(0.2)
        return [asyncio.run(_job(endpoint, ct)) for _ in range(runs)]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def report(args: argparse.Namespace, operators: dict[str, tuple[float, float]],
           jobs: list[tuple[float, float]]) -> str:
    direct = sum(wall for wall, _ in operators.values())
    lines = [
        "# Benchmarks: bundled operators and the reference pipeline",
        "",
        f"Command: `.venv/bin/python bench/operators_pipeline.py --slices {args.slices} --matrix {args.matrix} "
        f"--runs {args.runs}`",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; shared with other engineers running tests at the same time, so figures "
        "are noisy: medians of the runs.",
        f"Study: synthetic chest CT (`sample_study`), {args.slices} slices of {args.matrix}x{args.matrix}, "
        "explicit VR little endian.",
        "",
        "| Operator (own process, CPU only) | median wall s | median CPU s |",
        "|---|---:|---:|",
    ]
    lines += [f"| `{name}` | {wall:.2f} | {cpu:.2f} |" for name, (wall, cpu) in operators.items()]
    lines.append(f"| **sum** | **{direct:.2f}** | {sum(c for _, c in operators.values()):.2f} |")
    if jobs:
        upload = statistics.median(u for u, _ in jobs)
        run = statistics.median(r for _, r in jobs)
        lines += [
            "",
            "| Through the platform server (gRPC, local executor, + register_results) | median s |",
            "|---|---:|",
            f"| upload of the study into the job payload | {upload:.2f} |",
            f"| start -> job STOPPED/HEALTHY (4 operators incl. register_results) | {run:.2f} |",
            f"| ratio job run / sum of the 3 operators run directly | {run / direct:.2f}x |",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-platform", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks-operators.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openclara-bench-") as tmp_name:
        tmp = Path(tmp_name)
        write_study(PhantomSpec(slices=args.slices, matrix=args.matrix), tmp / "ct")
        operators = time_operators(tmp / "ct", tmp, args.runs)
        jobs = [] if args.no_platform else time_platform(tmp / "ct", tmp, args.runs)
    text = report(args, operators, jobs)
    # Keep hand-measured sections (e.g. "## End to end, by hand") that follow the generated tables.
    previous = args.out.read_text() if args.out.exists() else ""
    kept = previous[previous.find("\n## "):] if "\n## " in previous else ""
    args.out.write_text(text + kept)
    print(text)


if __name__ == "__main__":
    main()
