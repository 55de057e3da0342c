"""Pod manifests as Podman can play them (the Kubernetes executor's tests and bench/kube_pods.py)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

from platform_server.executors.pods import Manifest


def resolve_sub_paths(manifest: Manifest, claim_folders: Mapping[str, Path]) -> Manifest:
    """`manifest` as Podman 4.3 can run it: what the kubelet does with `subPath`, done beforehand.

    `podman kube play` turns a claim into a named volume of its own and ignores `subPath` (on claims and
    hostPath volumes alike), though it honours `readOnly`. The kubelet bind-mounts `<claim>/<subPath>` at
    `mountPath`; so each subPath mount of a claim becomes its own hostPath volume (type Directory) at that
    folder, keeping `mountPath` and `readOnly`. Everything else stays exactly as pods.py made it.
    """
    if manifest["kind"] != "Pod":
        return manifest  # a ClusterIP Service: Podman accepts it and does nothing with it
    result = copy.deepcopy(manifest)
    spec = result["spec"]
    claims = {
        v["name"]: claim_folders[v["persistentVolumeClaim"]["claimName"]]
        for v in spec["volumes"]
        if "persistentVolumeClaim" in v
    }
    volumes = [v for v in spec["volumes"] if v["name"] not in claims]
    for container in (*spec.get("initContainers", ()), *spec["containers"]):
        for index, mount in enumerate(container.get("volumeMounts", [])):
            if mount["name"] in claims:
                folder = claims[mount["name"]] / mount.pop("subPath", "")
                mount["name"] = f"{mount['name']}-{container['name']}-{index}"
                volumes.append({"name": mount["name"], "hostPath": {"path": str(folder), "type": "Directory"}})
    spec["volumes"] = volumes
    return result
