"""GPUs for containers: exactly the GPUs the scheduler handed out, and none to an operator that asked for none.

Two ways to name them, both understood by NVIDIA's container toolkit:

* `cdi` (Podman, and Docker 25+): one `--device nvidia.com/gpu=<index>` per GPU, resolved through the
  CDI spec that `nvidia-ctk cdi generate` writes to /etc/cdi or /var/run/cdi;
* `gpus` (Docker's own flag): `--gpus "device=<i>,<j>"`.

Containers without a GPU request get `NVIDIA_VISIBLE_DEVICES=void`: where the NVIDIA runtime is the
engine's default, that is what keeps it from exposing every GPU to them.
"""

from __future__ import annotations

from typing import Literal

CDI_KIND = "nvidia.com/gpu"


def gpu_arguments(gpu_ids: tuple[int, ...], mode: Literal["cdi", "gpus"]) -> list[str]:
    if not gpu_ids:
        return ["--env", "NVIDIA_VISIBLE_DEVICES=void"]
    if mode == "gpus":
        return ["--gpus", f"device={','.join(str(i) for i in gpu_ids)}"]
    args: list[str] = []
    for index in gpu_ids:
        args += ["--device", f"{CDI_KIND}={index}"]
    return args
