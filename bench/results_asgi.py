"""Benchmark: the service's own CPU cost per register -> lease -> success cycle, without HTTP or sockets.

    .venv/bin/python bench/results_asgi.py [--cycles 2000] [--repeat 5]

Calls the FastAPI app directly through ASGI (real routes, validation, SQLite database in a temp
folder, no uvicorn, no client library), so the figure is what our code and FastAPI cost per cycle,
much less disturbed by other processes than an end-to-end run. CPU is process time (all threads,
which includes aiosqlite's worker thread). Prints the median over `--repeat` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from openclara.auth.credentials import auth_headers
from openclara.logs import configure_logging
from results_service.app import create_app
from results_service.settings import ResultsSettings


async def _call(app: Any, method: str, path: str, body: bytes = b"", query: bytes = b"") -> Any:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    *((key.lower().encode(), value.encode()) for key, value in auth_headers().items())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return json.loads(messages[1]["body"])


async def _cycle(app: Any, i: int) -> None:
    body = json.dumps({"jobId": f"j{i}", "parameters": '"MYPACS"', "uris": ["a.dcm"]}).encode()
    await _call(app, "POST", "/api/tasks/register/ClaraSCU", body)
    (task,) = await _call(app, "GET", "/api/tasks/ClaraSCU/pending", query=b"size=1")
    await _call(app, "PUT", f"/api/tasks/success/{task['taskId']}")


async def _run(cycles: int, repeat: int) -> list[tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = ResultsSettings.model_validate(
            {"database": {"path": Path(tmp) / "r.db"}, "cleanup": {"enabled": False}}
        )
        app = create_app(settings)
        results = []
        async with app.router.lifespan_context(app):
            for i in range(200):  # warm-up
                await _cycle(app, -i - 1)
            for run in range(repeat):
                wall, cpu = time.perf_counter(), time.process_time()
                for i in range(cycles):
                    await _cycle(app, run * cycles + i)
                results.append(
                    ((time.perf_counter() - wall) * 1000 / cycles, (time.process_time() - cpu) * 1000 / cycles)
                )
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    configure_logging("WARNING")
    results = asyncio.run(_run(args.cycles, args.repeat))
    wall = statistics.median(r[0] for r in results)
    cpu = statistics.median(r[1] for r in results)
    print(
        f"in-process cycle (register + lease + success), median of {args.repeat} x {args.cycles}: "
        f"wall {wall:.2f} ms, CPU {cpu:.2f} ms, i.e. {1000 / cpu:.0f} cycles/s per core"
    )


if __name__ == "__main__":
    main()
