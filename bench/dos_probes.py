"""Benchmark: is the PACS still served while an attacker holds idle TCP connections to the DICOM port?

    .venv/bin/python bench/dos_probes.py [--runs 3] [--idle 50] [--cap 30]

Receivers, each a real process on loopback with its default settings: the openclara DICOM adapter
(`python -m dicom_adapter serve`), DCMTK storescp (one process), storescp --fork, and Orthanc.
Cases:
- `none`: no attacker;
- `idle`: `--idle` TCP connections opened first and held, never sending an A-ASSOCIATE-RQ;
- `flood`: the same number, re-opened as soon as the receiver closes one, all along.
The PACS is DCMTK storescu sending 5 small CT instances on one association; its time is measured from
its start to its exit, capped at `--cap` seconds ("locked out" beyond). Also reported: how many idle
connections the receiver still held open one second after they were opened. Each run goes through the
receivers in an order that alternates between runs, with `sync` before each timed send; medians are
reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.harness import Adapter, free_port, seed, wait_until, write_study  # noqa: E402
from tests.support.network import closed_by_server  # noqa: E402
from tests.support.processes import orthanc  # noqa: E402

CALLED = "CLARA"
Receiver = Callable[[Path], AbstractContextManager[int]]  # a running receiver's DICOM port


@contextmanager
def adapter(root: Path) -> Iterator[int]:
    root.mkdir(parents=True)
    running = Adapter(root, f"127.0.0.1:{free_port()}", seed=seed({"seg": "a" * 32}))  # platform unreachable
    running.start()
    try:
        yield running.dicom_port
    finally:
        assert running.service is not None
        running.service.terminate()


def _storescp(fork: bool) -> Receiver:
    @contextmanager
    def run(root: Path) -> Iterator[int]:
        port = free_port()
        out = root / "storescp"
        out.mkdir(parents=True)  # root too
        argv = ["storescp", "-od", str(out), "-aet", CALLED, *(["--fork"] if fork else []), str(port)]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: _listening(port), 30, what="storescp")
            yield port
        finally:
            process.terminate()
            process.wait(10)
            subprocess.run(["pkill", "-f", f"storescp -od {out}"], check=False)  # --fork children
    return run


@contextmanager
def orthanc_pacs(root: Path) -> Iterator[int]:
    port = free_port()
    with orthanc(shutil.which("Orthanc") or "Orthanc", root / "orthanc", free_port(), port, {}):
        yield port


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    return False


async def _storescu(port: int, files: list[Path], cap: float) -> float | None:
    process = await asyncio.create_subprocess_exec(
        "storescu", "-aec", CALLED, "-aet", "STORESCU", "127.0.0.1", str(port), *map(str, files),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    started = time.monotonic()
    try:
        async with asyncio.timeout(cap):
            code = await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    return time.monotonic() - started if code == 0 else None


async def _attack(port: int, count: int, reopen: bool, held: list[int]) -> None:
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    try:
        await asyncio.sleep(1.0)
        held.append(sum(not closed_by_server(s) for s in socks))
        while reopen:
            for n, sock in enumerate(socks):
                if closed_by_server(sock):
                    sock.close()
                    with contextlib.suppress(OSError):
                        socks[n] = socket.create_connection(("127.0.0.1", port), timeout=1)
            await asyncio.sleep(0.01)
        await asyncio.Event().wait()
    finally:
        for sock in socks:
            sock.close()


async def _case(port: int, case: str, files: list[Path], idle: int, cap: float) -> tuple[float | None, int | None]:
    held: list[int] = []
    attacker = None
    if case != "none":
        attacker = asyncio.create_task(_attack(port, idle, case == "flood", held))
        await asyncio.sleep(1.2)
    subprocess.run(["sync"], check=False)
    seconds = await _storescu(port, files, cap)
    if attacker is not None:
        attacker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await attacker
    return seconds, (held[0] if held else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=int, default=50)
    parser.add_argument("--cap", type=float, default=30.0)
    args = parser.parse_args()
    receivers: dict[str, Receiver] = {"openclara": adapter, "storescp": _storescp(False),
                                      "storescp --fork": _storescp(True), "Orthanc": orthanc_pacs}
    cases = ("none", "idle", "flood")
    results: dict[tuple[str, str], list[float | None]] = {}
    held: dict[tuple[str, str], list[int]] = {}
    root = Path(tempfile.mkdtemp(prefix="dos-probes-"))
    files = write_study(root / "study", series=1, per_series=5)
    names = list(receivers)
    for run in range(args.runs):
        for n, name in enumerate(names if run % 2 == 0 else reversed(names)):
            for case in cases:
                with receivers[name](root / f"{run}-{n}-{case}") as port:
                    seconds, open_count = asyncio.run(_case(port, case, files, args.idle, args.cap))
                results.setdefault((name, case), []).append(seconds)
                if open_count is not None:
                    held.setdefault((name, case), []).append(open_count)
    print(f"| receiver | no attacker: storescu (s) | {args.idle} idle sockets: storescu (s) "
          f"| idle held after 1 s | re-opening flood: storescu (s) |")
    print("|---|---|---|---|---|")
    for name in names:
        cells = [_median(results[(name, case)], args.cap) for case in cases]
        kept = statistics.median(held.get((name, "idle"), [0]))
        print(f"| {name} | {cells[0]} | {cells[1]} | {kept:.0f} of {args.idle} | {cells[2]} |")


def _median(values: list[float | None], cap: float) -> str:
    served = [v for v in values if v is not None]
    if len(served) < len(values):
        return f"locked out in {len(values) - len(served)} of {len(values)} runs (> {cap:g} s)"
    return f"{statistics.median(served):.2f}"


if __name__ == "__main__":
    main()
