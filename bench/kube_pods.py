"""Benchmark the Kubernetes executor's pod-per-operator design against one pod per job, with `podman kube play`.

There is no cluster here: `podman kube play` is the proxy. It makes what a kubelet makes for a pod (an
infra "pause" container holding a network namespace on a bridge network, then the pod's containers) but
none of what a cluster adds per pod (API server writes, scheduling, the kubelet's sync loop, a CNI plugin,
status updates travelling back through a watch). So the figures below are the *node-local* cost of a
pod, a floor under what a cluster pays, not a prediction of it.

For N = 1, 3, 5 chained operators (busybox `sh -c 'echo hi > /output/x'`; operator i reads operator
i-1's output, mounted read-only, as executors/pods.py mounts it), three shapes of the same containers
(same image, mounts, environment and security context: the containers of `operator_pod` manifests):

- **pod per operator** (the Kubernetes executor): N pods, each played and waited for before the next;
- **one pod, N containers** (the shape of Clara's orchestrator: one pod per job): all start together.
  Clara's containers then waited on each other's completion through its orchestrator; this does not
  model that, so for N > 1 it is the time to start N containers, not to run a chain;
- **one pod, init containers** (N-1 `initContainers` + 1 container): a chain in one pod without any shim,
  which Kubernetes runs in order (shown as the cheapest sequential alternative; not what we build).

Metric: wall time from `podman kube play` of the first pod to `podman wait` returning for the last
container; `kube down` of the pods is timed apart (the executor deletes pods in the background, after
the operator's result). Method: one untimed warm-up per shape; then `--rounds` rounds, the shape order
rotated every round; `sync` before each timed run; medians; per-operator cost = least-squares slope over N.
Subpaths are resolved beforehand as in tests/platform_server/executors/test_pods_podman.py (Podman 4.3 ignores them).

Prints Markdown. Needs podman and a static /bin/busybox (the test image is built when missing).
Bounded: about 2-3 minutes on 2 cores with the defaults.

    .venv/bin/python bench/kube_pods.py [--rounds 7] [--counts 1,3,5] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kubernetes_validate  # noqa: E402
import yaml  # noqa: E402

from platform_server.executors.base import Mount, OperatorRun  # noqa: E402
from platform_server.executors.environment import container_environment  # noqa: E402
from platform_server.executors.pods import (  # noqa: E402
    OPERATOR_CONTAINER,
    Manifest,
    PodOptions,
    SharedClaim,
    object_name,
    operator_pod,
)
from platform_server.jobs.runner import MODELS_PATH  # noqa: E402
from tests.support.containers import BUSYBOX_IMAGE, build_busybox_image, image_exists, podman_env, run_podman  # noqa: E402
from tests.support.pods import resolve_sub_paths  # noqa: E402

CLAIM = "openclara-shared"
SHAPES = ("pod per operator", "one pod, N containers", "one pod, init containers")
# The issue's figures for Clara Deploy: its orchestrator started a job's operators in one pod in about
# 2 s whatever their count; Argo paid about 2 s per operator pod.
CLARA_PER_JOB = 2.0
ARGO_PER_OPERATOR = 2.0


@dataclass
class Run:
    total: float  # first `kube play` -> last container exited
    play: float  # sum of `kube play` calls
    down: float  # sum of `kube down` calls (not in total)


@dataclass
class Prepared:
    files: list[Path]  # the YAML of each pod, in order
    waits: list[list[str]]  # after playing files[i]: the containers to `podman wait` for
    outputs: list[Path]


def chain(shared: Path, n: int) -> list[OperatorRun]:
    """N operators of one job, laid out as the platform lays out a payload; operator i reads i-1's output."""
    job_id, payload_id = uuid.uuid4().hex, uuid.uuid4().hex
    payload = shared / "payloads" / payload_id
    (payload / "input").mkdir(parents=True)
    runs = []
    previous = Mount("payload", "/input", payload / "input", True)
    for i in range(1, n + 1):
        output = Mount("result", "/output", payload / "operators" / f"op{i}" / "result", False)
        env = {"NVIDIA_CLARA_JOBID": job_id, "NVIDIA_CLARA_PAYLOADID": payload_id, "NVIDIA_CLARA_STAGENAME": f"op{i}",
               "NVIDIA_CLARA_MODEL_REPOSITORY": str(shared / "models")}  # fmt: skip
        runs.append(OperatorRun(
            job_id=job_id, operator=f"op{i}", image=BUSYBOX_IMAGE, command=("sh", "-c", "echo hi > /output/x"),
            inputs=(previous,), outputs=(output,), env=env, work_dir=shared / "work", log_path=shared / "log",
            timeout=60, extra_mounts=(Mount("models", MODELS_PATH, shared / "models", True),),
        ))  # fmt: skip
        previous = Mount(f"op{i}", "/input", output.host_path, True)
    return runs


