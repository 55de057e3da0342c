"""Planned Kubernetes executor (not implemented): how an `OperatorRun` will map onto a Kubernetes Job.

Mapping, so that the interface in `base.py` stays sufficient:

* `image` + `command`  -> one container of a `batch/v1` Job (`restartPolicy: Never`, `backoffLimit: 0`),
  named `<job_id[:8]>-<operator>`, labelled `openclara/job-id` and `openclara/operator`.
* `inputs` / `outputs` -> `volumeMounts` at each `container_path` onto sub-paths of one
  ReadWriteMany PVC that holds the payloads folder (`subPath: <payload>/input`,
  `<payload>/operators/<op>/<output>`); inputs mounted `readOnly: true`. No path rewriting is needed.
* `resources.gpu` -> `resources.limits["nvidia.com/gpu"]` (the NVIDIA device plugin schedules GPUs,
  so the platform's GPU pool is bypassed); `cpu` -> `requests.cpu`; `memory_mb` -> `requests.memory: <n>Mi`.
* `env` -> container `env` (the same NVIDIA_CLARA_* variables, with container paths unchanged).
* `timeout` -> `activeDeadlineSeconds`; cancel -> delete the Job with `propagationPolicy: Foreground`.
* `log_path` -> the executor streams `pods/log` into the same file, so ReadLogs works unchanged.
* reap (after a platform crash) -> delete the Jobs labelled with the job id.
* Result: the pod's container `terminated.exitCode`; `DeadlineExceeded` -> `Outcome.TIMED_OUT`.
"""

from __future__ import annotations

from pathlib import Path

from platform_server.executors.base import OperatorResult, OperatorRun


class KubernetesExecutor:
    """Placeholder that fails loudly, so a configuration asking for Kubernetes is never silently local."""

    def __init__(self, namespace: str = "default") -> None:
        self.namespace = namespace

    async def run(self, run: OperatorRun) -> OperatorResult:
        raise NotImplementedError(
            "the Kubernetes executor is planned, not implemented: see platform_server/executors/kubernetes.py"
        )

    async def reap(self, job_id: str, work_dir: Path) -> int:
        """Planned: delete Kubernetes Jobs labelled `openclara/job-id=<job_id>`."""
        raise NotImplementedError("the Kubernetes executor is planned, not implemented")
