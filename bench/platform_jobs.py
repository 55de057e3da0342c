"""Benchmark the platform server: jobs/s through the scheduler, payload upload/download MB/s vs a file copy.

Runs a real `python -m platform_server serve` on a free loopback port with its data in a temp folder,
talks to it with `platform_api.PlatformClient`, prints a Markdown table. Bounded: a few minutes at most.

    .venv/bin/python bench/platform_jobs.py [--jobs 100] [--slots 4] [--mb 256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from platform_api import JobState, PlatformClient, PlatformError  # noqa: E402

TRIVIAL = """\
api-version: 0.4.0
name: trivial
operators:
- name: noop
  container: {image: local/true, command: [/bin/true]}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_server(root: Path, slots: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = root / "platform.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"port": port}, "storage": {"data_dir": str(root / "data")},
        "scheduler": {"max_concurrent_jobs": slots, "gpus": 0}, "log": {"level": "WARNING"},
    }))
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "platform_server", "serve", "-f", str(config)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    endpoint = f"127.0.0.1:{port}"
    for _ in range(300):
        try:
            async with PlatformClient(endpoint, timeout=2) as client:
                await client.version()
            return proc, endpoint
        except PlatformError:
            await asyncio.sleep(0.1)
    raise RuntimeError("platform server did not start")


async def jobs_per_second(client: PlatformClient, pipeline_id: str, count: int) -> tuple[float, float]:
    """Create+start `count` jobs, wait for all; returns (jobs/s, median submit->stopped latency in s)."""
    started = time.perf_counter()
    submitted: dict[str, float] = {}
    for i in range(count):
        job_id, _ = await client.create_job(pipeline_id, f"bench-{i}")
        await client.start_job(job_id)
        submitted[job_id] = time.perf_counter()
    latencies: list[float] = []
    pending = set(submitted)
    while pending:
        for job in await client.list_jobs(states=[JobState.STOPPED]):
            if job.job_id in pending:
                pending.discard(job.job_id)
                latencies.append(time.perf_counter() - submitted[job.job_id])
        await asyncio.sleep(0.02)
    return count / (time.perf_counter() - started), statistics.median(latencies)


async def transfer(client: PlatformClient, source: Path, dest: Path) -> tuple[float, float]:
    payload_id = await client.create_payload()
    size_mb = source.stat().st_size / 1e6
    t0 = time.perf_counter()
    await client.upload(payload_id, "big.bin", source)
    t1 = time.perf_counter()
    await client.download(payload_id, "big.bin", dest)
    t2 = time.perf_counter()
    await client.delete_payload(payload_id)
    dest.unlink()
    return size_mb / (t1 - t0), size_mb / (t2 - t1)


def copy_rate(source: Path, dest: Path) -> float:
    t0 = time.perf_counter()
    shutil.copyfile(source, dest)
    with dest.open("rb") as handle:
        os.fsync(handle.fileno())  # the server fsyncs uploads; make the baseline pay the same
    rate = source.stat().st_size / 1e6 / (time.perf_counter() - t0)
    dest.unlink()
    return rate


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="platform-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        proc, endpoint = await start_server(root, args.slots)
        try:
            async with PlatformClient(endpoint, timeout=120) as client:
                pipeline_id = await client.create_pipeline({"trivial.yaml": TRIVIAL})
                await jobs_per_second(client, pipeline_id, 5)  # warm-up
                runs = [await jobs_per_second(client, pipeline_id, args.jobs) for _ in range(args.repeat)]
                source = root / "source.bin"
                with source.open("wb") as out:
                    for _ in range(args.mb):
                        out.write(os.urandom(1024 * 1024))
                moves = [await transfer(client, source, root / "down.bin") for _ in range(args.repeat)]
                copies = [copy_rate(source, root / "copy.bin") for _ in range(args.repeat)]
        finally:
            proc.terminate()
            proc.wait(30)
    rate, latency = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    up, down = statistics.median(m[0] for m in moves), statistics.median(m[1] for m in moves)
    copy = statistics.median(copies)
    print(f"| measure | median of {args.repeat} |")
    print("|---|---|")
    print(f"| jobs/s, {args.jobs} jobs of `/bin/true`, {args.slots} slots | {rate:.1f} |")
    print(f"| median submit -> STOPPED latency | {latency * 1000:.0f} ms |")
    print(f"| upload {args.mb} MB (1 MiB chunks, fsync) | {up:.0f} MB/s ({up / copy:.2f} x copy) |")
    print(f"| download {args.mb} MB | {down:.0f} MB/s ({down / copy:.2f} x copy) |")
    print(f"| plain file copy + fsync, same disk | {copy:.0f} MB/s |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to put the temporary data (default: system temp)")
    asyncio.run(main(parser.parse_args()))
