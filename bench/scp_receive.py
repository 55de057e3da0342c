"""Benchmark: our asyncio SCP against DCMTK storescp, same sender (storescu) and data, loopback only.

    .venv/bin/python bench/scp_receive.py [--runs 3] [--big-gb 2.0] [--out docs/benchmarks-scp.md]

Cases: 500 CT 512x512 (~263 MB) on one association; 1,000 small 64x64 instances; 4 concurrent
associations (storescp --fork); peak RSS of our SCP while it receives a large study. Data is generated
into /dev/shm (or a tmp dir); both receivers write to the same disk (a tmp dir under /var/tmp). Our SCP
makes every instance durable (one fdatasync, completion record) before it answers; storescp does not
fsync. Each run starts a fresh SCP on an empty spool, which makes its pool of spare files before the
port opens (untimed, as in production: at the first start, then while idle); "fewspares" shows a burst
longer than the pool (64 spares, refilled while receiving). A/B of two versions of our code:
--receivers ours,baseline --baseline DIR (DIR holds a copy of an earlier dicom_adapter/ and
openclara/), interleaved within each run. TCP_NODELAY=1 is set
for every DCMTK process. Timing: from the sender's start to its exit (the last response received);
`sync` runs before each timed send, once the receiver is up.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if os.environ.get("SCP_BENCH_CODE"):  # A/B runs: a copy of an earlier dicom_adapter/ + openclara/
    sys.path.insert(0, os.environ["SCP_BENCH_CODE"])

CALLED = "CLARA"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# ---------------------------------------------------------------- data


def make_ct_files(directory: Path, count: int, size: int, frames_bytes: int | None = None) -> list[Path]:
    """`count` valid CT Image Storage files, explicit VR LE, `size` x `size` 16-bit, one study."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    directory.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    rng = np.random.default_rng(1)
    pixels = rng.integers(-1000, 2000, size=(size, size), dtype=np.int16).tobytes()
    paths = []
    for n in range(count):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientName, ds.PatientID, ds.Modality = "Bench^Phantom", "BENCH1", "CT"
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [0, 0, n]
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = pixels
        path = directory / f"{n:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- receivers


@dataclass
class Receiver:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    out: Path

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def nodelay_env() -> dict[str, str]:
    return os.environ | {"TCP_NODELAY": "1"}


