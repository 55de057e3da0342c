"""DICOM TLS in the chart (dicomAdapter.tls): the adapter's second listener, fed by a Secret mounted as a volume.

The chart writes scp.tls with the paths where the pod mounts the Secret's keys; these tests lay the Secret
out as the kubelet does (a `..data` symlink to a timestamped folder, swapped on renewal) with a real test PKI,
load the rendered file with the adapter's own settings, and build its SSL context from it.
"""

from __future__ import annotations

import os
from hashlib import sha256
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest

from dicom_adapter.settings import AdapterSettings
from openclara.settings import load_settings
from openclara.tls import CertificateReloader, server_context
from tests.deploy.chart import (
    CHART,
    CLIENT_CA_SECRET,
    FULLNAME,
    TLS_SCENARIOS,
    TLS_SECRET,
    Manifests,
    helm,
    pod_spec,
    render,
    render_notes,
)
from tests.pki import Pki, make_pki

KUBERNETES_VERSIONS = ["1.29", kubernetes_validate.latest_version()]
TLS_PORT = 2762  # the container's (scp.tls.port)
MOUNT = "/etc/openclara/dicom-tls"
SECRET_MODE = 0o440  # group fsGroup: the adapter's user reads the key, other users do not


def _container(manifests: Manifests) -> dict[str, Any]:
    (container,) = pod_spec(manifests, "dicom-adapter")["containers"]
    return container


def _secret_volumes(manifests: Manifests) -> dict[str, dict[str, Any]]:
    """mountPath -> the Secret volume mounted there, with its mount."""
    spec = pod_spec(manifests, "dicom-adapter")
    volumes = {v["name"]: v for v in spec["volumes"]}
    return {m["mountPath"]: {**volumes[m["name"]]["secret"], "mount": m}
            for m in _container(manifests)["volumeMounts"] if "secret" in volumes[m["name"]]}


def _service_ports(manifests: Manifests) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = manifests.get("Service", f"{FULLNAME}-dicom")["spec"]["ports"]
    return ports


def _secret_files(manifests: Manifests, path: str) -> tuple[str, str]:
    """(Secret name, key) that the pod shows at `path`: the Secret volume mounted at its folder, by its items."""
    folder, name = str(PurePosixPath(path).parent), PurePosixPath(path).name
    volume = _secret_volumes(manifests)[folder]
    assert "subPath" not in volume["mount"], "a subPath mount never sees a renewed Secret"
    (key,) = [item["key"] for item in volume["items"] if item["path"] == name]
    return volume["secretName"], key


def _write_secret(folder: Path, files: dict[str, Path], version: str) -> None:
    """A Secret volume as the kubelet writes it: keys are symlinks through `..data`, swapped atomically."""
    data = folder / f"..{version}"
    data.mkdir(parents=True)
    for key, source in files.items():
        (data / key).write_bytes(source.read_bytes())
        if not (folder / key).is_symlink():
            (folder / key).symlink_to(f"..data/{key}")
    (folder / "..data_tmp").symlink_to(data.name)
    os.replace(folder / "..data_tmp", folder / "..data")


def _issued(pki: Pki, keys: list[str]) -> dict[str, Path]:
    """The files cert-manager would put under these keys of a kubernetes.io/tls Secret."""
    files = {"tls.crt": pki.server_crt, "tls.key": pki.server_key, "ca.crt": pki.ca_crt}
    return {key: files[key] for key in keys}


def _load_adapter(manifests: Manifests, root: Path) -> AdapterSettings:
    """The rendered dicom-adapter.yaml, its /etc/openclara paths under `root`, loaded as the adapter does."""
    path = root / "dicom-adapter.yaml"
    path.write_text(manifests.config_text("dicom-adapter").replace("/etc/openclara/", f"{root}/etc/openclara/"))
    return load_settings(AdapterSettings, path)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("scenario", sorted(TLS_SCENARIOS))
