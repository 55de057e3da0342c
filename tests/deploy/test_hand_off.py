"""Zero-copy hand-off on Kubernetes (values dicomAdapter.handOff): the adapter's spool on the shared volume.

With executor kubernetes and handOff on, the adapter mounts the platform's ReadWriteMany claim at the
platform's own path and spools there, so the platform can hard-link spooled files into payloads (its
`local_files`, limited to that folder) and the adapter finds results where the platform says they are.
Off, or with executor local, neither side tries. Each rendered file is loaded with the service's own
settings class, under the image's environment (the container_env fixture).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.deploy.chart import (
    CHART,
    FULLNAME,
    HAND_OFF,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    Manifests,
    claims,
    helm,
    load_config,
    mounts,
    pod_spec,
    render,
    volume_of,
)

SHARED_PATH = "/var/lib/openclara-shared"
ON = sorted(s for s in SCENARIOS if HAND_OFF[s])
OFF = sorted(s for s in SCENARIOS if not HAND_OFF[s])


def _render(*helm_args: str) -> Manifests:
    out = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *helm_args).stdout
    return Manifests(tuple(doc for doc in yaml.safe_load_all(out) if doc))


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_both_sides_agree_whether_files_are_linked(scenario: str, tmp_path: Path) -> None:
    manifests = render(scenario)
    platform = load_config(manifests, "platform", tmp_path)
    adapter = load_config(manifests, "dicom-adapter", tmp_path)
    assert platform.local_files.enabled is adapter.platform.local_files is HAND_OFF[scenario]


@pytest.mark.parametrize("scenario", ON)
def test_adapter_mounts_the_platforms_claim_whole_at_the_platforms_path(scenario: str) -> None:
    """One mount of the whole claim (no subPath): link() fails across mount points, even of one file system."""
    manifests = render(scenario)
    for component in ("platform", "dicom-adapter"):
        assert mounts(manifests, component)[SHARED_PATH] == "shared"
        (container,) = pod_spec(manifests, component)["containers"]
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "shared"]
        assert mount == {"name": "shared", "mountPath": SHARED_PATH}  # read-write, no subPath
    assert claims(manifests, "dicom-adapter")["shared"] == claims(manifests, "platform")["shared"] == \
        f"{FULLNAME}-shared"


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", ON)
def test_platform_links_only_from_the_adapters_spool_and_the_adapter_only_from_payloads(
        scenario: str, tmp_path: Path) -> None:
    """Paths cross between the pods as they are (Adopt gets the adapter's paths, Locate answers the
    platform's), so each folder must lie on the shared volume at the same path in both pods."""
    manifests = render(scenario)
    platform = load_config(manifests, "platform", tmp_path)
    adapter = load_config(manifests, "dicom-adapter", tmp_path)
    spool = adapter.storage.spool_dir
    assert platform.local_files.sources == [spool] == [Path(f"{SHARED_PATH}/dicom/spool")]
    assert adapter.platform.link_from == [platform.payloads_dir]
    for path in (spool, platform.payloads_dir):
        assert volume_of(manifests, "platform", path) == volume_of(manifests, "dicom-adapter", path) == "shared"
    # Results are linked into the export spool: it must be on the same file system as the payloads.
    assert volume_of(manifests, "dicom-adapter", adapter.export.resolved_spool_dir()) == "shared"
    assert platform.local_files.callers == ["services"]  # the token the adapter sends


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", ON)
def test_operator_pods_never_mount_the_spool(scenario: str, tmp_path: Path) -> None:
    """Operator pods get subPaths of payloads and models only; the spool is beside them, not inside."""
    manifests = render(scenario)
    platform = load_config(manifests, "platform", tmp_path)
    adapter = load_config(manifests, "dicom-adapter", tmp_path)
    for spool in (PurePosixPath(adapter.storage.spool_dir), PurePosixPath(adapter.export.resolved_spool_dir())):
        for operator_folder in (PurePosixPath(platform.payloads_dir), PurePosixPath(platform.models_dir)):
            assert not spool.is_relative_to(operator_folder)
            assert not operator_folder.is_relative_to(spool)


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", ON)
def test_adapters_sqlite_stays_on_its_read_write_once_volume(scenario: str, tmp_path: Path) -> None:
    """SQLite (the database, the export agent's progress) must not live on a network file system."""
    manifests = render(scenario)
    adapter = load_config(manifests, "dicom-adapter", tmp_path)
    for path in (adapter.database.path, adapter.export.state_dir):
        assert volume_of(manifests, "dicom-adapter", path) == "data"
    claim = manifests.get("PersistentVolumeClaim", claims(manifests, "dicom-adapter")["data"])
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", OFF)
def test_without_hand_off_the_spool_stays_on_the_adapters_volume(scenario: str, tmp_path: Path) -> None:
    manifests = render(scenario)
    adapter = load_config(manifests, "dicom-adapter", tmp_path)
    assert "shared" not in claims(manifests, "dicom-adapter")
    assert SHARED_PATH not in mounts(manifests, "dicom-adapter")
    assert volume_of(manifests, "dicom-adapter", adapter.storage.spool_dir) == "data"
    assert volume_of(manifests, "dicom-adapter", adapter.export.resolved_spool_dir()) == "data"
    assert adapter.platform.link_from == []


@pytest.mark.usefixtures("container_env")
def test_executor_local_turns_hand_off_off_even_when_asked(tmp_path: Path) -> None:
    manifests = _render("--set", "platform.executor=local", "--set", "dicomAdapter.handOff=true")
    assert load_config(manifests, "platform", tmp_path).local_files.enabled is False
    assert load_config(manifests, "dicom-adapter", tmp_path).platform.local_files is False


@pytest.mark.parametrize("user", [None, 2000])
def test_platform_and_adapter_run_as_one_user(user: int | None) -> None:
    """Linux protected_hardlinks: the platform may link the adapter's files (0600, folders 0700) because it
    owns them, both pods running as the one podSecurityContext, so the spool needs no group or world access.
    Operator pods run as that user too (they read the linked inputs)."""
    args = () if user is None else ("--set", f"podSecurityContext.runAsUser={user}",
                                    "--set", f"podSecurityContext.runAsGroup={user}")
    manifests = _render(*args)
    contexts = [pod_spec(manifests, c)["securityContext"] for c in ("platform", "dicom-adapter")]
    assert contexts[0] == contexts[1]
    assert contexts[0]["runAsUser"] == contexts[0]["runAsGroup"] == (user or 1000)
    kubernetes = yaml.safe_load(manifests.config_text("platform"))["executor"]["kubernetes"]
    assert kubernetes["run_as_user"] == kubernetes["run_as_group"] == (user or 1000)


@pytest.mark.usefixtures("container_env")
def test_config_values_cannot_unwire_the_hand_off(tmp_path: Path) -> None:
    """The chart's wiring wins over dicomAdapter.config and platform.config; local_files.callers stays yours."""
    on = _render(
        "--set", "dicomAdapter.config.storage.spool_dir=/var/lib/openclara/elsewhere",
        "--set", "dicomAdapter.config.platform.payloads_dir=/tmp",
        "--set", "dicomAdapter.config.platform.local_files=false",
        "--set-json", 'platform.config.local_files={"enabled": false, "directories": ["/"],'
                      ' "callers": ["services", "ingest"]}',
    )
    platform = load_config(on, "platform", tmp_path)
    adapter = load_config(on, "dicom-adapter", tmp_path)
    assert platform.local_files.enabled and adapter.platform.local_files
    assert platform.local_files.sources == [adapter.storage.spool_dir] == [Path(f"{SHARED_PATH}/dicom/spool")]
    assert adapter.platform.payloads_dir == platform.payloads_dir
    assert platform.local_files.callers == ["services", "ingest"]
    off = _render(
        "--set", "dicomAdapter.handOff=false",
        "--set", "dicomAdapter.config.platform.local_files=true",
        "--set", "platform.config.local_files.enabled=true",
    )
    assert load_config(off, "platform", tmp_path).local_files.enabled is False
    assert load_config(off, "dicom-adapter", tmp_path).platform.local_files is False


def test_existing_shared_claim_reaches_the_adapter() -> None:
    manifests = _render("--set", "sharedVolume.existingClaim=nfs-payloads")
    assert claims(manifests, "dicom-adapter") == {"data": f"{FULLNAME}-dicom-adapter-data", "shared": "nfs-payloads"}
    assert claims(manifests, "platform")["shared"] == "nfs-payloads"
