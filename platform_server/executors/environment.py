"""The environment an operator or service sees inside a container or pod: container paths, no host paths.

The job runner builds one environment for every executor, with host folders (what the local executor
needs). Containers and pods see their mounts at the declared container paths and reach the platform's
services through another address than the host's loopback; this module makes that translation once for
the container and the Kubernetes executors.
"""

from __future__ import annotations

from collections.abc import Mapping

from platform_server.executors.base import Mount

LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"}
# Environment variables that hold the address of a platform service (Platform API, results service).
PLATFORM_HOST_KEY = "CLARA_SERVICE_HOST"
RESULTS_HOST_KEY = "CLARA_RESULTSSERVICE_SERVICE_HOST"
HOST_ADDRESS_KEYS = (PLATFORM_HOST_KEY, RESULTS_HOST_KEY)
# Only meaningful on the platform's host: a container has no path to it.
HOST_ONLY_KEYS = ("OPENCLARA_PAYLOAD_PATH",)


def container_environment(env: Mapping[str, str], inputs: tuple[Mount, ...] = (), outputs: tuple[Mount, ...] = (),
                          extra: tuple[Mount, ...] = (), hosts: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` as a container sees it.

    Host folders of `extra` mounts (the model repository) become their container paths; the input and
    output path lists name container paths; a loopback address under a key of `hosts` becomes the address
    given there (the slirp4netns gateway for Podman, the platform's Service name on Kubernetes).
    """
    result = {key: value for key, value in env.items() if key not in HOST_ONLY_KEYS}
    for mount in extra:  # e.g. NVIDIA_CLARA_MODEL_REPOSITORY=<host models folder> -> /clara/models
        host = str(mount.host_path)
        result = {key: value.replace(host, mount.container_path) for key, value in result.items()}
    for key, address in (hosts or {}).items():
        if result.get(key) in LOOPBACK:
            result[key] = address
    if inputs or outputs:
        result["NVIDIA_CLARA_INPUTPATHS"] = ";".join(f"{m.label}:{m.container_path}" for m in inputs)
        result["NVIDIA_CLARA_OUTPUTPATHS"] = ";".join(f"{m.label}:{m.container_path}" for m in outputs)
    return result
