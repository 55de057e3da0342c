"""Profile: where a durable C-STORE receive waits, by syscall (strace -c -w: wall time inside each call).

    .venv/bin/python bench/scp_syscalls.py [--count 500] [--size 512] [--rounds 4] [--code LABEL=DIR ...]

Runs bench/scp_receive.py's SCP (fsync on) under `strace -f --seccomp-bpf -w -c`, tracing only the
calls of the write path (writev, sync_file_range, pwrite64, fdatasync, rename), and sends `count` CT
instances with storescu on one association; `sync` before each timed send. `--code LABEL=DIR` adds a
variant that runs the dicom_adapter/ + openclara/ copy in DIR (an A/B, e.g. a copy without writeback
hints); variants alternate order each round. Prints the wall time and the seconds spent in each call,
then medians. The tracer adds a little to each traced call; compare variants, not absolute figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scp_receive import free_port, make_ct_files, send, wait_port  # noqa: E402

CALLS = ("writev", "sync_file_range", "pwrite64", "fdatasync", "rename", "renameat2")


def traced_run(files: list[Path], code: str | None, trace: Path) -> tuple[float, dict[str, float]]:
    """(seconds to send `files`, seconds inside each traced call) for one fresh SCP on an empty spool."""
    out = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="scp-syscalls-"))
    port = free_port()
    env = os.environ | {"TCP_NODELAY": "1", "SCP_BENCH_FSYNC": "1"}
    if code:
        env["SCP_BENCH_CODE"] = code
    serve = [sys.executable, str(Path(__file__).with_name("scp_receive.py")), "serve", "--port", str(port)]
    argv = ["strace", "-f", "--seccomp-bpf", "-w", "-c", "-o", str(trace), "-e", f"trace={','.join(CALLS)}"]
    tracer = subprocess.Popen(
        [*argv, *serve, "--spool", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        wait_port(port)
        os.sync()
        seconds = send(port, [files])
    finally:
        # The SCP, not strace, gets the SIGTERM: strace then writes its summary and exits with it.
        for pid in subprocess.run(["pgrep", "-P", str(tracer.pid)], capture_output=True, text=True).stdout.split():
            os.kill(int(pid), signal.SIGTERM)
        tracer.wait(60)
        shutil.rmtree(out, ignore_errors=True)
    return seconds, _summary(trace)


def _summary(trace: Path) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for line in trace.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1] in CALLS:
            seconds[parts[-1]] = float(parts[1])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--size", type=int, default=512, help="rows = columns of each CT instance")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--code", action="append", default=[], help="LABEL=DIR: a variant's code copy")
    args = parser.parse_args()
    variants: list[tuple[str, str | None]] = [("ours", None)]
    variants += [(label, directory) for label, _, directory in (c.partition("=") for c in args.code)]
    results: dict[str, list[tuple[float, dict[str, float]]]] = {label: [] for label, _ in variants}
    with (
        tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as src,
        tempfile.TemporaryDirectory() as traces,
    ):
        files = make_ct_files(Path(src), args.count, args.size)
        for round_ in range(args.rounds):
            for label, code in variants if round_ % 2 == 0 else variants[::-1]:
                seconds, calls = traced_run(files, code, Path(traces) / f"{label}-{round_}.txt")
                results[label].append((seconds, calls))
                shown = "  ".join(f"{name} {calls[name]:.3f}" for name in CALLS if name in calls)
                print(f"{label:12} run {round_ + 1}: {seconds:6.3f} s   {shown}", flush=True)
    print(f"\n| variant | median wall s | {' | '.join(f'{name} s' for name in CALLS[:4])} | rename s |")
    print(f"|---|---|{'---|' * 5}")
    for label, runs in results.items():
        medians = [statistics.median(calls.get(name, 0.0) for _, calls in runs) for name in CALLS[:4]]
        rename = statistics.median(calls.get("rename", 0.0) + calls.get("renameat2", 0.0) for _, calls in runs)
        wall = statistics.median(seconds for seconds, _ in runs)
        print(f"| {label} | {wall:.3f} | {' | '.join(f'{m:.3f}' for m in medians)} | {rename:.3f} |")


if __name__ == "__main__":
    main()
