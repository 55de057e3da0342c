"""Podman for container tests: its environment, a busybox image built from the host's busybox-static, the
operator image (scripts/build-operator-image) and a check that a job left no container or pod behind.
Registered as a pytest plugin in tests/conftest.py; every fixture here is session-scoped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONTAINERS_CONF = ROOT / "deploy" / "podman" / "containers.conf"
BUSYBOX_IMAGE = "localhost/openclara-test/busybox:1"
OPERATOR_IMAGE = "openclara/operators:0.1"
# Where Podman looks for CDI specs (besides /etc/cdi); /var/run is a tmpfs, so nothing outlives a reboot.
CDI_SPEC = Path("/var/run/cdi/openclara-test-fake-gpus.json")
# A fresh operator image takes 1.5-4 minutes (Debian packages and PyPI wheels); the suite's 120 s
# per-test timeout would cut off whichever test first asks for it.
OPERATOR_IMAGE_TIMEOUT = 900
BUSYBOX_APPLETS = (
    "sh", "wget", "httpd", "cat", "echo", "ls", "sleep", "touch", "mkdir", "env", "id", "test", "dd",
    "head", "tail", "grep", "sed", "true", "false", "printf",
)  # fmt: skip


def podman_env() -> dict[str, str]:
    """What to add to the environment of every podman call: CONTAINERS_CONF, unless the caller set one,
    is deploy/podman/containers.conf (the configuration that works on restricted machines)."""
    return {"CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF") or str(DEFAULT_CONTAINERS_CONF)}


def run_podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `podman <args>` with podman_env(); output captured as text. `check`: fail with podman's stderr."""
    result = subprocess.run(
        ["podman", *args], env={**os.environ, **podman_env()}, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited with {result.returncode}:\n{result.stderr}")
    return result


def image_exists(image: str) -> bool:
    return run_podman("image", "exists", image, check=False).returncode == 0


def leftover_containers(label_filter: str) -> list[str]:
    """Containers (by name) and pods (as `pod:<name>`) that match `label_filter` (`key` or `key=value`)."""
    containers = run_podman("ps", "-a", "--filter", f"label={label_filter}", "--format", "{{.Names}}").stdout
    pods = run_podman("pod", "ps", "--filter", f"label={label_filter}", "--format", "{{.Name}}").stdout
    return containers.split() + [f"pod:{name}" for name in pods.split()]


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def podman() -> None:
    """Podman is installed and answers `podman info`. Missing: fails in CI, skips elsewhere; broken: fails."""
    if shutil.which("podman") is None:
        _missing("podman is not installed (apt-get install -y podman runc uidmap slirp4netns fuse-overlayfs)")
    info = run_podman("info", check=False)
    if info.returncode != 0:
        pytest.fail(f"`podman info` failed (CONTAINERS_CONF={podman_env()['CONTAINERS_CONF']}):\n{info.stderr}")


@pytest.fixture(scope="session")
def busybox_image(podman: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """localhost/openclara-test/busybox:1: the host's static busybox with every applet linked into /bin."""
    if not image_exists(BUSYBOX_IMAGE):
        root = tmp_path_factory.mktemp("busybox-image")
        build_busybox_image(root / "rootfs", root / "rootfs.tar")
    return BUSYBOX_IMAGE


def build_busybox_image(rootfs: Path, tarball: Path) -> None:
    busybox = Path("/bin/busybox")
    # A dynamically linked busybox (Debian's `busybox` package) would not start in an empty image.
    if not busybox.exists() or b"ld-linux" in busybox.read_bytes()[:4096]:
        _missing("a static /bin/busybox is needed for the test image (apt-get install -y busybox-static)")
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    absent = sorted(set(BUSYBOX_APPLETS) - set(applets))
    assert not absent, f"/bin/busybox lacks the applets {absent}"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    for applet in applets:
        if applet != "busybox":
            (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (rootfs / "tmp").mkdir(mode=0o1777)
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "root").mkdir()
    with tarfile.open(tarball, "w") as tar:
        tar.add(rootfs, arcname=".", filter=_owned_by_root)
    run_podman("import", "--change", "ENV PATH=/bin", "--change", 'CMD ["sh"]', str(tarball), BUSYBOX_IMAGE)


def _owned_by_root(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.uid = member.gid = 0
    member.uname = member.gname = "root"
    return member


@pytest.fixture(scope="session")
def operator_image(podman: None) -> str:
    """openclara/operators:0.1, built by scripts/build-operator-image (seconds when the sources are unchanged)."""
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-operator-image")], env={**os.environ, **podman_env()}, capture_output=True,
        text=True, timeout=OPERATOR_IMAGE_TIMEOUT - 30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if build.returncode != 0:
        pytest.fail(f"scripts/build-operator-image failed ({build.returncode}):\n{build.stdout}\n{build.stderr}")
    return OPERATOR_IMAGE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that is explicitly marked keeps its own timeout: its marker comes first.
    for item in items:
        if "operator_image" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(OPERATOR_IMAGE_TIMEOUT))


@pytest.fixture
def fake_gpus(podman: None) -> Iterator[None]:
    """A CDI spec for two GPUs whose devices only set FAKE_GPU_<i>=present: the shape of the spec
    `nvidia-ctk cdi generate` writes, so `--device nvidia.com/gpu=<i>` resolves without a GPU."""
    devices = [{"name": str(i), "containerEdits": {"env": [f"FAKE_GPU_{i}=present"]}} for i in range(2)]
    CDI_SPEC.parent.mkdir(parents=True, exist_ok=True)
    CDI_SPEC.write_text(json.dumps({"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu", "devices": devices}))
    yield
    CDI_SPEC.unlink(missing_ok=True)