def operator_pods(runs: Sequence[OperatorRun], options: PodOptions) -> list[Manifest]:
    return [operator_pod(r, container_environment(r.env, r.inputs, r.outputs, r.extra_mounts), options) for r in runs]


def one_pod(runs: Sequence[OperatorRun], options: PodOptions, init: bool) -> Manifest:
    """The containers of the operators' pods in one pod (all shared mounts are of the one claim)."""
    pods = operator_pods(runs, options)
    merged = copy.deepcopy(pods[0])
    merged["metadata"]["name"] = object_name(runs[0].job_id, "pipeline")
    containers = []
    for i, pod in enumerate(pods, 1):
        container = copy.deepcopy(pod["spec"]["containers"][0])
        container["name"] = f"op{i}"
        containers.append(container)
    if init:
        merged["spec"]["initContainers"], merged["spec"]["containers"] = containers[:-1], containers[-1:]
    else:
        merged["spec"]["containers"] = containers
    return merged


def prepare(shape: str, n: int, tmp: Path, options: PodOptions) -> Prepared:
    shared = tmp / "shared"
    runs = chain(shared, n)
    (shared / "models").mkdir(exist_ok=True)
    outputs = [r.outputs[0].host_path for r in runs]
    for folder in outputs:  # the executor makes them before creating the pod
        folder.mkdir(parents=True)
    if shape == SHAPES[0]:
        manifests = operator_pods(runs, options)
        waits = [[f"{m['metadata']['name']}-{OPERATOR_CONTAINER}"] for m in manifests]
    else:
        manifests = [one_pod(runs, options, init=shape == SHAPES[2])]
        name = manifests[0]["metadata"]["name"]
        # Podman removes init containers once they have run: only the last container can be waited for.
        waits = [[f"{name}-op{n}"] if shape == SHAPES[2] else [f"{name}-op{i}" for i in range(1, n + 1)]]
    files = []
    for manifest in manifests:
        kubernetes_validate.validate(manifest, "1.29.0", strict=True)
        files.append(tmp / f"{manifest['metadata']['name']}.yaml")
        files[-1].write_text(yaml.safe_dump(resolve_sub_paths(manifest, {CLAIM: shared})))
    return Prepared(files, waits, outputs)


def measure(shape: str, n: int, tmp: Path, options: PodOptions) -> Run:
    prepared = prepare(shape, n, tmp, options)
    os.sync()  # house rule: no dirty pages from the previous run written back during this one
    play = 0.0
    try:
        t0 = time.perf_counter()
        for file, waits in zip(prepared.files, prepared.waits, strict=True):
            started = time.perf_counter()
            run_podman("kube", "play", str(file))
            play += time.perf_counter() - started
            codes = run_podman("wait", *waits).stdout.split()
            if codes != ["0"] * len(waits):
                raise RuntimeError(f"{shape}, N={n}: exit codes {codes} of {waits}")
        total = time.perf_counter() - t0
    finally:
        started = time.perf_counter()
        for file in prepared.files:
            run_podman("kube", "down", str(file), check=False)
        down = time.perf_counter() - started
    written = [(folder / "x").read_text() for folder in prepared.outputs]
    if written != ["hi\n"] * n:
        raise RuntimeError(f"{shape}, N={n}: outputs {written}")
    left = run_podman("pod", "ps", "--filter", f"label=openclara/platform={options.platform_id}", "-q").stdout
    if left.strip():
        raise RuntimeError(f"{shape}, N={n}: pods left behind: {left.split()}")
    return Run(total, play, down)