def test_tls_renders_objects_the_kubernetes_schemas_accept(scenario: str, version: str) -> None:
    for manifest in render(scenario):
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{manifest['kind']} {manifest['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_tls_values_lint_strictly() -> None:
    helm("lint", "--strict", str(CHART), *TLS_SCENARIOS["dicom-tls-required"])


def test_without_a_secret_there_is_no_dicom_tls() -> None:
    manifests = render("default")
    assert "tls" not in manifests.config("dicom-adapter")["scp"]
    assert [p["name"] for p in _container(manifests)["ports"]] == ["dicom", "api"]
    assert [p["name"] for p in _service_ports(manifests)] == ["dicom"]
    assert MOUNT not in _secret_volumes(manifests)


@pytest.mark.parametrize(("scenario", "client_ca"), [
    ("dicom-tls", None),
    ("dicom-tls-required", (TLS_SECRET, "ca.crt")),
    ("dicom-tls-client-ca", (CLIENT_CA_SECRET, "ca.crt")),
])
def test_adapter_reads_the_keys_of_the_mounted_secrets(scenario: str, client_ca: tuple[str, str] | None) -> None:
    manifests = render(scenario)
    tls = manifests.config("dicom-adapter")["scp"]["tls"]
    assert tls["port"] == TLS_PORT
    assert tls["cert_file"] == f"{MOUNT}/tls.crt"
    assert _secret_files(manifests, tls["cert_file"]) == (TLS_SECRET, "tls.crt")
    assert _secret_files(manifests, tls["key_file"]) == (TLS_SECRET, "tls.key")
    assert (_secret_files(manifests, tls["client_ca_file"]) if "client_ca_file" in tls else None) == client_ca
    for volume in _secret_volumes(manifests).values():
        assert volume["mount"]["readOnly"] is True
        assert volume["defaultMode"] == SECRET_MODE
    # 0440 reaches the adapter's user only through the group the kubelet gives the files: fsGroup.
    security = pod_spec(manifests, "dicom-adapter")["securityContext"]
    assert security["fsGroup"] == security["runAsGroup"]


def test_the_values_win_over_config_scp_tls_but_its_reload_interval_stays() -> None:
    tls = render("dicom-tls").config("dicom-adapter")["scp"]["tls"]
    assert tls == {"port": TLS_PORT, "cert_file": f"{MOUNT}/tls.crt", "key_file": f"{MOUNT}/tls.key",
                   "required": False, "reload_interval": 5}
    assert "reload_interval" not in render("dicom-tls-required").config("dicom-adapter")["scp"]["tls"]


@pytest.mark.parametrize(("scenario", "service_ports"), [
    ("dicom-tls", [{"name": "dicom", "port": 104, "targetPort": "dicom", "nodePort": 30104},
                   {"name": "dicom-tls", "port": 2762, "targetPort": "dicom-tls", "nodePort": 30762}]),
    ("dicom-tls-required", [{"name": "dicom-tls", "port": 2762, "targetPort": "dicom-tls"}]),
    ("dicom-tls-client-ca", [{"name": "dicom", "port": 104, "targetPort": "dicom"},
                             {"name": "dicom-tls", "port": 2762, "targetPort": "dicom-tls"}]),
])
def test_service_and_pod_carry_the_tls_port_and_the_plain_one_unless_required(
        scenario: str, service_ports: list[dict[str, Any]]) -> None:
    manifests = render(scenario)
    assert _service_ports(manifests) == service_ports
    container_ports = {p["name"]: p["containerPort"] for p in _container(manifests)["ports"]}
    plain = scenario != "dicom-tls-required"
    assert container_ports == {**({"dicom": 11112} if plain else {}), "dicom-tls": TLS_PORT, "api": 5000}
    assert manifests.config("dicom-adapter")["scp"]["tls"]["required"] is not plain


def test_enabling_tls_restarts_the_adapter() -> None:
    checksums = set()
    for scenario in ("default", *TLS_SCENARIOS):
        manifests = render(scenario)
        template = manifests.get("Deployment", f"{FULLNAME}-dicom-adapter")["spec"]["template"]
        checksum = template["metadata"]["annotations"]["checksum/config"]
        assert checksum == sha256(manifests.config_text("dicom-adapter").rstrip("\n").encode()).hexdigest()
        checksums.add(checksum)
    assert len(checksums) == 1 + len(TLS_SCENARIOS)


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", sorted(TLS_SCENARIOS))
def test_adapter_serves_the_secret_and_takes_its_renewal_without_restart(scenario: str, tmp_path: Path) -> None:
    """The rendered file passes the adapter's validation against the Secret's files, and builds its context."""
    manifests = render(scenario)
    first, renewed = make_pki(tmp_path / "pki-1"), make_pki(tmp_path / "pki-2")
    secrets = {mount: [item["key"] for item in volume["items"]]
               for mount, volume in _secret_volumes(manifests).items() if mount.startswith("/etc/openclara/")}
    for mount, keys in secrets.items():
        _write_secret(tmp_path / mount.lstrip("/"), _issued(first, keys), "2024_01_01_00_00_00.1")
    tls = _load_adapter(manifests, tmp_path).scp.tls
    assert tls.port == TLS_PORT and tls.enabled
    assert (tls.client_ca_file is not None) == (scenario != "dicom-tls")
    reloader = CertificateReloader(server_context(tls), tls, "scp")
    assert reloader.check() is False
    _write_secret(tmp_path / MOUNT.lstrip("/"), _issued(renewed, secrets[MOUNT]), "2024_03_01_00_00_00.2")
    assert reloader.check() is True


@pytest.mark.parametrize(("values", "complaint"), [
    (("--set", "dicomAdapter.tls.required=true"), "need secretName"),
    (("--set", "dicomAdapter.tls.clientCertificates=true"), "need secretName"),
    (("--set", "dicomAdapter.tls.secretName=cert", "--set", "dicomAdapter.tls.clientCaSecretName=ca"),
     "only with clientCertificates: true"),
    (("--set", "dicomAdapter.tls.secretName=cert", "--set", "dicomAdapter.tls.port=104"), "need a port each"),
    (("--set", "dicomAdapter.tls.secretName=cert", "--set", "dicomAdapter.tls.nodePort=30104"),
     "need a node port each"),
], ids=["required-without-secret", "client-certificates-without-secret", "client-ca-without-client-certificates",
        "same-port", "same-node-port"])
def test_chart_refuses_tls_values_that_cannot_work(values: tuple[str, ...], complaint: str) -> None:
    result = helm("template", "clara", str(CHART), *values, check=False)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_required_tls_may_reuse_the_plain_ports_numbers() -> None:
    """With required: true there is no plain port, so the TLS port may take 104 and 30104."""
    helm("template", "clara", str(CHART), "--set", "dicomAdapter.tls.secretName=cert",
         "--set", "dicomAdapter.tls.required=true", "--set", "dicomAdapter.tls.port=104",
         "--set", "dicomAdapter.tls.nodePort=30104")


@pytest.mark.parametrize("scenario", sorted(TLS_SCENARIOS))
def test_notes_show_how_the_pacs_reaches_the_tls_port(scenario: str, tmp_path: Path) -> None:
    notes = render_notes(scenario, tmp_path)
    ports = {p["port"] for p in _service_ports(render(scenario))}
    for _, port in (line.split(" ")[-2].split(":") for line in notes.splitlines() if "port-forward svc/" in line
                    and f"{FULLNAME}-dicom " in line):
        assert int(port) in ports
    plain = "storescu -aec CLARA +sd" in notes
    assert plain is (scenario != "dicom-tls-required")
    client = "+tls pacs.key pacs.crt +cf ca.crt" if scenario != "dicom-tls" else "+tla +cf ca.crt"
    assert f"storescu -aec CLARA {client} +sd" in notes
    assert f"get secret {TLS_SECRET} -o jsonpath='{{.data.ca\\.crt}}'" in notes
    if scenario == "dicom-tls":
        assert """jsonpath='{.spec.ports[?(@.name=="dicom-tls")].nodePort}'""" in notes
    if scenario == "dicom-tls-client-ca":
        assert f"key ca.crt of Secret {CLIENT_CA_SECRET}" in notes
