"""The Podman fixtures of tests/support/containers.py: the busybox and operator images run, and leftovers are found."""

from __future__ import annotations

import uuid

import pytest

from tests.support.containers import leftover_containers, run_podman

pytestmark = pytest.mark.usefixtures("podman")


def test_busybox_image_runs_its_applets(busybox_image: str) -> None:
    script = "echo hello; id -u; which wget httpd"
    result = run_podman("run", "--rm", busybox_image, "sh", "-c", script)
    assert result.stdout.split() == ["hello", "0", "/bin/wget", "/bin/httpd"]


def test_operator_image_imports_the_operators(operator_image: str) -> None:
    command = "import pipeline_operators.dicom_reader, sys; print(sys.prefix)"
    result = run_podman("run", "--rm", operator_image, "python", "-c", command)
    assert result.stdout.strip() == "/opt/openclara"


def test_leftover_containers_lists_containers_and_pods_by_label(busybox_image: str) -> None:
    label = f"org.openclara.test.leftover={uuid.uuid4().hex}"
    name = f"leftover-{uuid.uuid4().hex[:12]}"
    run_podman("pod", "create", "--label", label, "--name", name)
    run_podman("create", "--label", label, "--name", name + "-c", busybox_image, "true")
    try:
        leftovers = leftover_containers(label)
        assert {name + "-c", f"pod:{name}"} <= set(leftovers)  # and the pod's infra container
    finally:
        run_podman("rm", "-f", name + "-c")
        run_podman("pod", "rm", "-f", name)
    assert leftover_containers(label) == []
