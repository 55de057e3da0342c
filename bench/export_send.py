"""Export send-path throughput into DCMTK storescp: our asyncio SCU vs DCMTK storescu vs pynetdicom.

    .venv/bin/python bench/export_send.py [--count 500] [--size 512] [--rounds 3]
    # A/B of two versions of our code (DIR holds a copy of an earlier dicom_adapter/ and openclara/):
    .venv/bin/python bench/export_send.py --senders openclara,baseline --baseline DIR --rounds 8

Every sender sends the same files (CT, Explicit VR LE, from tmpfs) to a fresh storescp on loopback
(TCP_NODELAY=1) that writes to tmpfs; the timer runs from sender start to the last response. Ours goes
through `Deliverer.deliver` (per-file progress committed to SQLite, as in production). CPU seconds are
the sender's own (process_time for in-process senders, rusage of the child for storescu). In an A/B
(--baseline), "openclara" and "baseline" each send from a child process of their own (this script with
--child, EXPORT_BENCH_CODE=DIR for the baseline), which times itself as above; the sender order
alternates round by round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if os.environ.get("EXPORT_BENCH_CODE"):  # A/B runs: a copy of an earlier dicom_adapter/ + openclara/
    sys.path.insert(0, os.environ["EXPORT_BENCH_CODE"])

from dicom_adapter.export.delivery import Deliverer  # noqa: E402
from dicom_adapter.export.progress import ProgressRepository  # noqa: E402
from dicom_adapter.export.settings import ExportSettings  # noqa: E402
from dicom_adapter.models import DestinationAeTitle  # noqa: E402
from tests.support.instances import make_series  # noqa: E402
from tests.support.network import free_port  # noqa: E402
from tests.support.processes import port_open, wait_for  # noqa: E402

ENV = {**os.environ, "TCP_NODELAY": "1"}
Sender = Callable[[list[Path], int], tuple[float, float]]


class Receiver:
    """A fresh storescp writing into tmpfs."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.out = Path(tempfile.mkdtemp(dir=root))
        self.proc = subprocess.Popen(
            ["storescp", "-aet", "DEST", "-od", str(self.out), str(self.port)],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: port_open(self.port), 20, "storescp")

    def close(self) -> int:
        count = len(list(self.out.iterdir()))
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.out)
        return count


def run_storescu(files: list[Path], port: int) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        ["storescu", "-aec", "DEST", "-aet", "STORESCU", "127.0.0.1", str(port), *map(str, files)],
        env=ENV,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_ours(files: list[Path], port: int, state: Path) -> tuple[float, float]:
    async def send() -> None:
        progress = ProgressRepository(state / f"progress-{time.monotonic_ns()}.db")
        await progress.open()
        try:
            deliverer = Deliverer(ExportSettings(state_dir=state), progress)
            destination = DestinationAeTitle("BENCH", "DEST", "127.0.0.1", port)
            await deliverer.deliver("bench", destination, {f.name: f for f in files})
        finally:
            await progress.close()

    cpu, start = time.process_time(), time.perf_counter()
    asyncio.run(send())
    return time.perf_counter() - start, time.process_time() - cpu


def run_child(files: list[Path], port: int, state: Path, code: Path | None) -> tuple[float, float]:
    """`run_ours` in a child process (of `code`, an earlier copy of our packages, when given)."""
    listing = state / f"files-{time.monotonic_ns()}.json"
    listing.write_text(json.dumps([str(f) for f in files]))
    env = {**ENV, "EXPORT_BENCH_CODE": str(code)} if code is not None else ENV
    child = [sys.executable, __file__, "--child", str(port), str(state), str(listing)]
    done = subprocess.run(child, env=env, check=True, capture_output=True, text=True)
    wall, cpu = json.loads(done.stdout.strip().splitlines()[-1])
    return float(wall), float(cpu)


def run_pynetdicom(files: list[Path], port: int) -> tuple[float, float]:
    # Stock pynetdicom (no TCP_NODELAY: it has no hook for it). Forcing TCP_NODELAY on its socket made
    # it stall for its 30 s DIMSE timeout after ~200-230 CT instances here, reproducibly.
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage

    cpu, start = time.process_time(), time.perf_counter()
    ae = AE(ae_title="PYNETDICOM")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    ae.maximum_pdu_size = 0
    assoc = ae.associate("127.0.0.1", port, ae_title="DEST")
    for path in files:
        status = assoc.send_c_store(path)  # a path: pynetdicom reads the data set raw
        assert status.Status == 0x0000
    assoc.release()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pynetdicom-rounds", type=int, default=1, help="0 to skip; it is slow (Nagle)")
    parser.add_argument("--senders", default="storescu,openclara,pynetdicom", help="also: baseline")
    parser.add_argument("--baseline", type=Path, default=None, help="dir with an earlier dicom_adapter/ (A/B)")
    parser.add_argument("--child", nargs=3, metavar=("PORT", "STATE", "FILES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        port, state, listing = args.child
        paths = [Path(p) for p in json.loads(Path(listing).read_text())]
        print(json.dumps(run_ours(paths, int(port), Path(state))))
        return
    root = Path(tempfile.mkdtemp(prefix="export-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        files = make_series(root / "src", args.count, size=args.size)
        megabytes = sum(f.stat().st_size for f in files) / 1e6
        senders = _senders(args.senders.split(","), root, args.baseline, args.pynetdicom_rounds)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in senders}
        for round_index in range(args.rounds):
            order = list(senders.items())
            for name, send in order if round_index % 2 == 0 else order[::-1]:  # interleaved, alternating
                if name == "pynetdicom" and round_index >= args.pynetdicom_rounds:
                    continue
                receiver = Receiver(root)
                try:
                    results[name].append(send(files, receiver.port))
                finally:
                    arrived = receiver.close()
                assert arrived == len(files), f"{name}: {arrived} of {len(files)} files arrived"
        print(f"{args.count} x CT {args.size}x{args.size} ({megabytes:.0f} MB), {args.rounds} rounds, medians:")
        first = next(iter(results))
        base = results[first]  # ratios are to the first sender (storescu by default)
        for name, runs in results.items():
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            # Paired by round: each ratio compares two sends made seconds apart, under the same load.
            paired = statistics.median(b[0] / r[0] for b, r in zip(base, runs, strict=False))
            print(
                f"  {name:11s} {wall:6.2f} s  {megabytes / wall:6.0f} MB/s  {args.count / wall:6.0f} inst/s  "
                f"CPU {cpu:5.2f} s ({1000 * cpu / args.count:4.2f} ms/inst)  throughput vs {first} "
                f"{paired:4.2f}x   runs: {', '.join(f'{w:.2f}' for w, _ in runs)}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _senders(names: list[str], root: Path, baseline: Path | None, pynetdicom_rounds: int) -> dict[str, Sender]:
    isolated = baseline is not None  # an A/B: both versions of our code in child processes alike
    factories: dict[str, Sender] = {
        "storescu": run_storescu,
        "openclara": (lambda f, p: run_child(f, p, root, None)) if isolated else (lambda f, p: run_ours(f, p, root)),
        "baseline": lambda f, p: run_child(f, p, root, baseline),
        "pynetdicom": run_pynetdicom,
    }
    skipped = {"baseline"} if baseline is None else set()
    if not pynetdicom_rounds:
        skipped.add("pynetdicom")
    return {name: factories[name] for name in names if name not in skipped}


if __name__ == "__main__":
    main()
