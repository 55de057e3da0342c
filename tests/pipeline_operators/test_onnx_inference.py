"""onnx_inference: a model from the repository applied to volumes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pipeline_operators import onnx_inference
from pipeline_operators.environment import NamedPath
from pipeline_operators.errors import ModelError
from pipeline_operators.onnx_inference import InferenceConfig, ModelRunner, find_model
from pipeline_operators.volume import Geometry, Volume, load_volume, save_volume
from tests.pipeline_operators.onnx_models import threshold_model


def _volume() -> Volume:
    rng = np.random.default_rng(0)
    array = rng.integers(-1000, 1000, size=(5, 16, 16)).astype(np.int16)
    geometry = Geometry(
        series_instance_uid="1.2.3",
        study_instance_uid="1.2",
        frame_of_reference_uid="",
        modality="CT",
        shape=(5, 16, 16),
        origin=(0.0, 0.0, 0.0),
        spacing=(1.0, 1.0, 1.0),
        direction=((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
        sop_instance_uids=tuple(f"1.{i}" for i in range(5)),
        frame_numbers=(0,) * 5,
        source_files=tuple(f"{i}.dcm" for i in range(5)),
    )
    return Volume(array, geometry)


@pytest.mark.parametrize(("rank", "batch"), [(4, 2), (5, 1)])
def test_slice_and_volume_models_label_the_whole_volume(tmp_path: Path, rank: int, batch: int) -> None:
    runner = ModelRunner(threshold_model(tmp_path / "m.onnx", rank), InferenceConfig(batch_size=batch))
    assert runner.config.mode == ("slice" if rank == 4 else "volume")
    assert "CPUExecutionProvider" in runner.providers
    volume = _volume()
    assert np.array_equal(runner.labels(volume.array), (volume.array > -500).astype(np.uint8))


def test_two_channel_output_is_argmaxed(tmp_path: Path) -> None:
    runner = ModelRunner(threshold_model(tmp_path / "m.onnx", channels=2), InferenceConfig())
    volume = _volume()
    assert np.array_equal(runner.labels(volume.array), (volume.array > -500).astype(np.uint8))


def test_cli_runs_a_model_from_the_repository_with_its_sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = tmp_path / "models"
    threshold_model(repository / "lungs" / "1" / "model.onnx")
    model = threshold_model(repository / "lungs" / "2" / "model.onnx")
    model.with_suffix(".json").write_text(json.dumps({"labels": {"1": "Lung"}, "version": "2", "batch_size": 3}))
    save_volume(_volume(), tmp_path / "in")
    monkeypatch.setenv("NVIDIA_CLARA_MODEL_REPOSITORY", str(repository))
    args = ["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--model-name", "lungs"]
    result = CliRunner().invoke(onnx_inference.main, args)
    assert result.exit_code == 0, result.output
    labels = load_volume(tmp_path / "out" / "1.2.3.npy")
    assert labels.geometry.labels == {"1": "Lung"}
    assert labels.geometry.algorithm == {"name": "model", "version": "2", "family": "ArtificialIntelligence"}
    assert np.array_equal(labels.array, (_volume().array > -500).astype(np.uint8))


def test_missing_model_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="pass --model PATH, declare `models: .*` for this operator"):
        find_model(None, None, None)
    with pytest.raises(ModelError, match="model not found: .*absent"):
        find_model(None, tmp_path, "absent")


def test_ambiguous_model_folder_lists_the_candidates(tmp_path: Path) -> None:
    threshold_model(tmp_path / "a.onnx")
    threshold_model(tmp_path / "b.onnx")
    with pytest.raises(ModelError, match="found a.onnx, b.onnx"):
        find_model(tmp_path, None, None)


def test_unreadable_model_and_wrong_mode_are_model_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load the ONNX model"):
        ModelRunner(broken, InferenceConfig())
    with pytest.raises(ModelError, match="input of rank 4 does not fit mode volume"):
        ModelRunner(threshold_model(tmp_path / "m.onnx"), InferenceConfig(mode="volume"))


def test_cli_rejects_invalid_labels_json(tmp_path: Path) -> None:
    save_volume(_volume(), tmp_path / "in")
    model = threshold_model(tmp_path / "m.onnx")
    args = ["--input", str(tmp_path / "in"), "--output", str(tmp_path / "o"), "--model", str(model), "--labels", "{"]
    result = CliRunner().invoke(onnx_inference.main, args)
    assert result.exit_code == 2
    assert "onnx_inference: error: --labels must be a JSON object" in result.stderr


def test_a_model_declared_by_the_pipeline_is_used(tmp_path: Path) -> None:
    folder = tmp_path / "threshold"
    model = threshold_model(folder / "1" / "model.onnx")
    declared = (NamedPath("threshold", folder),)
    assert find_model(None, tmp_path, None, declared) == model
    assert find_model(None, tmp_path, "threshold", declared) == model


def test_several_declared_models_need_a_name(tmp_path: Path) -> None:
    declared = (NamedPath("a", tmp_path / "a"), NamedPath("b", tmp_path / "b"))
    with pytest.raises(ModelError, match=r"declares several models \(a, b\): pick one with --model-name"):
        find_model(None, None, None, declared)
