"""Benchmark: the DICOM adapter, and our SCP alone, against DCMTK storescp and the disk's durable-write
rate; same sender (storescu) and data, loopback only.

    .venv/bin/python bench/scp_receive.py [--runs 5] [--big-gb 2.0] [--out docs/benchmarks-scp.md]
    .venv/bin/python bench/scp_receive.py --cases big --receivers adapter,storescp,disk   # one case

Receivers: `adapter` is the whole adapter process as a user runs it (bench/adapter_receiver.py: a real
platform_server, an AE title with a one-operator pipeline: payloads grouped, jobs created, files
uploaded, jobs started); `ours` is the SCP alone with a no-op sink; `storescp` (`--fork` for the
concurrent case); `disk` writes the same files with one fdatasync each (the durable-write rate of the
disk, in the same run; one writer thread per association). After each adapter send the run waits
(untimed) for its job to be RUNNING: the hand-off latency is that wait minus the grouping timeout.
Cases: 500 CT 512x512 (~263 MB) on one association; 1,000 small 64x64 instances; 4 concurrent
associations (storescp --fork); `b2b`: --b2b-studies studies of 500 CT sent back to back with no pause
(the adapter's sustained rate counts until every job is RUNNING); peak RSS (VmHWM) of our SCP and of
the adapter while they receive a large study. Data is generated
into /dev/shm (or a tmp dir); both receivers write to the same disk (a tmp dir under /var/tmp). Our SCP
makes every instance durable (one fdatasync, completion record) before it answers; storescp does not
fsync. Each run starts a fresh SCP on an empty spool, which makes its pool of spare files before the
port opens (untimed, as in production: at the first start, then while idle); "fewspares" shows a burst
longer than the pool (64 spares, refilled while receiving). A/B of two versions of our code:
--receivers ours,baseline --baseline DIR (DIR holds a copy of an earlier dicom_adapter/ and
openclara/), interleaved within each run; `adapter-baseline` runs the adapter on that copy. The first
receiver listed and the last alternate going first. TCP_NODELAY=1 is set
for every DCMTK process. Timing: from the sender's start to its exit (the last response received);
`sync` runs before each timed send, once the receiver is up.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if os.environ.get("SCP_BENCH_CODE"):  # A/B runs: a copy of an earlier dicom_adapter/ + openclara/
    sys.path.insert(0, os.environ["SCP_BENCH_CODE"])

if TYPE_CHECKING:  # imported lazily: the `serve` process (our SCP alone) must not load the stack's clients
    from bench.adapter_receiver import BenchPlatform

CALLED = "CLARA"
CALLING = "BENCH"


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


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Receiver:
    name: str
    process: subprocess.Popen[bytes] | None
    port: int
    out: Path  # where the received files are counted
    # The adapter: perf_counter() once the jobs of `n` studies just sent are RUNNING; and its process id.
    jobs_running: Callable[[int], float] | None = None
    pid: int | None = None

    def send(self, groups: list[list[Path]]) -> float:
        return send(self.port, groups)

    @property
    def process_id(self) -> int | None:
        return self.pid if self.pid is not None else self.process.pid if self.process is not None else None

    def peak_rss_mb(self) -> float:
        pid = self.process_id
        return peak_rss_mb(pid) if pid is not None else float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU of the receiver process so far (all its threads; storescp --fork: the parent only)."""
        pid = self.process_id
        if pid is None:
            return float("nan")
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is None:
            return
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


@contextmanager
def adapter(out: Path, bench: BenchPlatform, timeout: float, code: Path | None = None) -> Iterator[Receiver]:
    """The whole adapter process (fresh spool and database) attached to the benchmark's platform."""
    from bench.adapter_receiver import adapter as start_adapter

    with start_adapter(out, bench, CALLED, CALLING, timeout, code) as process:
        name = f"adapter, baseline {code.name}" if code is not None else "adapter"
        yield Receiver(name, None, process.dicom_port, process.spool, bench.wait_jobs, process.pid)


