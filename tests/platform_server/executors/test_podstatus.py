"""Reading a Pod's status: the shapes the kubelet and scheduler document, as the executor sees them."""

from __future__ import annotations

from typing import Any

from lightkube.codecs import from_dict
from lightkube.resources.core_v1 import Pod

from platform_server.executors.podstatus import view


def pod(status: dict[str, Any], **metadata: Any) -> Pod:
    obj = from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **metadata},
                     "spec": {"containers": [{"name": "operator", "image": "x"}]}, "status": status})
    assert isinstance(obj, Pod)
    return obj


def container(state: dict[str, Any], name: str = "operator") -> dict[str, Any]:
    return {"containerStatuses": [{"name": name, "image": "x", "imageID": "", "ready": False, "restartCount": 0,
                                   "state": state}]}


def test_pending_without_status_has_not_started() -> None:
    seen = view(pod({}), "operator")
    assert (seen.phase, seen.started, seen.ended, seen.never_starts) == ("Pending", False, False, False)


def test_unschedulable_carries_the_schedulers_message() -> None:
    message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    status = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                                  "reason": "Unschedulable", "message": message}]}
    assert view(pod(status), "operator").unschedulable == "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."


def test_image_pull_backoff_never_starts_but_a_first_pull_error_may_recover() -> None:
    backoff = container({"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "x"'}})
    first = container({"waiting": {"reason": "ErrImagePull", "message": "timeout"}})
    creating = container({"waiting": {"reason": "ContainerCreating"}})
    assert view(pod({"phase": "Pending", **backoff}), "operator").never_starts
    assert not view(pod({"phase": "Pending", **first}), "operator").never_starts
    assert not view(pod({"phase": "Pending", **creating}), "operator").never_starts


def test_running_and_terminated_containers_have_started() -> None:
    running = view(pod({"phase": "Running", **container({"running": {"startedAt": "2026-12-03T10:00:00Z"}})}),
                   "operator")
    assert running.started and not running.ended
    done = view(pod({"phase": "Failed", **container({"terminated": {"exitCode": 137, "reason": "OOMKilled"}})}),
                "operator")
    assert (done.started, done.ended, done.exit_code, done.terminated_reason) == (True, True, 137, "OOMKilled")


def test_pod_level_reasons_evicted_and_deadline() -> None:
    evicted = view(pod({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}),
                   "operator")
    assert (evicted.reason, evicted.message) == ("Evicted", "The node was low on resource: memory.")
    assert view(pod({"phase": "Failed", "reason": "DeadlineExceeded"}), "operator").reason == "DeadlineExceeded"


def test_ready_condition_and_deletion() -> None:
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    seen = view(pod(status, deletionTimestamp="2026-12-03T10:00:00Z"), "operator")
    assert seen.ready and seen.deleting


def test_other_containers_are_not_read_as_the_operator() -> None:
    status = {"phase": "Running", **container({"terminated": {"exitCode": 0}}, name="sidecar")}
    assert not view(pod(status), "operator").started
