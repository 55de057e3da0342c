"""Benchmark container start-up as a user feels it: job wall time, container executor vs local executor.

Two real `python -m platform_server serve` processes run side by side on loopback, one with
`executor.kind: local` (each operator a host process, `/bin/true`) and one with `executor.kind:
container` (each operator a Podman container of the busybox test image running `/bin/true`, one pod
per job, slirp4netns). The same no-op pipelines go through both over the gRPC Platform API:

- chain-1, chain-2, chain-4: 1, 2, 4 operators, each reading the previous one's output;
- parallel-4: 4 independent operators (4 roots: the scheduler starts them together);
- service: 1 operator that `wget`s a busybox `httpd` service on port 8000 once (container only: the
  local executor has no services); it measures service start-up + readiness.

Metric: wall time from the client's StartJob call to the first `job_status` poll (every 20 ms) that
shows STOPPED, minus nothing. Method: one untimed warm-up job per case and executor, then `--rounds`
rounds; `sync` before every timed job; the executor order alternates between rounds and cases;
medians and ratios are reported. Per-job overhead = container - local on chain-1; per-operator
overhead = least-squares slope of (container - local) over chain length 1, 2, 4.

A third server (`--profile-jobs`, default 3 per case) runs the container executor through a timing
wrapper around podman (`podman-timed`, a bash script logging each call's arguments and duration) to
show which podman calls one job makes and what each costs; then each call is timed again by hand,
in isolation, with the same CONTAINERS_CONF, along with alternatives (`run --rm`, no pod, ...), and
the executor's whole sequence for 1 and 4 chained operators is replayed by hand against leaner ones.

Prints Markdown. Needs podman and a static /bin/busybox (the test image is built when missing).
Bounded: about 1.5-3 minutes on 2 cores.

    .venv/bin/python bench/container_startup.py [--rounds 7] [--profile-jobs 3] [--hand-reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from platform_api import PlatformClient  # noqa: E402
from platform_api.types import JobOperatorStatus, JobState, JobStatus  # noqa: E402
from tests.support.containers import BUSYBOX_IMAGE, build_busybox_image, podman_env  # noqa: E402
from tests.support.processes import platform_server  # noqa: E402

CONTAINERS_CONF = ROOT / "deploy" / "podman" / "containers.conf"
POLL = 0.02
CHAINS = (1, 2, 4)
# Clara Deploy's own figures (its docs): the Clara orchestrator ~2 s per job whatever the operator
# count; Argo (api-version 0.3.0) ~2 s per operator.
CLARA_PER_JOB = 2.0
ARGO_PER_OPERATOR = 2.0

OPERATOR = """\
- name: {name}
  container: {{image: "{image}", command: {command}}}
  input: [{input}]
  output: [{{path: /output}}]
"""
SERVICE = """\
  services:
  - name: web
    container:
      image: "{image}"
      command: ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8000 -h /www"]
    connections:
      http: [{{name: WEB_URI, port: 8000}}]