class DiskWriter(Receiver):
    """Not a receiver: writes the files the senders would send, one fdatasync each (one thread per group)."""

    def send(self, groups: list[list[Path]]) -> float:
        self.out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with ThreadPoolExecutor(len(groups)) as pool:
            list(pool.map(self._write, groups))
        return time.perf_counter() - start

    def _write(self, files: list[Path]) -> None:
        for source in files:
            data = source.read_bytes()
            fd = os.open(self.out / source.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fdatasync(fd)
            finally:
                os.close(fd)


@contextmanager
def disk(out: Path) -> Iterator[Receiver]:
    yield DiskWriter("disk: write + fdatasync each", None, 0, out)


# ---------------------------------------------------------------- senders


def storescu(port: int, files: list[Path]) -> subprocess.Popen[bytes]:
    argv = ["storescu", "-aec", CALLED, "-aet", CALLING, "127.0.0.1", str(port), *map(str, files)]
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

DISK = "disk: write + fdatasync each"


@dataclass
class Result:
    case: str
    receiver: str
    seconds: list[float]
    instances: int
    megabytes: float
    cpu: list[float] = field(default_factory=list)  # CPU seconds of the receiver process during the send
    handoffs: list[float] = field(default_factory=list)  # adapter: last ack -> job RUNNING, minus the timeout
    sustained: list[float] = field(default_factory=list)  # b2b, adapter: first send -> every job RUNNING

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


ReceiverFactory = Callable[[Path], "AbstractContextManager[Receiver]"]


def run_case(
    case: str,
    groups: list[list[Path]],
    receivers: list[ReceiverFactory],
    runs: int,
    scratch: Path,
    timeout: float,
) -> list[Result]:
    files = [f for g in groups for f in g]
    megabytes = sum(f.stat().st_size for f in files) / 1e6
    results: dict[str, Result] = {}
    for run in range(runs):  # interleave receivers so machine noise hits both alike
        for factory in receivers if run % 2 == 0 else receivers[::-1]:  # and alternate who goes first
            out = scratch / f"out-{run}"
            shutil.rmtree(out, ignore_errors=True)
            handoff = None
            with factory(out) as receiver:
                # Nothing dirty left by the previous receiver (storescp never flushes) or by our spare
                # files: each timed run starts with a clean page cache to write back, whoever went first.
                os.sync()
                cpu = receiver.cpu_seconds()
                seconds = receiver.send(groups)
                acked = time.perf_counter()
                cpu = receiver.cpu_seconds() - cpu
                stored = count_files(receiver.out)
                if receiver.jobs_running is not None:  # the adapter: wait (untimed) for its job
                    handoff = receiver.jobs_running(1) - acked - timeout
            if stored < len(files):
                raise RuntimeError(f"{receiver.name}: {stored} of {len(files)} files stored")
            result = results.setdefault(receiver.name, Result(case, receiver.name, [], len(files), megabytes))
            result.seconds.append(seconds)
            result.cpu.append(cpu)
            shown = "" if cpu != cpu else f"   CPU {cpu:.2f} s"
            if handoff is not None:
                result.handoffs.append(handoff)
                shown += f"   job RUNNING at timeout + {handoff * 1000:.0f} ms"
            shutil.rmtree(out, ignore_errors=True)
            print(f"  {case:28} {receiver.name:28} run {run + 1}: {seconds:7.3f} s{shown}", flush=True)
    return list(results.values())


def back_to_back(
    case: str, studies: list[list[Path]], receivers: list[ReceiverFactory], runs: int, scratch: Path
) -> list[Result]:
    """Each study on its own association, one after the other with no pause. The adapter's sustained
    time runs until the job of every study is RUNNING (hand-off included), storescp's until the last ack."""
    files = [f for s in studies for f in s]
    megabytes = sum(f.stat().st_size for f in files) / 1e6
    results: dict[str, Result] = {}
    for run in range(runs):
        for factory in receivers if run % 2 == 0 else receivers[::-1]:
            out = scratch / f"out-b2b-{run}"
            shutil.rmtree(out, ignore_errors=True)
            with factory(out) as receiver:
                os.sync()
                start = time.perf_counter()
                for study in studies:
                    receiver.send([study])
                seconds = time.perf_counter() - start
                sustained = seconds
                if receiver.jobs_running is not None:
                    sustained = receiver.jobs_running(len(studies)) - start
            result = results.setdefault(receiver.name, Result(case, receiver.name, [], len(files), megabytes))
            result.seconds.append(seconds)
            result.sustained.append(sustained)
            shutil.rmtree(out, ignore_errors=True)
            print(
                f"  {case:28} {receiver.name:28} run {run + 1}: {seconds:7.3f} s sent, {sustained:7.3f} s sustained",
                flush=True,
            )
    return list(results.values())


def peak_rss(name: str, factory: ReceiverFactory, files: list[Path], scratch: Path) -> str:
    """A sentence: peak RSS (VmHWM) of a fresh receiver process receiving `files` (and, for the
    adapter, until its job is RUNNING: the upload included)."""
    out = scratch / "out-rss"
    shutil.rmtree(out, ignore_errors=True)
    megabytes = sum(f.stat().st_size for f in files) / 1e6
    with factory(out) as receiver:
        idle = receiver.peak_rss_mb()
        seconds = receiver.send([files])
        peak = receiver.peak_rss_mb()
        after = ""
        if receiver.jobs_running is not None:
            receiver.jobs_running(1)
            after = f"; {receiver.peak_rss_mb():.0f} MB once its job ran (upload included)"
    shutil.rmtree(out, ignore_errors=True)
    print(f"  RSS {name}: idle {idle:.0f} MB, peak {peak:.0f} MB{after}", flush=True)
    return (
        f"Peak RSS of {name} (VmHWM) receiving {len(files)} instances = {megabytes / 1e3:.2f} GB in one "
        f"association: **{peak:.0f} MB** (idle {idle:.0f} MB{after}; {megabytes / seconds:.0f} MB/s)."
    )


# ---------------------------------------------------------------- report


def table(results: list[Result], timeout: float) -> list[str]:
    lines = [
        "| case | receiver | median s | instances/s | MB/s | ratio to storescp | ratio to disk durable rate "
        f"| job RUNNING after last ack, minus the {timeout:g} s timeout (median ms) | CPU ms per instance | runs (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    cases: dict[str, list[Result]] = {}
    for r in results:
        cases.setdefault(r.case, []).append(r)
    for case, group in cases.items():
        # Without storescp in the run (an A/B of our versions only), ratios are to the first receiver.
        base = next((r for r in group if r.receiver.startswith("storescp")), group[0])
        durable = next((r for r in group if r.receiver == DISK), None)
        for r in group:
            disk_ratio = f"{durable.median / r.median:.2f}x" if durable is not None else ""
            handoff = f"{statistics.median(r.handoffs) * 1000:.0f}" if r.handoffs else ""
            cpu = statistics.median(r.cpu) if r.cpu else float("nan")
            forked = r.receiver == "storescp --fork"  # its children receive: the parent's CPU says nothing
            cpu_shown = "" if cpu != cpu or forked else f"{cpu * 1000 / r.instances:.2f}"
            runs = ", ".join(f"{s:.2f}" for s in r.seconds)
            lines.append(
                f"| {case} | {r.receiver} | {r.median:.3f} | {r.instances / r.median:.0f} | "
                f"{r.megabytes / r.median:.0f} | {base.median / r.median:.2f}x | {disk_ratio} | {handoff} | "
                f"{cpu_shown} | {runs} |"
            )
    return lines


def b2b_table(results: list[Result]) -> list[str]:
    lines = [
        "| case | receiver | median s, sends | median s, until every job RUNNING | sustained MB/s "
        "| ratio to storescp | runs, sustained (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    base = next((r for r in results if r.receiver.startswith("storescp")), results[0])
    for r in results:
        sustained = statistics.median(r.sustained)
        until = f"{sustained:.3f}" if r.receiver.startswith("adapter") else ""
        runs = ", ".join(f"{s:.2f}" for s in r.sustained)
        lines.append(
            f"| {r.case} | {r.receiver} | {r.median:.3f} | {until} | {r.megabytes / sustained:.0f} | "
            f"{statistics.median(base.sustained) / sustained:.2f}x | {runs} |"
        )
    return lines


def receivers(
    names: list[str], baseline: Path | None, fork: bool, bench: BenchPlatform | None, timeout: float
) -> list[tuple[str, ReceiverFactory]]:
    """(name, receiver factory) in run order (interleaved within each run)."""
    factories: dict[str, ReceiverFactory] = {
        "ours": ours,
        "storescp": lambda out: storescp(out, fork=fork),
        "disk": disk,
        "nofsync": lambda out: ours(out, fsync=False),
        "baseline-nofsync": lambda out: ours(out, fsync=False, code=baseline),
        # A pool of 64 spare files refilled while receiving: a burst longer than storage.spare_files.
        "fewspares": lambda out: ours(out, spares=64),
        "baseline": lambda out: ours(out, code=baseline),
    }
    if bench is not None:
        factories["adapter"] = lambda out: adapter(out, bench, timeout)
        factories["adapter-baseline"] = lambda out: adapter(out, bench, timeout, code=baseline)
    return [(name, factories[name]) for name in names if "baseline" not in name or baseline is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big-gb", type=float, default=2.0, help="size of the RSS study (GB)")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    parser.add_argument("--cases", default="big,small,concurrent,b2b,rss")
    parser.add_argument(
        "--receivers",
        default="adapter,ours,disk,storescp",
        help="also: nofsync, fewspares, baseline, baseline-nofsync, adapter-baseline (the first and the last "
        "alternate going first)",
    )
    parser.add_argument("--baseline", type=Path, default=None, help="dir with an earlier dicom_adapter/ (A/B)")
    parser.add_argument("--timeout", type=float, default=1.0, help="the adapter AE title's grouping timeout (s)")
    parser.add_argument("--b2b-studies", type=int, default=10, help="studies of 500 CT sent back to back")
    parser.add_argument("--b2b-runs", type=int, default=3)
    parser.add_argument("--upload", action="store_true",
                        help="the platform refuses hard links: the adapter uploads each payload (across machines)")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    names = args.receivers.split(",")
    source_root = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    with (
        tempfile.TemporaryDirectory(dir=source_root, prefix="scp-bench-src-") as src,
        tempfile.TemporaryDirectory(dir="/var/tmp", prefix="scp-bench-out-") as scratch_dir,
        ExitStack() as stack,
    ):
        src_dir, scratch = Path(src), Path(scratch_dir)
        bench = None
        if any(name.startswith("adapter") for name in names):
            from bench.adapter_receiver import platform

            bench = stack.enter_context(platform(scratch / "platform", None if args.upload else scratch))
        results: list[Result] = []
        lines: list[str] = []
        if cases & {"big", "concurrent"}:
            ct = make_ct_files(src_dir / "ct", 500, 512)
        named = receivers(names, args.baseline, False, bench, args.timeout)
        one = [factory for _, factory in named]
        if "big" in cases:
            results += run_case("500 CT 512x512, 1 assoc", [ct], one, args.runs, scratch, args.timeout)
        if "small" in cases:
            small = make_ct_files(src_dir / "small", 1000, 64)
            results += run_case("1,000 x 64x64, 1 assoc", [small], one, args.runs, scratch, args.timeout)
        if "concurrent" in cases:
            groups = [ct[i::4] for i in range(4)]
            forked = [factory for _, factory in receivers(names, args.baseline, True, bench, args.timeout)]
            results += run_case("500 CT, 4 concurrent assocs", groups, forked, args.runs, scratch, args.timeout)
        lines += table(results, args.timeout)
        if "b2b" in cases:
            studies = [make_ct_files(src_dir / f"b2b{n}", 500, 512) for n in range(args.b2b_studies)]
            # The adapter against storescp; the SCP alone shows what the adapter's other work costs meanwhile.
            b2b = [factory for name, factory in named if name in ("adapter", "ours", "storescp")]
            case = f"{args.b2b_studies} x 500 CT back to back"
            lines += ["", *b2b_table(back_to_back(case, studies, b2b, args.b2b_runs, scratch))]
            for n in range(args.b2b_studies):
                shutil.rmtree(src_dir / f"b2b{n}", ignore_errors=True)
        if "rss" in cases:
            count = max(1, math.ceil(args.big_gb * 1e9 / 268e6))
            big = make_ct_files(src_dir / "big", count, 11585)  # 11585^2 x 2 bytes = 268 MB per instance
            lines.append("")
            # Quiet for 10 s at least before the payload closes: one 268 MB instance can take longer than a
            # short timeout to arrive, which would close (and upload) the study between two instances.
            for name, factory in receivers(names, args.baseline, False, bench, max(args.timeout, 10.0)):
                if name in ("ours", "adapter"):
                    lines.append(peak_rss("our SCP" if name == "ours" else "the adapter", factory, big, scratch))
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
    if os.environ.get("SCP_BENCH_PROFILE"):  # a directory: a cProfile of this SCP's life goes there
        import cProfile

        profile = Path(os.environ["SCP_BENCH_PROFILE"]) / f"scp-{spool.name}-{time.time_ns()}.prof"
        with cProfile.Profile() as profiler:
            try:
                asyncio.run(run())
            finally:
                profiler.dump_stats(profile)
    else:
        asyncio.run(run())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[sys.argv.index("--port") + 1]), Path(sys.argv[sys.argv.index("--spool") + 1]))
    else:
        main()
