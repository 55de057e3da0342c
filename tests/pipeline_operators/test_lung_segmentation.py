"""lung_segmentation: threshold and morphology labels on the synthetic CT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from click.testing import CliRunner

from pipeline_operators import lung_segmentation
from pipeline_operators.dicom_reader import read_series
from pipeline_operators.lung_segmentation import BODY_LABEL, LUNG_LABEL, Thresholds, segment
from pipeline_operators.phantom import Phantom, PhantomSpec, build_phantom
from pipeline_operators.volume import load_volume, save_volume


def _dice(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


def test_lungs_and_body_match_the_phantom(small_phantom: Phantom, small_spec: PhantomSpec) -> None:
    spacing = (small_spec.slice_spacing, small_spec.pixel_spacing, small_spec.pixel_spacing)
    labels = segment(small_phantom.hounsfield, spacing, Thresholds())
    truth = small_phantom.labels
    assert _dice(labels == LUNG_LABEL, truth == LUNG_LABEL) > 0.9
    assert _dice(labels > 0, truth > 0) > 0.9


def test_finds_two_separate_lungs_and_drops_the_trachea() -> None:
    spec = PhantomSpec(slices=30, matrix=96, slice_spacing=6.0, seed=2)
    phantom = build_phantom(spec)
    labels = segment(phantom.hounsfield, (6.0, spec.pixel_spacing, spec.pixel_spacing), Thresholds())
    lungs = labels == LUNG_LABEL
    middle = int(np.argmax(lungs.sum(axis=(1, 2))))
    columns = np.flatnonzero(lungs[middle].any(axis=0))
    assert columns.min() < spec.matrix // 2 < columns.max()
    assert not lungs[middle][:, spec.matrix // 2].any()  # a gap between left and right lung
    # The cranial slices hold only the trachea: air, but not lung.
    assert not lungs[0].any()
    assert (labels[0] == BODY_LABEL).any()


def test_volume_without_air_has_no_lungs() -> None:
    hounsfield = np.full((4, 32, 32), -1000, dtype=np.int16)
    hounsfield[:, 8:24, 8:24] = 40
    labels = segment(hounsfield, (1.0, 1.0, 1.0), Thresholds())
    assert (labels == BODY_LABEL).sum() == 4 * 16 * 16
    assert not (labels == LUNG_LABEL).any()


def test_cli_writes_labels_with_passed_through_geometry(small_study: Path, tmp_path: Path) -> None:
    [volume], _ = read_series(small_study)
    save_volume(volume, tmp_path / "volumes")
    out = tmp_path / "labels"
    result = CliRunner().invoke(lung_segmentation.main, ["--input", str(tmp_path / "volumes"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    [path] = out.glob("*.npy")
    labels = load_volume(path)
    assert labels.array.dtype == np.uint8
    assert labels.geometry.labels == {"1": "Body", "2": "Lung"}
    assert labels.geometry.algorithm["family"] == "MorphologicalOperations"
    assert labels.geometry.sop_instance_uids == volume.geometry.sop_instance_uids


def test_cli_with_empty_input_reports_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(lung_segmentation.main, ["--input", str(tmp_path), "--output", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "lung_segmentation: error: no volumes (<series>.npy + <series>.json) found in" in result.stderr