"""


def pipeline(case: str) -> str:
    """The pipeline text of a case; the same text runs on both executors (local ignores the image)."""
    head = f"api-version: 0.4.0\nname: bench-{case}\noperators:\n"
    true = "[/bin/true]"
    if case.startswith("chain-"):
        n = int(case.split("-")[1])
        ops = [
            OPERATOR.format(
                name=f"op{i}",
                image=BUSYBOX_IMAGE,
                command=true,
                input="{path: /input}" if i == 1 else f"{{from: op{i - 1}, path: /input}}",
            )
            for i in range(1, n + 1)
        ]
        return head + "".join(ops)
    if case == "parallel-4":
        return head + "".join(
            OPERATOR.format(name=f"op{i}", image=BUSYBOX_IMAGE, command=true, input="{path: /input}")
            for i in range(1, 5)
        )
    if case == "service":
        command = '["sh", "-c", "wget -q -O /output/page.txt http://$WEB_URI/"]'
        return (
            head
            + OPERATOR.format(name="op1", image=BUSYBOX_IMAGE, command=command, input="{path: /input}")
            + SERVICE.format(image=BUSYBOX_IMAGE)
        )
    raise ValueError(case)


@dataclass
class Timing:
    wall: float  # StartJob -> STOPPED seen
    running: float  # StartJob -> job RUNNING seen (dispatch)
    operators_done: float  # StartJob -> every operator COMPLETED seen
    cleanup: float = field(init=False)  # operators done -> STOPPED: the executor's end_job (and services' stop)

    def __post_init__(self) -> None:
        self.cleanup = self.wall - self.operators_done


async def timed_job(client: PlatformClient, pipeline_id: str, name: str) -> Timing:
    job_id, _ = await client.create_job(pipeline_id, name)
    os.sync()  # house rule: no dirty pages from the previous run written back during this one
    t0 = time.perf_counter()
    await client.start_job(job_id)
    running = operators_done = None
    while True:
        status = await client.job_status(job_id)
        now = time.perf_counter() - t0
        if running is None and status.state != JobState.PENDING:
            running = now
        if (
            operators_done is None
            and status.operators
            and all(op.status == JobOperatorStatus.COMPLETED for op in status.operators)
        ):
            operators_done = now
        if status.state == JobState.STOPPED:
            if status.status != JobStatus.HEALTHY:
                raise RuntimeError(f"job {name} ended {status.status.name}: {list(status.messages)}")
            return Timing(now, running or now, operators_done or now)
        if now > 120:
            raise RuntimeError(f"job {name} still {status.state.name} after 120 s")
        await asyncio.sleep(POLL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def container_executor(engine: str = "podman") -> dict[str, object]:
    return {"kind": "container", "container": {"engine": engine, "containers_conf": str(CONTAINERS_CONF)}}


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args],
        env={**os.environ, **podman_env()},
        capture_output=True,
        text=True,
        check=check,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def ensure_image(tmp: Path) -> None:
    if podman("image", "exists", BUSYBOX_IMAGE, check=False).returncode != 0:
        build_busybox_image(tmp / "busybox" / "rootfs", tmp / "busybox" / "rootfs.tar")


def median(values: list[float]) -> float:
    return statistics.median(values)


def slope(xs: tuple[int, ...], ys: list[float]) -> tuple[float, float]:
    """Least-squares (slope, intercept)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    s = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return s, my - s * mx


# ---- the side-by-side run ---------------------------------------------------------------------------

CASES = ("chain-1", "chain-2", "chain-4", "parallel-4", "service")