@contextmanager
def ours(out: Path, fsync: bool = True, code: Path | None = None, spares: int | None = None) -> Iterator[Receiver]:
    port = free_port()
    env = nodelay_env() | {"SCP_BENCH_FSYNC": "1" if fsync else "0"}
    if spares is not None:
        env["SCP_BENCH_SPARES"] = str(spares)
    if code is not None:
        env["SCP_BENCH_CODE"] = str(code)
    process = subprocess.Popen(
        [sys.executable, __file__, "serve", "--port", str(port), "--spool", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    name = "ours" if fsync else "ours, no fsync (diag.)"
    if spares is not None:
        name = f"ours, {spares} spares (diag.)"
    baseline_name = f"baseline {code.name}" + ("" if fsync else ", no fsync") if code is not None else ""
    receiver = Receiver(baseline_name or name, process, port, out)
    try:
        wait_port(port)
        yield receiver
    finally:
        receiver.stop()


@contextmanager
def storescp(out: Path, fork: bool = False) -> Iterator[Receiver]:
    port = free_port()
    out.mkdir(parents=True, exist_ok=True)
    argv = ["storescp", "-od", str(out), "-aet", CALLED, *(["--fork"] if fork else []), str(port)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=nodelay_env())
    receiver = Receiver("storescp --fork" if fork else "storescp", process, port, out)
    try:
        wait_port(port)
        yield receiver
    finally:
        receiver.stop()


# ---------------------------------------------------------------- senders


def storescu(port: int, files: list[Path]) -> subprocess.Popen[bytes]:
    argv = ["storescu", "-aec", CALLED, "-aet", "BENCH", "127.0.0.1", str(port), *map(str, files)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=nodelay_env())


def send(port: int, groups: list[list[Path]]) -> float:
    """Seconds from the start of the first sender to the exit of the last; fails on any sender error."""
    start = time.perf_counter()
    processes = [storescu(port, files) for files in groups]
    for process in processes:
        _, err = process.communicate(timeout=600)
        if process.returncode != 0:
            raise RuntimeError(f"storescu failed: {err.decode(errors='replace')[-500:]}")
    return time.perf_counter() - start


def count_files(out: Path) -> int:
    return sum(1 for p in out.rglob("*") if p.is_file() and ".incoming" not in p.parts)


# ---------------------------------------------------------------- cases


@dataclass
class Result:
    case: str
    receiver: str
    seconds: list[float]
    instances: int
    megabytes: float

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def run_case(
    case: str,
    groups: list[list[Path]],
    receivers: list[Callable[[Path], object]],
    runs: int,
    scratch: Path,
) -> list[Result]:
    files = [f for g in groups for f in g]
    megabytes = sum(f.stat().st_size for f in files) / 1e6
    results: dict[str, Result] = {}
    for run in range(runs):  # interleave receivers so machine noise hits both alike
        for factory in receivers if run % 2 == 0 else receivers[::-1]:  # and alternate who goes first
            out = scratch / f"out-{run}"
            shutil.rmtree(out, ignore_errors=True)
            with factory(out) as receiver:  # type: ignore[attr-defined]
                # Nothing dirty left by the previous receiver (storescp never flushes) or by our spare
                # files: each timed run starts with a clean page cache to write back, whoever went first.
                os.sync()
                seconds = send(receiver.port, groups)
                stored = count_files(out)
            if stored < len(files):
                raise RuntimeError(f"{receiver.name}: {stored} of {len(files)} files stored")
            result = results.setdefault(receiver.name, Result(case, receiver.name, [], len(files), megabytes))
            result.seconds.append(seconds)
            shutil.rmtree(out, ignore_errors=True)
            print(f"  {case:28} {receiver.name:16} run {run + 1}: {seconds:7.3f} s", flush=True)
    return list(results.values())


def peak_rss(files: list[Path], scratch: Path) -> tuple[float, float, float]:
    """(peak RSS MB of a fresh SCP process receiving `files`, seconds, MB received)."""
    out = scratch / "out-rss"
    shutil.rmtree(out, ignore_errors=True)
    with ours(out) as receiver:
        idle = receiver.peak_rss_mb()
        seconds = send(receiver.port, [files])
        peak = receiver.peak_rss_mb()
    shutil.rmtree(out, ignore_errors=True)
    print(f"  RSS idle {idle:.0f} MB, peak {peak:.0f} MB", flush=True)
    return peak, seconds, sum(f.stat().st_size for f in files) / 1e6


# ---------------------------------------------------------------- report


def table(results: list[Result]) -> list[str]:
    lines = [
        "| case | receiver | median s | instances/s | MB/s | ratio ours/storescp | runs (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    cases: dict[str, list[Result]] = {}
    for r in results:
        cases.setdefault(r.case, []).append(r)
    for case, group in cases.items():
        # Without storescp in the run (an A/B of our versions only), ratios are to the first receiver.
        base = next((r for r in group if r.receiver.startswith("storescp")), group[0])
        for r in group:
            ratio = base.median / r.median
            runs = ", ".join(f"{s:.2f}" for s in r.seconds)
            lines.append(
                f"| {case} | {r.receiver} | {r.median:.3f} | {r.instances / r.median:.0f} | "
                f"{r.megabytes / r.median:.0f} | {ratio:.2f}x | {runs} |"
            )
    return lines


def receivers(names: list[str], baseline: Path | None, fork: bool) -> list[Callable[[Path], object]]:
    """Receiver factories in run order (interleaved within each run)."""
    factories: dict[str, Callable[[Path], object]] = {
        "ours": ours,
        "storescp": lambda out: storescp(out, fork=fork),
        "nofsync": lambda out: ours(out, fsync=False),
        "baseline-nofsync": lambda out: ours(out, fsync=False, code=baseline),
        # A pool of 64 spare files refilled while receiving: a burst longer than storage.spare_files.
        "fewspares": lambda out: ours(out, spares=64),
        "baseline": lambda out: ours(out, code=baseline),
    }
    return [factories[name] for name in names if not name.startswith("baseline") or baseline is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-gb", type=float, default=2.0, help="size of the RSS study (GB)")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    parser.add_argument("--cases", default="big,small,concurrent,rss")
    parser.add_argument(
        "--receivers", default="ours,storescp,nofsync,fewspares", help="also: baseline, baseline-nofsync"
    )
    parser.add_argument("--baseline", type=Path, default=None, help="dir with an earlier dicom_adapter/ (A/B)")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    source_root = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    with (
        tempfile.TemporaryDirectory(dir=source_root, prefix="scp-bench-src-") as src,
        tempfile.TemporaryDirectory(dir="/var/tmp", prefix="scp-bench-out-") as scratch_dir,
    ):
        src_dir, scratch = Path(src), Path(scratch_dir)
        results: list[Result] = []
        lines: list[str] = []
        if "big" in cases or "concurrent" in cases:
            ct = make_ct_files(src_dir / "ct", 500, 512)
        one = receivers(args.receivers.split(","), args.baseline, fork=False)
        if "big" in cases:
            results += run_case("500 CT 512x512, 1 assoc", [ct], one, args.runs, scratch)
        if "small" in cases:
            small = make_ct_files(src_dir / "small", 1000, 64)
            results += run_case("1,000 x 64x64, 1 assoc", [small], one, args.runs, scratch)
        if "concurrent" in cases:
            groups = [ct[i::4] for i in range(4)]
            forked = receivers(args.receivers.split(","), args.baseline, fork=True)
            results += run_case("500 CT, 4 concurrent assocs", groups, forked, args.runs, scratch)
        lines += table(results)
        if "rss" in cases:
            count = max(1, round(args.big_gb * 1e9 / 268e6))
            big = make_ct_files(src_dir / "big", count, 11585)  # 11585^2 x 2 bytes = 268 MB per instance
            peak, seconds, megabytes = peak_rss(big, scratch)
            lines += [
                "",
                f"Peak RSS of our SCP process (VmHWM) receiving {count} x 268 MB = {megabytes / 1e3:.2f} GB "
                f"in one association: **{peak:.0f} MB** ({megabytes / seconds:.0f} MB/s with fsync).",
            ]
        report = "\n".join(lines)
        print(report)
        if args.out:
            args.out.write_text(report + "\n")


# ---------------------------------------------------------------- the SCP under test


def serve(port: int, spool: Path) -> None:
    """Our StoreScp with a registry that knows every called AE and every source, and a no-op sink."""
    from dicom_adapter.models import ClaraAeTitle
    from dicom_adapter.scp.config import ScpSettings
    from dicom_adapter.scp.server import StoreScp
    from dicom_adapter.storage.settings import StorageSettings
    from dicom_adapter.storage.spool import Spool
    from openclara.logs import configure_logging

    class Registry:
        reject_unknown_sources = False

        def clara_ae_title(self, ae_title: str) -> ClaraAeTitle:
            return ClaraAeTitle(name=ae_title, ae_title=ae_title, pipelines={})

        def source_allowed(self, calling_ae_title: str, host: str) -> bool:
            return True

    class Sink:
        def instance_stored(self, instance: object) -> None:
            pass

        def association_ended(self, record: object) -> None:
            pass

    async def run() -> None:
        configure_logging("WARNING")
        # SCP_BENCH_FSYNC=0 shows what durability costs (a diagnostic row, never the headline figure).
        fsync = os.environ.get("SCP_BENCH_FSYNC", "1") != "0"
        # Unset: the default of storage.spare_files (a baseline copy of older code may not know the key).
        spares = {"spare_files": int(os.environ["SCP_BENCH_SPARES"])} if "SCP_BENCH_SPARES" in os.environ else {}
        storage = StorageSettings(spool_dir=spool, watermark_percent=100, reserve_space_gb=0, fsync=fsync, **spares)
        scp = StoreScp(
            ScpSettings(port=port, maximum_associations=50), storage, Spool.from_settings(storage), Registry(), Sink()
        )
        await scp.start()
        try:
            await asyncio.Event().wait()
        finally:
            await scp.stop()

    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(run())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[sys.argv.index("--port") + 1]), Path(sys.argv[sys.argv.index("--spool") + 1]))
    else:
        main()