def slope(xs: Sequence[int], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares (slope, intercept)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    s = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return s, my - s * mx


def describe_machine() -> str:
    info = run_podman(
        "info", "--format", "{{.Version.Version}} {{.Host.OCIRuntime.Name}} {{.Host.CgroupsVersion}} "
        "{{.Store.GraphDriverName}} {{.Host.NetworkBackend}}",
    ).stdout.split()  # fmt: skip
    version, runtime, cgroups, storage, network = (info + ["?"] * 5)[:5]
    return (
        f"{os.cpu_count()} cores, {platform.platform()}, podman {version} ({runtime}, cgroups {cgroups}, "
        f"{storage}, network backend {network}), {'root' if os.geteuid() == 0 else 'rootless'}, "
        f"CONTAINERS_CONF={podman_env()['CONTAINERS_CONF']}"
    )


def report(results: dict[tuple[str, int], list[Run]], counts: Sequence[int], rounds: int) -> None:
    med = {key: statistics.median(r.total for r in runs) for key, runs in results.items()}
    print(f"### Wall time, first `kube play` -> last container exited (median of {rounds}, seconds)\n")
    print("| N operators | " + " | ".join(SHAPES) + " | pod per operator - one pod, N containers | "
          "issue: Clara orchestrator (≈2 s/job) | issue: Argo (≈2 s/operator pod) |")  # fmt: skip
    print("|---|" + "---|" * (len(SHAPES) + 3))
    for n in counts:
        cells = []
        for shape in SHAPES:
            runs = results[shape, n]
            spread = f"{min(r.total for r in runs):.2f}-{max(r.total for r in runs):.2f}"
            cells.append(f"**{med[shape, n]:.2f}** ({spread})")
        diff = med[SHAPES[0], n] - med[SHAPES[1], n]
        issue = f"≈{CLARA_PER_JOB:.0f} | ≈{ARGO_PER_OPERATOR * n:.0f}"
        print(f"| {n} | " + " | ".join(cells) + f" | {diff:+.2f} | {issue} |")
    print("\n### Derived (least squares over N of the medians)\n")
    print("| shape | seconds per further operator (slope) | intercept at N = 0 |")
    print("|---|---|---|")
    slopes = {}
    for shape in SHAPES:
        slopes[shape], fixed = slope(counts, [med[shape, n] for n in counts])
        print(f"| {shape} | **{slopes[shape]:.3f}** | {fixed:.3f} |")
    pod_cost = slopes[SHAPES[0]] - slopes[SHAPES[1]]
    play = statistics.median(r.play / n for (s, n), runs in results.items() if s == SHAPES[0] for r in runs)
    down = statistics.median(r.down / n for (s, n), runs in results.items() if s == SHAPES[0] for r in runs)
    print(
        f"\n- A pod of its own costs **{pod_cost:.3f} s** more per operator than a further container in the "
        "same pod (difference of the two slopes)."
    )
    print(
        f"- Pod per operator, per pod: `kube play` {play:.3f} s (median over all runs), the rest until "
        f"`podman wait` returns is the container running; `kube down` {down:.3f} s, off the critical path."
    )
    print(f"- On a cluster the issue's ≈{ARGO_PER_OPERATOR:.0f} s per pod (Argo) replaces this node-local "
          f"cost: a 3-operator chain ≈ {ARGO_PER_OPERATOR * 3:.0f} s of pod start-up against ≈{CLARA_PER_JOB:.0f} s "
          f"for one pod, +{ARGO_PER_OPERATOR * 3 - CLARA_PER_JOB:.0f} s.")  # fmt: skip


def main(args: argparse.Namespace) -> None:
    if shutil.which("podman") is None:
        sys.exit("podman is not installed")
    counts = tuple(int(c) for c in args.counts.split(","))
    began, load0 = time.time(), os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="kube-pods-bench-", dir=args.dir))
    try:
        if not image_exists(BUSYBOX_IMAGE):
            build_busybox_image(tmp / "busybox" / "rootfs", tmp / "busybox" / "rootfs.tar")
        options = PodOptions(namespace="openclara", platform_id=f"bench-{uuid.uuid4().hex[:8]}",
                             claims=(SharedClaim(CLAIM, PurePosixPath(tmp / "shared")),))  # fmt: skip
        print(f"## Pod per operator vs one pod per job, `podman kube play` ({time.strftime('%Y-%m-%d %H:%M UTC')})\n")
        print(f"Machine: {describe_machine()}; load average at start {load0[0]:.2f}.\n")
        for shape in SHAPES:  # warm-up: image layers, the kube network, podman's caches
            measure(shape, max(counts), tmp, options)
        results: dict[tuple[str, int], list[Run]] = defaultdict(list)
        for r in range(args.rounds):
            order = SHAPES[r % len(SHAPES) :] + SHAPES[: r % len(SHAPES)]
            for n in counts if r % 2 == 0 else reversed(counts):
                for shape in order:
                    results[shape, n].append(measure(shape, n, tmp, options))
            print(f"  round {r + 1}/{args.rounds} done, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
        report(results, counts, args.rounds)
    finally:
        if args.keep:
            print(f"\nKept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()[0]
    print(f"\nTook {time.time() - began:.0f} s; load average {load0[0]:.2f} at start, {load1:.2f} at the end.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--counts", default="1,3,5", help="operator counts, comma-separated")
    parser.add_argument("--dir", default=None, help="where to put the temporary data (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (the pod YAML files)")
    main(parser.parse_args())
