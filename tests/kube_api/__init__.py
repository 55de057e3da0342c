"""A fake Kubernetes API server for tests, on a real loopback socket, so the Kubernetes executor (through
lightkube's AsyncClient) and platform servers started as subprocesses (through a kubeconfig) can both talk to it.

What it fakes, following the documented behaviour of the Kubernetes API (and the apiserver's/kubelet's wording
where clients show it): core/v1 `pods`, `services` and `secrets` in any namespace (and `persistentvolumeclaims` to
read: `fake.add_claim`) - create, get, list (label and field selectors, limit/continue), watch (ADDED/MODIFIED/
DELETED, resume from a resourceVersion, 410 Expired after compaction, timeoutSeconds), delete (DeleteOptions in the
body or the query, graceful pod deletion, foreground finalizer) and deletecollection - `pods/log` (tailLines,
sinceSeconds, timestamps, follow) and `/version`, `/api`, `/api/v1` discovery. Secrets keep `data` (base64 checked,
`stringData` merged in) and the kubelet reads them for `secretKeyRef` env. Errors are `Status` objects with the real
reasons and messages.

A scripted scheduler + kubelet (kubelet.py) plays every created pod according to a `PodScript` chosen by
`fake.script(pod)`: Pending -> Running -> Succeeded/Failed with the conditions and container states a node reports,
image-pull back-off, unschedulable, OOM, eviction, activeDeadlineSeconds and a missing Secret included.

What it does not do: no scheduling decisions, resources or nodes (one node, "fake-node"), no real containers (a
script's `run` callable stands in for the process, reading and writing host folders through `mounted_path`), no
restarts, no auth (any token is accepted), no TLS, no patch/replace/exec, no other resource kinds.

Registered as a pytest plugin in tests/conftest.py: the `fake_kubernetes` fixture yields a running FakeKubernetes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kube_api.kubelet import DEADLINE_MESSAGE, NODE_NAME, PodScript, container_env, mounted_path, write_file
from tests.kube_api.server import FakeKubernetes

__all__ = [
    "DEADLINE_MESSAGE", "NODE_NAME", "FakeKubernetes", "PodScript", "container_env", "fake_kubernetes", "mounted_path",
    "write_file",
]  # fmt: skip


@pytest.fixture
def fake_kubernetes() -> Iterator[FakeKubernetes]:
    """A fresh fake API server on 127.0.0.1 for one test; `.kubeconfig(path)` points clients at it."""
    with FakeKubernetes() as fake:
        yield fake
