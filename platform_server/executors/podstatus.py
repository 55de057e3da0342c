"""What a Pod's status says about the operator or service in it: read once, from the fields Kubernetes documents.

The Kubernetes executor decides from a `PodView` alone (started yet? ended how? stuck why?), so that
every watch event is interpreted the same way and the rules can be tested on status objects without
a cluster. Sources: `status.phase`, `status.reason` / `message` (Evicted, DeadlineExceeded), the
PodScheduled condition (Unschedulable), the Ready condition, and the container's `state`
(`waiting.reason` such as ImagePullBackOff, `terminated.exitCode` / `reason` such as OOMKilled).
"""

from __future__ import annotations

from dataclasses import dataclass

from lightkube.resources.core_v1 import Pod

# Waiting reasons after which the container will not start without someone changing something: the
# image cannot be pulled (the kubelet already retried once before backing off), or its configuration
# is refused. `ErrImagePull` alone is the first attempt and may be a passing registry hiccup.
NEVER_STARTS = frozenset({
    "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError",
    "CreateContainerError", "RunContainerError", "ErrImagePullBackOff",
})  # fmt: skip
IMAGE_REASONS = frozenset({"ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "ErrImagePullBackOff"})


@dataclass(frozen=True)
class PodView:
    phase: str
    started: bool  # the container runs or ran: its log can be read
    ready: bool
    deleting: bool
    exit_code: int | None = None
    terminated_reason: str = ""  # Completed, Error, OOMKilled, ContainerCannotRun, …
    waiting_reason: str = ""
    waiting_message: str = ""
    unschedulable: str = ""  # the scheduler's message while no node fits
    reason: str = ""  # pod-level: Evicted, DeadlineExceeded, …
    message: str = ""

    @property
    def ended(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    @property
    def never_starts(self) -> bool:
        return not self.started and self.waiting_reason in NEVER_STARTS


def view(pod: Pod, container: str) -> PodView:
    status = pod.status
    meta = pod.metadata
    deleting = bool(meta and meta.deletionTimestamp)
    if status is None:
        return PodView(phase="Pending", started=False, ready=False, deleting=deleting)
    conditions = {c.type: c for c in status.conditions or ()}
    scheduled = conditions.get("PodScheduled")
    unschedulable = ""
    if scheduled is not None and scheduled.status == "False" and scheduled.reason == "Unschedulable":
        unschedulable = scheduled.message or "no node fits the pod"
    ready = conditions.get("Ready")
    found = next((c for c in status.containerStatuses or () if c.name == container), None)
    state = found.state if found is not None else None
    running = state.running if state is not None else None
    terminated = state.terminated if state is not None else None
    waiting = state.waiting if state is not None else None
    return PodView(
        phase=status.phase or "Pending",
        started=running is not None or terminated is not None,
        ready=ready is not None and ready.status == "True",
        deleting=deleting,
        exit_code=terminated.exitCode if terminated is not None else None,
        terminated_reason=(terminated.reason or "") if terminated is not None else "",
        waiting_reason=(waiting.reason or "") if waiting is not None else "",
        waiting_message=(waiting.message or "") if waiting is not None else "",
        unschedulable=unschedulable,
        reason=status.reason or "",
        message=status.message or "",
    )
