"""Benchmark: register -> lease -> success cycles per second against a real results service process.

    .venv/bin/python bench/results_cycles.py [--seconds 5] [--repeat 3] [--scenarios 1x1,16x1,16x10]
                                             [--out docs/benchmarks-results.md]

Starts `python -m results_service serve` on a free loopback port with a throw-away database, then for
each scenario AxB runs A agent processes (each with its own agent name and keep-alive HTTP connection)
that loop: register B tasks, lease them with one `GET pending?size=B`, report success for each.
B=1 is the plain cycle (3 requests per task); B=10 is what Clara's adapter does (it leases 10 at a time).
Reports, as medians over `--repeat` runs: tasks/s, p50/p99 of one task's register-to-success latency,
and the service process's CPU time per task (from /proc), which separates our cost from machine load.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]

if TYPE_CHECKING:
    Queue = mp.Queue[list[float]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _agent(url: str, name: str, batch: int, window: tuple[float, float], queue: Queue) -> None:
    """A task's latency runs from the start of its registration to the answer of its success report."""
    start_at, stop_at = window
    latencies: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.time() < start_at:
            time.sleep(0.001)
        i = 0
        while time.time() < stop_at:
            began: dict[str, float] = {}
            for _ in range(batch):
                body = {"jobId": f"{name}-{i}", "payloadId": "p", "parameters": '"MYPACS"', "uris": ["a.dcm"]}
                started = time.perf_counter()
                response = client.post(f"/api/tasks/register/{name}", json=body)
                assert response.status_code == 201, response.text
                began[response.json()["taskId"]] = started
                i += 1
            tasks = client.get(f"/api/tasks/{name}/pending", params={"size": batch}).json()
            assert len(tasks) == batch
            for task in tasks:
                assert client.put(f"/api/tasks/success/{task['taskId']}").status_code == 200
                latencies.append(time.perf_counter() - began[task["taskId"]])
    queue.put(latencies)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(url: str, agents: int, batch: int, seconds: float, server_pid: int, run: int) -> dict[str, float]:
    queue: Queue = mp.Queue()
    start_at = time.time() + 1.5  # let every agent process import and connect first
    window = (start_at, start_at + seconds)
    procs = [
        mp.Process(target=_agent, args=(url, f"b{agents}x{batch}r{run}-{i}", batch, window, queue))
        for i in range(agents)
    ]
    for proc in procs:
        proc.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu_before = _cpu_seconds(server_pid)
    latencies = sorted(value for _ in procs for value in queue.get(timeout=seconds + 60))
    cpu = _cpu_seconds(server_pid) - cpu_before
    for proc in procs:
        proc.join()
    return {
        "tasks_per_s": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "cpu_ms": cpu * 1000 / max(1, len(latencies)),
    }


def _floor(url: str, server_pid: int, requests: int = 1000) -> float:
    """Service CPU ms of the cheapest request (GET /health/live): uvicorn + FastAPI with no work at all."""
    with httpx.Client(base_url=url) as client:
        client.get("/health/live")
        before = _cpu_seconds(server_pid)
        for _ in range(requests):
            client.get("/health/live")
        return (_cpu_seconds(server_pid) - before) * 1000 / requests


def _scenario(url: str, spec: str, seconds: float, repeat: int, server_pid: int) -> dict[str, float]:
    agents, batch = (int(part) for part in spec.split("x"))
    runs = [_run(url, agents, batch, seconds, server_pid, run) for run in range(repeat)]
    row = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    return {"agents": agents, "batch": batch, **row}


def _serve(folder: Path, port: int) -> subprocess.Popen[bytes]:
    config = folder / "results.yaml"
    settings = {"port": port, "database": {"path": str(folder / "r.db")}, "cleanup": {"enabled": False}}
    config.write_text(yaml.safe_dump({**settings, "log_level": "WARNING"}))
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "results_service", "serve", "-f", str(config)]
    proc = subprocess.Popen(argv, cwd=REPO, env={**os.environ, "PYTHONPATH": path})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("results service did not start")


def _markdown(rows: list[dict[str, float]], args: argparse.Namespace, load: tuple[float, ...], floor: float) -> str:
    lines = [
        f"`.venv/bin/python bench/results_cycles.py --seconds {args.seconds:g} --repeat {args.repeat} "
        f"--scenarios {args.scenarios}` on {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')} UTC, 1-min load average before the "
        f"run {load[0]:.1f} (other engineers' tests and benchmarks were running). Medians of {args.repeat} runs.",
        "",
        "| agents | lease size | tasks/s | p50 register→success (ms) | p99 (ms) | service CPU per task (ms) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines[1:1] = [
        "",
        f"Framework floor: `GET /health/live` costs {floor:.2f} ms of service CPU per request, so a 3-request cycle "
        f"cannot cost less than {3 * floor:.2f} ms here however little the queue itself does.",
    ]
    for row in rows:
        lines.append(
            f"| {row['agents']:.0f} | {row['batch']:.0f} | {row['tasks_per_s']:.0f} | {row['p50_ms']:.1f} | "
            f"{row['p99_ms']:.1f} | {row['cpu_ms']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenarios", default="1x1,16x1,16x10", help="AGENTSxLEASE_SIZE, comma-separated")
    parser.add_argument("--out", type=Path, default=None, help="Also write the markdown table to this file.")
    args = parser.parse_args()
    port = _free_port()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        service = _serve(Path(tmp), port)
        try:
            url = f"http://127.0.0.1:{port}"
            floor = _floor(url, service.pid)
            rows = [_scenario(url, spec, args.seconds, args.repeat, service.pid) for spec in args.scenarios.split(",")]
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(30)
    table = _markdown(rows, args, load, floor)
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
