"""Benchmark: register -> lease -> success cycles per second against real results service processes.

    .venv/bin/python bench/results_cycles.py [--seconds 4] [--repeat 3] [--scenarios 1x1,16x1,16x10]
        [--client raw|httpx] [--workers 1] [--variants 'new,h11+CLARA_RESULTS_HTTP_PARSER=h11,head@/tmp/head']
        [--out FILE]

Each scenario AxB runs A agents, each an independent poller with its own agent name and keep-alive HTTP/1.1
connection, looping: register B tasks, lease them with one `GET pending?size=B`, report success for each.
B=1 is the plain cycle (3 requests per task); B=10 is what Clara's adapter does (it leases 10 at a time).

The agents are asyncio tasks in `--workers` client processes (default one), so the load generator does
not take 16 processes' worth of the machine's cores from the service. `--client raw` speaks HTTP/1.1 over
asyncio streams (a few microseconds per request), `--client httpx` uses one `httpx.AsyncClient` per agent
(what a Python agent would use; it costs about as much CPU per request as the service does).
`--workers 16 --client httpx` is close to the old one-process-per-agent mode.

`--variants` compares services side by side: each `LABEL[@SRC][+ENV=VALUE...]` starts its own
`python -m results_service serve` (results_service imported from SRC when given, e.g. an export of the
committed code made with `git archive HEAD results_service | tar -x -C /tmp/head`), with extra environment.
Runs are interleaved (run 1 of every variant, then run 2, ...) so machine load hits all variants alike.

Reports, as medians over `--repeat` runs: tasks/s, p50/p99 of one task's register-to-success latency,
the service's CPU time per task (from /proc: separates its cost from the machine's load) and the
client processes' CPU per task.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml

from openclara.auth.credentials import auth_headers

REPO = Path(__file__).resolve().parents[1]


class Client(Protocol):
    async def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, Any]: ...

    async def close(self) -> None: ...


class RawClient:
    """Minimal keep-alive HTTP/1.1 client: enough for this service's JSON answers with Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self._reader, self._writer, self._host = reader, writer, host
        # The service requires a token since the REST APIs got one; the stack's admin token, like httpx's.
        self._auth = "".join(f"{key}: {value}\r\n" for key, value in auth_headers().items())

    @classmethod
    async def open(cls, url: str) -> RawClient:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, host)

    async def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\n{self._auth}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        header = await self._reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in header.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return int(header[9:12]), json.loads(await self._reader.readexactly(length))

    async def close(self) -> None:
        self._writer.close()


class HttpxClient:
    def __init__(self, url: str) -> None:
        self._client = httpx.AsyncClient(base_url=url, timeout=30, headers=auth_headers())

    async def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
        headers = {"content-type": "application/json"}
        response = await self._client.request(method, path, content=body, headers=headers)
        return response.status_code, response.json()

    async def close(self) -> None:
        await self._client.aclose()


async def _open(kind: str, url: str) -> Client:
    return await RawClient.open(url) if kind == "raw" else HttpxClient(url)


async def _agent(client: Client, name: str, batch: int, window: tuple[float, float], out: list[float]) -> None:
    """A task's latency runs from the start of its registration to the answer to its success report."""
    start_at, stop_at = window
    await asyncio.sleep(max(0.0, start_at - time.time()))
    i = 0
    while time.time() < stop_at:
        began: dict[str, float] = {}
        for _ in range(batch):
            body = json.dumps({"jobId": f"{name}-{i}", "payloadId": "p", "parameters": '"MYPACS"', "uris": ["a.dcm"]})
            started = time.perf_counter()
            status, task = await client.call("POST", f"/api/tasks/register/{name}", body.encode())
            assert status == 201, task
            began[task["taskId"]] = started
            i += 1
        status, tasks = await client.call("GET", f"/api/tasks/{name}/pending?size={batch}")
        assert status == 200 and len(tasks) == batch, tasks
        for task in tasks:
            status, answer = await client.call("PUT", f"/api/tasks/success/{task['taskId']}")
            assert status == 200, answer
            out.append(time.perf_counter() - began[task["taskId"]])


async def _agents(job: Job, names: list[str]) -> list[float]:
    clients = [await _open(job.client, job.url) for _ in names]
    latencies: list[float] = []
    try:
        await asyncio.gather(
            *(_agent(c, n, job.batch, job.window, latencies) for c, n in zip(clients, names, strict=True))
        )
    finally:
        for client in clients:
            await client.close()
    return latencies


@dataclass
class Job:
    url: str
    client: str
    batch: int
    window: tuple[float, float]
    names: list[str] = field(default_factory=list)