async def side_by_side(endpoints: dict[str, str], rounds: int) -> dict[tuple[str, str], list[Timing]]:
    results: dict[tuple[str, str], list[Timing]] = defaultdict(list)
    async with (
        PlatformClient(endpoints["local"], timeout=120) as local,
        PlatformClient(endpoints["container"], timeout=120) as container,
    ):
        clients = {"local": local, "container": container}
        pipelines: dict[tuple[str, str], str] = {}
        for case in CASES:
            for kind, client in clients.items():
                if case == "service" and kind == "local":
                    continue  # services need containers
                pipelines[kind, case] = str(await client.create_pipeline({f"{case}.yaml": pipeline(case)}))
                await timed_job(client, pipelines[kind, case], f"warm-{case}")  # warm-up, not counted
        for r in range(rounds):
            for c, case in enumerate(CASES):
                kinds = ["local", "container"] if (r + c) % 2 == 0 else ["container", "local"]
                for kind in kinds:
                    if (kind, case) in pipelines:
                        results[kind, case].append(await timed_job(clients[kind], pipelines[kind, case], f"{case}-{r}"))
            print(f"  round {r + 1}/{rounds} done, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return results


def report(results: dict[tuple[str, str], list[Timing]], rounds: int) -> dict[str, float]:
    med = {key: median([t.wall for t in values]) for key, values in results.items()}
    print(f"### Job wall time, StartJob -> STOPPED seen by the client (median of {rounds} rounds, seconds)\n")
    print(
        "| pipeline | local (`/bin/true` process) | container (busybox `true`) | container - local | "
        "container / local | container phases: dispatch / operators / clean-up | Clara orchestrator start-up "
        "(≈2 s/job) | Argo 0.3.0 start-up (≈2 s/operator) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for case in CASES:
        ops = int(case.split("-")[1]) if "-" in case and case != "service" else 1
        cont = med["container", case]
        phases = results["container", case]
        split = (
            f"{median([t.running for t in phases]):.2f} / "
            f"{median([t.operators_done - t.running for t in phases]):.2f} / "
            f"{median([t.cleanup for t in phases]):.2f}"
        )
        if ("local", case) in med:
            loc = med["local", case]
            diff, ratio = f"{cont - loc:+.2f}", f"{cont / loc:.1f}×"
            loc_s = f"{loc:.3f}"
        else:
            loc_s, diff, ratio = (
                "— (no services)",
                f"{cont - med['container', 'chain-1']:+.2f} vs container chain-1",
                "—",
            )
        spread = f" ({min(t.wall for t in phases):.2f}-{max(t.wall for t in phases):.2f})"
        argo = f"≈{ARGO_PER_OPERATOR * ops:.0f} s + work" if case != "parallel-4" else "(not given for parallel)"
        print(
            f"| {case} | {loc_s} | **{cont:.3f}**{spread} | {diff} | {ratio} | {split} | "
            f"≈{CLARA_PER_JOB:.0f} s + work | {argo} |"
        )
    diffs = [med["container", f"chain-{n}"] - med["local", f"chain-{n}"] for n in CHAINS]
    per_op, fixed = slope(CHAINS, diffs)
    cont_slope, cont_fixed = slope(CHAINS, [med["container", f"chain-{n}"] for n in CHAINS])
    loc_slope, _ = slope(CHAINS, [med["local", f"chain-{n}"] for n in CHAINS])
    per_job = diffs[0]
    par_extra = med["container", "parallel-4"] - med["container", "chain-1"]
    par_diff = med["container", "parallel-4"] - med["local", "parallel-4"]
    service = med["container", "service"] - med["container", "chain-1"]
    print("\n### Derived overheads (container - local, from the medians)\n")
    print("| figure | seconds |")
    print("|---|---|")
    print(f"| **per job** (1 operator: container - local) | **{per_job:.2f}** |")
    print(
        f"| **per extra operator in a chain** (slope of container - local over 1, 2, 4 operators) | **{per_op:.2f}** |"
    )
    print(f"| fixed part per job (intercept of that line at 0 operators) | {fixed:.2f} |")
    print(
        f"| container slope alone / local slope alone (s per chained operator) | {cont_slope:.2f} / {loc_slope:.3f} |"
    )
    print(f"| 4 parallel operators vs 1 (container) | {par_extra:+.2f} |")
    print(f"| 4 parallel operators: container - local | {par_diff:.2f} |")
    print(
        f"| a service (busybox httpd) started + ready before the operator (service job - chain-1, container) | "
        f"{service:.2f} |"
    )
    print(
        f"| Clara orchestrator / Argo for 4 chained operators (their start-up only) | "
        f"≈{CLARA_PER_JOB:.0f} / ≈{ARGO_PER_OPERATOR * 4:.0f} |"
    )
    print(f"| openclara container executor, 4 chained operators (whole job) | {med['container', 'chain-4']:.2f} |")
    return {"per_job": per_job, "per_op": per_op, "fixed": fixed, "cont_fixed": cont_fixed}


# ---- the podman call profile --------------------------------------------------------------------------

WRAPPER = """#!/bin/bash
# podman with each call's duration appended to {log} (bash's EPOCHREALTIME: no extra process)
t0=$EPOCHREALTIME
{podman} "$@"
rc=$?
t1=$EPOCHREALTIME
printf '%s %s %s %s\\n' "$t0" "$t1" "$rc" "$*" >> {log}
exit $rc
"""


def call_kind(args: list[str]) -> str:
    """`pod create`, `run`, `image exists`, ...: the podman subcommand of a logged call."""
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return "?"
    if words[0] in ("pod", "image") and len(words) > 1:
        kind = f"{words[0]} {words[1]}"
    else:
        kind = words[0]
    if kind == "run":
        kind = "run --detach (service)" if "--detach" in args else "run (attached, until exit)"
    if kind == "inspect":
        kind += " (.State.Running)" if any("Running" in a for a in args) else " (exit code, OOM)"
    return kind


async def profile_jobs(
    endpoint: str, log: Path, jobs: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, list[tuple[float, float, str]]], dict[str, list[float]]]:
    """Run `jobs` jobs per case through the timed wrapper; per case: call kind -> durations, one timeline."""
    per_case: dict[str, dict[str, list[float]]] = {}
    timelines: dict[str, list[tuple[float, float, str]]] = {}
    walls: dict[str, list[float]] = defaultdict(list)
    async with PlatformClient(endpoint, timeout=120) as client:
        for case in ("chain-1", "chain-4", "parallel-4", "service"):
            pipeline_id = str(await client.create_pipeline({f"{case}.yaml": pipeline(case)}))
            await timed_job(client, pipeline_id, "warm")
            calls: dict[str, list[float]] = defaultdict(list)
            for j in range(jobs):
                log.write_text("")
                start = time.time()
                walls[case].append((await timed_job(client, pipeline_id, f"profile-{case}-{j}")).wall)
                await asyncio.sleep(0.3)  # the last `pod rm` is logged when it returns
                entries = []
                for line in log.read_text().splitlines():
                    t0, t1, _rc, rest = line.split(" ", 3)
                    if float(t0) < start:
                        continue  # e.g. the previous job's `logs --follow`, which ends when its container goes
                    entries.append((float(t0) - start, float(t1) - float(t0), rest))
                    calls[call_kind(shlex.split(rest))].append(float(t1) - float(t0))
                if j == 0:
                    timelines[case] = sorted(entries)
            per_case[case] = calls
    return per_case, timelines, walls


def print_profile(
    per_case: dict[str, dict[str, list[float]]],
    timelines: dict[str, list[tuple[float, float, str]]],
    walls: dict[str, list[float]],
    jobs: int,
) -> None:
    print(
        f"\n### Podman calls the container executor makes per job (through a timing wrapper, {jobs} jobs per "
        "case, median ms per call × calls per job)\n"
    )
    kinds = sorted({k for calls in per_case.values() for k in calls})
    cases = list(per_case)
    print("| podman call | " + " | ".join(cases) + " |")
    print("|---|" + "---|" * len(cases))
    for kind in kinds:
        cells = []
        for case in cases:
            durations = per_case[case].get(kind, [])
            cells.append(f"{median(durations) * 1000:.0f} ms × {len(durations) / jobs:g}" if durations else "")
        print(f"| `{kind}` | " + " | ".join(cells) + " |")
    sums = [sum(sum(v) for v in per_case[c].values()) / jobs for c in cases]
    print("| sum of call durations per job (calls may overlap) | " + " | ".join(f"{s:.2f} s" for s in sums) + " |")
    print(
        "| job wall time with the wrapper (median) | " + " | ".join(f"{median(walls[c]):.2f} s" for c in cases) + " |"
    )
    for case in ("chain-1", "service"):
        if case not in timelines:
            continue
        print(f"\nTimeline of one `{case}` job (seconds after StartJob was sent; duration of each call):\n")
        print("```")
        for start, took, args in timelines[case]:
            shown = args if len(args) < 110 else args[:107] + "..."
            shown = shown.replace(BUSYBOX_IMAGE, "<busybox>")
            print(f"+{start:6.3f}  {took * 1000:6.0f} ms  podman {shown}")
        print("```")


def hand_profile(reps: int, tmp: Path) -> list[tuple[str, float]]:
    """Each call of the executor's sequence and a few alternatives, timed in isolation (median of `reps`)."""
    env = {**os.environ, **podman_env()}
    image = BUSYBOX_IMAGE
    label = "org.openclara.bench=hand"
    vol = tmp / "vol"
    vol.mkdir(exist_ok=True)

    def timed(*args: str) -> float:
        os.sync()
        t0 = time.perf_counter()
        done = subprocess.run(
            ["podman", *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
        )
        took = time.perf_counter() - t0
        if done.returncode != 0 and args[:2] != ("image", "exists"):
            raise RuntimeError(f"podman {' '.join(args)}: {done.stderr.strip()}")
        return took

    samples: dict[str, list[float]] = defaultdict(list)
    mounts = ["--volume", f"{vol}:/input:ro", "--volume", f"{vol}:/output:rw"]
    for i in range(reps):
        pod, name = f"openclara-bench-{os.getpid()}-{i}", f"openclara-bench-{os.getpid()}-{i}-op"
        samples["podman version (process start-up floor)"].append(timed("version", "--format", "{{.Client.Version}}"))
        samples["image exists"].append(timed("image", "exists", image))
        samples["pod create (slirp4netns, host loopback)"].append(
            timed(
                "pod",
                "create",
                "--replace",
                "--name",
                pod,
                "--network",
                "slirp4netns:allow_host_loopback=true",
                "--label",
                label,
            )
        )
        samples["pod start (infra container + slirp4netns)"].append(timed("pod", "start", pod))
        samples["run in the pod, attached, `true` (2 volumes, labels)"].append(
            timed("run", "--name", name, "--pull", "never", "--label", label, "--pod", pod, *mounts, image, "/bin/true")
        )
        samples["alternative: create (2 volumes, labels) ahead of time"].append(
            timed(
                "create",
                "--name",
                name + "c",
                "--pull",
                "never",
                "--label",
                label,
                "--pod",
                pod,
                *mounts,
                image,
                "/bin/true",
            )
        )
        samples["alternative: start --attach of a created container"].append(timed("start", "--attach", name + "c"))
        timed("rm", "--force", "--time", "0", name + "c")
        samples["inspect (exit code, OOM)"].append(
            timed("inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", name)
        )
        samples["rm --force --time 0 (exited container)"].append(timed("rm", "--force", "--time", "0", name))
        samples["ps --all --filter label (end_job)"].append(
            timed("ps", "--all", "--filter", f"label={label}", "--format", "{{.Names}}")
        )
        samples["run --rm in the pod (run + rm in one call)"].append(
            timed("run", "--rm", "--pull", "never", "--label", label, "--pod", pod, *mounts, image, "/bin/true")
        )
        samples["pod rm --force --time 0 (infra + slirp4netns)"].append(
            timed("pod", "rm", "--force", "--time", "0", pod)
        )
        samples["alternative: run --rm without a pod, --network none"].append(
            timed("run", "--rm", "--pull", "never", "--network", "none", *mounts, image, "/bin/true")
        )
        samples["alternative: run --rm without a pod, slirp4netns"].append(
            timed(
                "run",
                "--rm",
                "--pull",
                "never",
                "--network",
                "slirp4netns:allow_host_loopback=true",
                *mounts,
                image,
                "/bin/true",
            )
        )
        samples["alternative: run --rm --network host"].append(
            timed("run", "--rm", "--pull", "never", "--network", "host", *mounts, image, "/bin/true")
        )
        samples["alternative: pod create --infra=false (no network of its own)"].append(
            timed("pod", "create", "--replace", "--name", pod + "x", "--infra=false", "--label", label)
        )
        timed("pod", "rm", "--force", pod + "x")
    return [(what, median(values)) for what, values in samples.items()]


def print_hand(rows: list[tuple[str, float]], reps: int) -> None:
    print(f"\n### Each podman call timed by hand, alone, same CONTAINERS_CONF (median of {reps}, `sync` before each)\n")
    print("| call | ms |")
    print("|---|---|")
    for what, took in rows:
        print(f"| {what} | {took * 1000:.0f} |")


NETWORK = "slirp4netns:allow_host_loopback=true"
VARIANTS = {
    "first": "the first executor (before the changes these figures led to): image exists, pod create + start, per "
    "operator image exists + run + inspect + rm, then ps + rm of the infra container + pod rm, all in series",
    "lean, pod per job": "image existence cached, `run --rm` (exit code from `podman run`, no inspect), pod created "
    "per job, pod rm after the job (not on the critical path)",
    "lean, pre-warmed pod": "the same with a pod created ahead of time (a spare pod kept ready)",
    "lean, no pod": "the same without a pod: each container `run --rm --network slirp4netns` (jobs without services)",
}


class Replay:
    """The executor's podman sequence for a chain of n no-op operators replayed by hand, against leaner ones."""

    def __init__(self, tmp: Path) -> None:
        self.env = {**os.environ, **podman_env()}
        self.label = "org.openclara.bench=replay"
        vol = tmp / "vol"
        vol.mkdir(exist_ok=True)
        self.run = ["--pull", "never", "--label", self.label, "--volume", f"{vol}:/input:ro"]
        self.run += ["--volume", f"{vol}:/output:rw"]

    def call(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def make_pod(self, pod: str) -> str:
        pod_id = self.call("pod", "create", "--replace", "--name", pod, "--network", NETWORK, "--label", self.label)
        self.call("pod", "start", pod)
        return pod_id

    def first(self, n: int, pod: str) -> None:
        self.call("image", "exists", BUSYBOX_IMAGE)
        pod_id = self.make_pod(pod)
        for i in range(n):
            if i:
                self.call("image", "exists", BUSYBOX_IMAGE)
            name = f"{pod}-op{i}"
            self.call("run", "--name", name, *self.run, "--pod", pod, BUSYBOX_IMAGE, "/bin/true")
            self.call("inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", name)
            self.call("rm", "--force", "--time", "0", name)
        self.call("ps", "--all", "--filter", f"label={self.label}", "--format", "{{.Names}}")
        # end_job removes every container with the job label, the pod's infra container too: podman refuses.
        self.call("rm", "--force", "--time", "0", f"{pod_id[:12]}-infra", check=False)
        self.call("pod", "rm", "--force", "--time", "0", pod)

    def sequence(self, variant: str, n: int, tag: str) -> float:
        pod = f"openclara-replay-{os.getpid()}-{tag}"
        if variant == "lean, pre-warmed pod":
            self.make_pod(pod)  # ahead of time, not timed
        os.sync()
        t0 = time.perf_counter()
        if variant == "first":
            self.first(n, pod)
            return time.perf_counter() - t0
        if variant == "lean, pod per job":
            self.make_pod(pod)
        network = ["--network", NETWORK] if variant == "lean, no pod" else ["--pod", pod]
        for _ in range(n):
            self.call("run", "--rm", *self.run, *network, BUSYBOX_IMAGE, "/bin/true")
        took = time.perf_counter() - t0
        if variant != "lean, no pod":
            self.call("pod", "rm", "--force", "--time", "0", pod)  # after the job: not timed
        return took


def replay(reps: int, tmp: Path) -> dict[tuple[str, int], float]:
    """Median seconds per (variant, chain length); the variants' order rotates between repetitions."""
    replayer = Replay(tmp)
    samples: dict[tuple[str, int], list[float]] = defaultdict(list)
    variants = list(VARIANTS)
    for r in range(reps):
        for n in (1, 4):
            order = variants[r % len(variants) :] + variants[: r % len(variants)]
            for v, variant in enumerate(order):
                samples[variant, n].append(replayer.sequence(variant, n, f"{r}{n}{v}"))
    return {key: median(values) for key, values in samples.items()}


def print_replay(medians: dict[tuple[str, int], float], reps: int) -> None:
    print(
        f"\n### The executor's podman sequence replayed by hand vs leaner sequences (median of {reps}, order rotated, "
        "`sync` before each; seconds on the critical path)\n"
    )
    print("| sequence | 1 operator | 4 chained operators | saved vs first (1 / 4 operators) |")
    print("|---|---|---|---|")
    for variant, what in VARIANTS.items():
        one, four = medians[variant, 1], medians[variant, 4]
        saved = (
            f"{medians['first', 1] - one:.2f} / {medians['first', 4] - four:.2f}" if variant != "first" else "—"
        )
        print(f"| **{variant}**: {what} | {one:.2f} | {four:.2f} | {saved} |")


# ---- main ----------------------------------------------------------------------------------------------


def describe_machine() -> str:
    version = podman("version", "--format", "{{.Client.Version}}", check=False).stdout.strip()
    runtime = (
        podman("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}", check=False)
        .stdout.strip()
        .splitlines()
    )
    cgroup = podman(
        "info", "--format", "{{.Host.CgroupsVersion}} {{.Store.GraphDriverName}}", check=False
    ).stdout.strip()
    return (
        f"{os.cpu_count()} cores, {platform.platform()}, podman {version}, runtime "
        f"{runtime[0] if runtime else '?'}, cgroups/storage {cgroup}, "
        f"{'root' if os.geteuid() == 0 else 'rootless'}, CONTAINERS_CONF={CONTAINERS_CONF.relative_to(ROOT)}"
    )


async def main(args: argparse.Namespace) -> None:
    if shutil.which("podman") is None:
        sys.exit("podman is not installed")
    began = time.time()
    load0 = os.getloadavg()
    with ExitStack() as keep:
        tmp_name = (
            tempfile.mkdtemp(prefix="container-bench-", dir=args.dir)
            if args.keep
            else keep.enter_context(tempfile.TemporaryDirectory(prefix="container-bench-", dir=args.dir))
        )
        tmp = Path(tmp_name)
        ensure_image(tmp)
        for name in ("local", "container", "profile"):
            (tmp / name).mkdir()
        print(f"## Container start-up benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(began))})\n")
        print(f"Machine: {describe_machine()}; load average at start {load0[0]:.2f}.\n")
        print(
            f"Method: two platform server processes (local executor, container executor) side by side; per case "
            f"1 warm-up job each, then {args.rounds} rounds; `sync` before every timed job; executor order "
            f"alternates between rounds and cases; job wall time = client's StartJob -> first `job_status` poll "
            f"(every {POLL * 1000:.0f} ms) showing STOPPED; medians. Shared 2-core machine: absolute figures move "
            "±20-50 % between runs, compare within one run.\n"
        )
        with ExitStack() as stack:
            endpoints = {
                "local": stack.enter_context(platform_server(tmp / "local", free_port(), executor={"kind": "local"})),
                "container": stack.enter_context(
                    platform_server(tmp / "container", free_port(), executor=container_executor())
                ),
            }
            results = await side_by_side(endpoints, args.rounds)
        load1 = os.getloadavg()
        report(results, args.rounds)
        if args.profile_jobs > 0:
            log = tmp / "podman-calls.log"
            log.touch()
            wrapper = tmp / "podman-timed"
            wrapper.write_text(WRAPPER.format(podman=shutil.which("podman"), log=log))
            wrapper.chmod(0o755)
            with platform_server(tmp / "profile", free_port(), executor=container_executor(str(wrapper))) as endpoint:
                per_case, timelines, walls = await profile_jobs(endpoint, log, args.profile_jobs)
            print_profile(per_case, timelines, walls, args.profile_jobs)
        if args.hand_reps > 0:
            print_hand(hand_profile(args.hand_reps, tmp), args.hand_reps)
            print_replay(replay(args.hand_reps, tmp), args.hand_reps)
    print(
        f"\nTook {time.time() - began:.0f} s; load average {load0[0]:.2f} at start, {load1[0]:.2f} after the "
        f"side-by-side run, {os.getloadavg()[0]:.2f} at the end."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--profile-jobs", type=int, default=3, help="jobs per case through the timing wrapper (0: skip)"
    )
    parser.add_argument("--hand-reps", type=int, default=5, help="repetitions of the by-hand call timings (0: skip)")
    parser.add_argument("--dir", default=None, help="where to put the temporary data (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (server logs, podman call log)")
    asyncio.run(main(parser.parse_args()))
