"""NOTES.txt names the commands that work for the release: Services that exist, the DICOM port as exposed.

`helm template` does not render NOTES.txt (and `helm install --dry-run` needs a cluster), so a copy of
the chart carries the notes as a ConfigMap's data.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.deploy.chart import CHART, FULLNAME, NAMESPACE, RELEASE, SCENARIOS, helm, render


def _notes(scenario: str, tmp_path: Path) -> str:
    chart = tmp_path / "openclara"
    shutil.copytree(CHART, chart)
    templates = chart / "templates"
    notes = (templates / "NOTES.txt").read_text()
    (templates / "NOTES.txt").unlink()
    (templates / "_notes.tpl").write_text('{{- define "test.notes" -}}\n' + notes + "{{- end }}\n")
    (templates / "notes.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
                                          'data:\n  notes: {{ include "test.notes" . | quote }}\n')
    out = helm("template", RELEASE, str(chart), "--namespace", NAMESPACE, "--show-only", "templates/notes.yaml",
               *SCENARIOS[scenario]).stdout
    text: str = yaml.safe_load(out)["data"]["notes"]
    return text


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_notes_name_only_services_of_the_release(scenario: str, tmp_path: Path) -> None:
    notes = _notes(scenario, tmp_path)
    manifests = render(scenario)
    services = {s["metadata"]["name"]: s for s in manifests.of_kind("Service")}
    deployments = {d["metadata"]["name"] for d in manifests.of_kind("Deployment")}
    assert set(re.findall(r"(?:svc/|get svc )(\S+)", notes)) <= set(services)
    assert set(re.findall(r"deploy/(\S+)", notes)) <= deployments
    for name, _, port in re.findall(r"port-forward svc/(\S+) (\d+):(\d+)", notes):
        assert int(port) in [p["port"] for p in services[name]["spec"]["ports"]]
    assert "clara list jobs --all" in notes
    assert "storescu -aec CLARA" in notes


def test_notes_show_how_the_pacs_reaches_the_dicom_port(tmp_path: Path) -> None:
    node_port = _notes("default", tmp_path / "default")
    assert "jsonpath='{.spec.ports[0].nodePort}'" in node_port
    assert "platform.gpus" not in node_port
    load_balancer = _notes("gpu-cluster", tmp_path / "gpu")
    assert "storescu -aec CLARA +sd $DICOM_HOST 104 ./study/" in load_balancer
    assert "platform.gpus" not in load_balancer
    cluster_ip = _notes("variants", tmp_path / "variants")
    assert f"port-forward svc/{FULLNAME}-dicom 11112:104" in cluster_ip
    assert "platform.gpus is 0" in cluster_ip
    local = _notes("local-executor", tmp_path / "local")
    assert "inside the platform pod (executor: local)" in local