def _worker(job: Job, queue: mp.Queue[tuple[list[float], float]]) -> None:
    cpu = time.process_time()
    latencies = asyncio.run(_agents(job, job.names))
    queue.put((latencies, time.process_time() - cpu))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(service: Service, args: argparse.Namespace, agents: int, batch: int, run: int) -> dict[str, float]:
    queue: mp.Queue[tuple[list[float], float]] = mp.Queue()
    start_at = time.time() + 1.0  # let every worker connect first
    names = [f"{service.label}-{agents}x{batch}r{run}-{i}" for i in range(agents)]
    workers = max(1, min(args.workers, agents))
    jobs = [
        Job(service.url, args.client, batch, (start_at, start_at + args.seconds), names[w::workers])
        for w in range(workers)
    ]
    procs = [mp.Process(target=_worker, args=(job, queue)) for job in jobs]
    for proc in procs:
        proc.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu_before = _cpu_seconds(service.proc.pid)
    results = [queue.get(timeout=args.seconds + 60) for _ in procs]
    cpu = _cpu_seconds(service.proc.pid) - cpu_before
    for proc in procs:
        proc.join()
    latencies = sorted(value for result in results for value in result[0])
    done = max(1, len(latencies))
    return {
        "tasks_per_s": len(latencies) / args.seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "cpu_ms": cpu * 1000 / done,
        "client_cpu_ms": sum(result[1] for result in results) * 1000 / done,
    }


async def _floor_async(url: str, pid: int, requests: int) -> float:
    client = await RawClient.open(url)
    await client.call("GET", "/health/live")
    before = _cpu_seconds(pid)
    for _ in range(requests):
        await client.call("GET", "/health/live")
    await client.close()
    return (_cpu_seconds(pid) - before) * 1000 / requests


@dataclass
class Service:
    label: str
    proc: subprocess.Popen[bytes]
    url: str


def _parse_variant(spec: str) -> tuple[str, str | None, dict[str, str]]:
    head, *envs = spec.split("+")
    label, _, src = head.partition("@")
    return label, src or None, dict(env.split("=", 1) for env in envs)


def _serve(folder: Path, spec: str) -> Service:
    label, src, extra_env = _parse_variant(spec)
    port = _free_port()
    home = folder / label
    home.mkdir()
    config = home / "results.yaml"
    settings = {"port": port, "database": {"path": str(home / "r.db")}, "cleanup": {"enabled": False}}
    config.write_text(yaml.safe_dump({**settings, "log_level": "WARNING"}))
    path = os.pathsep.join(filter(None, [src, str(REPO), os.environ.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "results_service", "serve", "-f", str(config)]
    # cwd is the variant's folder: `-m` puts the cwd first on sys.path, which would shadow SRC.
    proc = subprocess.Popen(argv, cwd=home, env={**os.environ, "PYTHONPATH": path, **extra_env})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/ready").status_code == 200:
                return Service(label, proc, url)
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"results service {label} did not start")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _measure(services: list[Service], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Interleaved: every variant runs scenario S, run R before any variant runs R + 1."""
    specs = [tuple(int(part) for part in spec.split("x")) for spec in args.scenarios.split(",")]
    runs: dict[tuple[str, int, int], list[dict[str, float]]] = {}
    for run in range(args.repeat):
        for agents, batch in specs:
            for service in services:
                result = _run(service, args, agents, batch, run)
                runs.setdefault((service.label, agents, batch), []).append(result)
                print(f"run {run} {service.label} {agents}x{batch}: {result}", file=sys.stderr)
    rows = []
    for (label, agents, batch), results in runs.items():
        row = {key: statistics.median(r[key] for r in results) for key in results[0]}
        rows.append({"variant": label, "agents": agents, "batch": batch, **row})
    return rows


def _markdown(
    rows: list[dict[str, Any]], args: argparse.Namespace, load: tuple[float, ...], floors: dict[str, float]
) -> str:
    first = {(r["agents"], r["batch"]): r["tasks_per_s"] for r in rows if r["variant"] == rows[0]["variant"]}
    lines = [
        f"`.venv/bin/python bench/results_cycles.py --seconds {args.seconds:g} --repeat {args.repeat} "
        f"--scenarios {args.scenarios} --client {args.client} --workers {args.workers} --variants '{args.variants}'` "
        f"on {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC; 1-min load average {load[0]:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after (other engineers' work shares the machine). Medians of {args.repeat} "
        "interleaved runs; the ratio is tasks/s against the first variant in the same run.",
        "",
        "Framework floor (`GET /health/live`, service CPU per request): "
        + ", ".join(f"{label} {value:.3f} ms" for label, value in floors.items())
        + ".",
        "",
        "| variant | agents | lease size | tasks/s | ratio | p50 (ms) | p99 (ms) | service CPU/task (ms) "
        "| client CPU/task (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["agents"], r["batch"])):
        ratio = r["tasks_per_s"] / first[(r["agents"], r["batch"])]
        lines.append(
            f"| {r['variant']} | {r['agents']} | {r['batch']} | {r['tasks_per_s']:.0f} | {ratio:.2f} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['cpu_ms']:.2f} | {r['client_cpu_ms']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenarios", default="1x1,16x1,16x10", help="AGENTSxLEASE_SIZE, comma-separated")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--workers", type=int, default=1, help="Client processes the agents are spread over.")
    parser.add_argument("--variants", default="current", help="LABEL[@SRC][+ENV=VALUE...], comma-separated")
    parser.add_argument("--out", type=Path, default=None, help="Also write the markdown table to this file.")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        services: list[Service] = []
        try:
            for spec in args.variants.split(","):
                services.append(_serve(Path(tmp), spec))
            floors = {s.label: asyncio.run(_floor_async(s.url, s.proc.pid, 2000)) for s in services}
            rows = _measure(services, args)
        finally:
            for service in services:
                service.proc.send_signal(signal.SIGTERM)
                service.proc.wait(30)
    table = _markdown(rows, args, load, floors)
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
