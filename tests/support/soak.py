"""What the soak asserts, shared by bench/soak.py (30 min) and tests/integration/test_soak.py (60 s).

    lost_instances     every instance a sender got Success for is a file of its study's job payload
    duplicate_jobs     exactly one platform job per (study, pipeline): counted from the platform's own
                       job metadata (`openclara.study-instance-uids`), not from what the adapter recorded
    unfinished         every study with an acknowledged instance got its job done (and its export)
    resource_growth    RSS and open files of each service: the last third against the first third
                       of the samples (after a warm-up share), allowed `rss_slack` and `fd_slack`
    latency_drift      p50 and p90 of each stage: the second half of the studies against the first

Each check returns a list of findings (empty: passed), so a run reports everything at once. `soak()` runs
it all: a fresh stack (tests.support.stack), `clara load` as a user runs it (a subprocess, JSON report,
one record per study), the services' RSS and open files sampled meanwhile, then every check.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from platform_api import PlatformClient
from tests.support.stack import CALLING, load_stack

DOWNSTREAM = ("payload_closed", "job_running", "job_done", "export_delivered")  # `clara load`'s stage keys


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def service_pids(names: Iterable[str] = ("results_service", "platform_server", "dicom_adapter")) -> dict[str, int]:
    """Our child processes running `python -m <name>`, by name."""
    found: dict[str, int] = {}
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        for name in names:
            if ppid == me and name.encode() in argv:
                found[name] = int(entry.name)
    return found


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class ResourceSampler:
    """Samples RSS (kB) and open file descriptors of each pid every `interval` s in a thread."""

    pids: dict[str, int]
    interval: float = 1.0
    samples: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> ResourceSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for name, pid in self.pids.items():
                try:
                    sample = (now, _rss_kb(pid), len(os.listdir(f"/proc/{pid}/fd")))
                except OSError:
                    continue
                self.samples.setdefault(name, []).append(sample)
            self._stop.wait(self.interval)


def resource_growth(samples: dict[str, list[tuple[float, int, int]]], warmup: float = 0.2,
                    rss_slack_kb: int = 40_000, rss_slack_share: float = 0.25, fd_slack: int = 20) -> list[str]:
    """Median RSS and open files of the last third against the first third after the warm-up."""
    findings = []
    for name, rows in samples.items():
        rows = rows[int(len(rows) * warmup):]
        if len(rows) < 6:
            findings.append(f"{name}: only {len(rows)} resource samples")
            continue
        third = len(rows) // 3
        first, last = rows[:third], rows[-third:]
        rss0, rss1 = statistics.median(r[1] for r in first), statistics.median(r[1] for r in last)
        fd0, fd1 = statistics.median(r[2] for r in first), statistics.median(r[2] for r in last)
        if rss1 - rss0 > max(rss_slack_kb, rss0 * rss_slack_share):
            findings.append(f"{name}: RSS grew from {rss0 / 1024:.0f} MB to {rss1 / 1024:.0f} MB")
        if fd1 - fd0 > fd_slack:
            findings.append(f"{name}: open files grew from {fd0:.0f} to {fd1:.0f}")
    return findings


def resource_table(samples: dict[str, list[tuple[float, int, int]]]) -> dict[str, dict[str, float]]:
    """First and last third medians per service (what the report prints)."""
    table = {}
    for name, rows in samples.items():
        third = max(1, len(rows) // 3)
        table[name] = {
            "rss_mb_first": round(statistics.median(r[1] for r in rows[:third]) / 1024, 1),
            "rss_mb_last": round(statistics.median(r[1] for r in rows[-third:]) / 1024, 1),
            "fds_first": statistics.median(r[2] for r in rows[:third]),
            "fds_last": statistics.median(r[2] for r in rows[-third:]),
        }
    return table


def unfinished(records: Sequence[dict[str, Any]], stages: Sequence[str] = DOWNSTREAM) -> list[str]:
    findings = []
    for r in records:
        if not r["acknowledged"]:
            continue
        missing = [s for s in stages if s not in r["stages"]]
        if r["error"] or missing:
            findings.append(f"study {r['study_instance_uid']}: error {r['error']!r}, stages missing {missing}")
    return findings


def latency_drift(records: Sequence[dict[str, Any]], factor: float = 2.0, slack: float = 1.0) -> list[str]:
    """p50/p90 of the second half of the studies (by start) within factor x first half + slack seconds."""
    ordered = sorted((r for r in records if r["acknowledged"]), key=lambda r: datetime.fromisoformat(r["started_at"]))
    half = len(ordered) // 2
    findings = []
    for stage in DOWNSTREAM:
        first = sorted(r["stages"][stage] for r in ordered[:half] if stage in r["stages"])
        second = sorted(r["stages"][stage] for r in ordered[half:] if stage in r["stages"])
        if len(first) < 3 or len(second) < 3:
            findings.append(f"{stage}: too few studies to compare halves ({len(first)}, {len(second)})")
            continue
        for q in (0.5, 0.9):
            a, b = first[int(q * (len(first) - 1))], second[int(q * (len(second) - 1))]
            if b > factor * a + slack:
                findings.append(f"{stage}: p{int(q * 100)} drifted from {a:.2f} s to {b:.2f} s")
    return findings


async def _platform_view(
    endpoint: str, since: datetime | None, job_ids: set[str]
) -> tuple[list[Any], dict[str, set[str]]]:
    """Every job created since `since`, and the SOP instance UIDs in the payload of each job we know."""
    async with PlatformClient(endpoint) as platform:
        jobs = await platform.list_jobs(created_after=since) if since else await platform.list_jobs()
        files: dict[str, set[str]] = {}
        for job in jobs:
            job_id = job.job_id.replace("-", "").lower()
            if job_id in job_ids:
                names = [f.name for f in await platform.payload_details(job.payload_id)]
                files[job_id] = {Path(n).stem for n in names if n.endswith(".dcm")}
    return jobs, files


def platform_checks(
    endpoint: str, records: Sequence[dict[str, Any]], since: datetime | None = None
) -> tuple[list[str], list[str]]:
    """(lost instances, duplicate jobs) as findings."""
    job_ids = {j["job_id"] for r in records for j in r["jobs"]}
    jobs, files = asyncio.run(_platform_view(endpoint, since, job_ids))
    lost = []
    for r in records:
        present = set().union(*(files.get(j["job_id"], set()) for j in r["jobs"])) if r["jobs"] else set()
        missing = [uid for uid in r["acknowledged"] if uid not in present]
        if missing:
            lost.append(f"study {r['study_instance_uid']}: {len(missing)} of {len(r['acknowledged'])} acknowledged "
                        f"instances in no job payload")
    per_study = Counter(
        (uid, job.pipeline_id) for job in jobs
        for uid in job.metadata.get("openclara.study-instance-uids", "").split(",") if uid
    )
    ours = {r["study_instance_uid"] for r in records if r["acknowledged"]}
    duplicates = [f"study {uid}: {n} jobs of pipeline {pipeline}" for (uid, pipeline), n in per_study.items()
                  if uid in ours and n != 1]
    duplicates += [f"study {uid}: no job" for uid in ours if not any(k[0] == uid for k in per_study)]
    return lost, duplicates


@dataclass
class SoakResult:
    report: dict[str, Any]  # what `clara load -O json` printed
    records: list[dict[str, Any]]
    resources: dict[str, dict[str, float]]
    findings: dict[str, list[str]]
    load_exit: int
    load_stderr: str

    @property
    def passed(self) -> bool:
        return not any(self.findings.values())


def soak(root: Path, seconds: float, load_args: Sequence[str] = (), called: Sequence[str] = ("LOAD1", "LOAD2", "LOAD3"),
         drain: float = 120.0, sample_interval: float = 1.0) -> SoakResult:
    """Run `clara load` for `seconds` against a fresh stack under `root`, then check everything."""
    records_path = root / "records.jsonl"
    with load_stack(root, called) as stack, ResourceSampler(service_pids(), sample_interval) as sampler:
        argv = [sys.executable, "-m", "clara_cli", "-O", "json", "load", "--quiet", "--scp",
                f"127.0.0.1:{stack.scp_port}", "--calling", CALLING, "--duration", str(seconds), "--drain", str(drain),
                "--records", str(records_path), *(x for ae in called for x in ("-a", ae)), *load_args]
        done = subprocess.run(argv, env=stack.cli_env(), capture_output=True, text=True,
                              timeout=seconds + drain + 300)
        records = read_records(records_path) if records_path.exists() else []
        lost, duplicates = platform_checks(stack.platform, records)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    findings = {
        "lost instances": lost,
        "duplicate jobs": duplicates,
        "unfinished studies": unfinished(records),
        "resource growth": resource_growth(sampler.samples),
        "latency drift": latency_drift(records),
        "load generator": [] if report else [f"clara load exited {done.returncode}: {done.stderr[-2000:]}"],
    }
    return SoakResult(report, records, resource_table(sampler.samples), findings, done.returncode, done.stderr)
