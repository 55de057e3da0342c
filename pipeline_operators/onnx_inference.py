"""Operator `onnx_inference`: run an ONNX model from the model repository on every input volume.

The model comes from `--model PATH` (a `.onnx` file or a folder), else from the models the pipeline
declares for this operator (`NVIDIA_CLARA_MODELS`, `name:folder` pairs; `--model-name` picks one when
there are several), else from the platform's model repository (`NVIDIA_CLARA_MODEL_REPOSITORY`) plus
`--model-name`. In a folder the single `.onnx` file, or the highest numeric version of a Triton
layout (`<name>/<version>/model.onnx`), is used.
A JSON sidecar (`<model>.json` next to the file) may set `mode` ("slice": (N, 1, H, W) batches of
axial slices; "volume": (1, 1, D, H, W)), `scale`/`offset` (input = HU * scale + offset),
`threshold`, `batch_size`, `labels` ({"1": "Lung"}) and `version`; flags override it. Outputs with
several channels become labels by argmax, one channel by `threshold`. onnxruntime uses the CUDA
provider when present and the CPU otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import structlog

from pipeline_operators.entrypoint import io_options, run_operator
from pipeline_operators.environment import NamedPath, load_environment
from pipeline_operators.errors import ModelError
from pipeline_operators.volume import Volume, find_volumes, load_volume, save_volume

log = structlog.get_logger()

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


@dataclass(frozen=True)
class InferenceConfig:
    """How to feed the model and read its output; from the sidecar, then flags."""

    mode: str = ""  # "slice" | "volume"; empty = from the model's input rank (4 or 5)
    scale: float = 1.0
    offset: float = 0.0
    threshold: float = 0.5
    batch_size: int = 8
    labels: dict[str, str] = field(default_factory=dict)
    version: str = "1"


def find_model(
    model: Path | None, repository: Path | None, name: str | None, declared: tuple[NamedPath, ...] = ()
) -> Path:
    """The `.onnx` file to run, or a ModelError saying what was looked for."""
    if model is None:
        model = _declared_model(declared, name)
    if model is None:
        if repository is None:
            raise ModelError(
                "no model: pass --model PATH, declare `models: [{name: ...}]` for this operator in the pipeline, "
                "or set NVIDIA_CLARA_MODEL_REPOSITORY and --model-name"
            )
        model = repository / name if name else repository
    if model.is_file():
        return model
    if not model.is_dir():
        raise ModelError(f"model not found: {model}")
    versions = sorted((p for p in model.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    search = versions[-1] if versions else model
    found = sorted(search.rglob("*.onnx"))
    if len(found) != 1:
        listing = ", ".join(p.name for p in found) or "none"
        raise ModelError(f"expected exactly one .onnx file under {search}, found {listing}; pass --model FILE")
    return found[0]


def _declared_model(declared: tuple[NamedPath, ...], name: str | None) -> Path | None:
    if name is not None:
        return next((item.path for item in declared if item.name == name), None)
    if len(declared) > 1:
        names = ", ".join(item.name for item in declared)
        raise ModelError(f"the pipeline declares several models ({names}): pick one with --model-name")
    return declared[0].path if declared else None


def load_config(model: Path) -> InferenceConfig:
    """The sidecar `<model>.json` (or `config.json` beside the model), if any."""
    for sidecar in (model.with_suffix(".json"), model.parent / "config.json"):
        if sidecar.is_file():
            try:
                data = json.loads(sidecar.read_text(encoding="utf-8"))
                return _config_from(data)
            except (ValueError, TypeError) as exc:
                raise ModelError(f"{sidecar}: invalid sidecar: {exc}") from exc
    return InferenceConfig()


def _config_from(data: dict[str, Any]) -> InferenceConfig:
    default = InferenceConfig()
    return InferenceConfig(
        mode=str(data.get("mode", default.mode)),
        scale=float(data.get("scale", default.scale)),
        offset=float(data.get("offset", default.offset)),
        threshold=float(data.get("threshold", default.threshold)),
        batch_size=int(data.get("batch_size", default.batch_size)),
        labels={str(k): str(v) for k, v in dict(data.get("labels", {})).items()},
        version=str(data.get("version", default.version)),
    )


class ModelRunner:
    """One onnxruntime session and the pre/post-processing around it."""

    def __init__(self, model: Path, config: InferenceConfig) -> None:
        providers = [p for p in PREFERRED_PROVIDERS if p in ort.get_available_providers()]
        try:
            self._session = ort.InferenceSession(str(model), providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(f"{model}: cannot load the ONNX model: {exc}") from exc
        self._input = self._session.get_inputs()[0]
        rank = len(self._input.shape)
        mode = config.mode or {4: "slice", 5: "volume"}.get(rank, "")
        if mode not in ("slice", "volume") or rank != (4 if mode == "slice" else 5):
            raise ModelError(
                f"{model.name}: input of rank {rank} does not fit mode {mode or '?'} (slice needs 4, volume 5)"
            )
        self.config = replace(config, mode=mode)
        self.model = model
        self.providers = self._session.get_providers()

    def labels(self, volume: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
        """Run the model over `volume` (slice, row, column) and return a label volume of its shape."""
        data = (volume.astype(np.float32) * self.config.scale + self.config.offset).astype(np.float32)
        if self.config.mode == "volume":
            return np.asarray(self._to_labels(self._run(data[None, None]))[0], dtype=np.uint8)
        out = np.empty(volume.shape, dtype=np.uint8)
        step = max(1, self.config.batch_size)
        for start in range(0, volume.shape[0], step):
            out[start : start + step] = self._to_labels(self._run(data[start : start + step, None]))
        return out

    def _run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
        try:
            result = self._session.run(None, {self._input.name: batch})[0]
        except Exception as exc:  # onnxruntime's errors carry the shape mismatch in their text
            raise ModelError(f"{self.model.name}: inference failed on input {batch.shape}: {exc}") from exc
        return np.asarray(result)

    def _to_labels(self, output: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
        """(N, C, ...) -> (N, ...): argmax over C > 1 channels, threshold for one; integers pass through."""
        if np.issubdtype(output.dtype, np.integer) or output.dtype == np.bool_:
            squeezed = output[:, 0] if output.ndim >= 4 and output.shape[1] == 1 else output
            return np.asarray(squeezed, dtype=np.uint8)
        if output.shape[1] > 1:
            return np.asarray(np.argmax(output, axis=1), dtype=np.uint8)
        return (output[:, 0] > self.config.threshold).astype(np.uint8)


def infer_volume(runner: ModelRunner, volume: Volume) -> Volume:
    labels = runner.labels(volume.array)
    if labels.shape != volume.array.shape:
        raise ModelError(f"{runner.model.name}: output shape {labels.shape} differs from input {volume.array.shape}")
    names = runner.config.labels or {
        str(value): f"{runner.model.stem} {value}" for value in range(1, int(labels.max()) + 1)
    }
    algorithm = {"name": runner.model.stem, "version": runner.config.version, "family": "ArtificialIntelligence"}
    log.info("onnx.series.done", series_instance_uid=volume.geometry.series_instance_uid, labels=sorted(names))
    return Volume(labels, volume.geometry.with_labels(names, algorithm))


@click.command()
@io_options
@click.option("--model", type=click.Path(exists=True, path_type=Path), default=None, help=".onnx file or folder.")
@click.option("--model-name", default=None, help="Model folder inside the platform's model repository.")
@click.option("--mode", type=click.Choice(["slice", "volume"]), default=None, help="Default: from the sidecar/model.")
@click.option("--threshold", type=float, default=None, help="Single-channel output: label where output > threshold.")
@click.option("--labels", "labels_json", default=None, help='Label names as JSON, e.g. \'{"1": "Lung"}\'.')
def main(
    inputs: tuple[Path, ...],
    output: Path | None,
    model: Path | None,
    model_name: str | None,
    mode: str | None,
    threshold: float | None,
    labels_json: str | None,
) -> None:
    """Run an ONNX model on every volume under --input and write label volumes to --output."""

    def body() -> None:
        env = load_environment(inputs, output)
        path = find_model(model, env.model_repository, model_name, env.models)
        config = _with_flags(load_config(path), mode, threshold, labels_json)
        runner = ModelRunner(path, config)
        log.info("onnx.model.loaded", model=str(path), providers=runner.providers, mode=runner.config.mode)
        for npy in find_volumes([item.path for item in env.inputs]):
            save_volume(infer_volume(runner, load_volume(npy)), env.output)

    run_operator("onnx_inference", body)


def _with_flags(
    config: InferenceConfig, mode: str | None, threshold: float | None, labels: str | None
) -> InferenceConfig:
    if mode is not None:
        config = replace(config, mode=mode)
    if threshold is not None:
        config = replace(config, threshold=threshold)
    if labels is not None:
        try:
            config = replace(config, labels={str(k): str(v) for k, v in dict(json.loads(labels)).items()})
        except (ValueError, TypeError) as exc:
            raise ModelError(f"--labels must be a JSON object like {{\"1\": \"Lung\"}}: {exc}") from exc
    return config


if __name__ == "__main__":
    main()
