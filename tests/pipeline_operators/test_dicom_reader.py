"""dicom_reader: DICOM files in any layout -> ordered volumes with geometry."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from highdicom.legacy import LegacyConvertedEnhancedCTImage
from pydicom import dcmread
from pydicom.uid import generate_uid

from pipeline_operators import dicom_reader
from pipeline_operators.dicom_reader import read_series
from pipeline_operators.errors import InputDataError
from pipeline_operators.phantom import Phantom, PhantomSpec
from pipeline_operators.sample_study import write_study


def _scatter(study: Path, seed: int = 0) -> None:
    """Move the files into nested folders under random names, so neither layout nor name gives the order."""
    files = sorted(study.glob("*.dcm"))
    rng = random.Random(seed)
    rng.shuffle(files)
    for index, path in enumerate(files):
        target = study / f"sub{index % 3}" / "deeper" / f"x{rng.randrange(10**6):06d}_{index}"
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)


def test_shuffled_nested_files_become_one_sorted_volume_in_hu(small_study: Path, small_phantom: Phantom) -> None:
    _scatter(small_study)
    (small_study / "notes.txt").write_text("not DICOM")
    volumes, failures = read_series(small_study)
    assert failures == []
    [volume] = volumes
    assert volume.array.dtype == np.int16
    # Slice 0 is the most caudal (smallest z); the phantom's slice 0 is the most cranial.
    assert np.array_equal(volume.array, small_phantom.hounsfield[::-1])
    geometry = volume.geometry
    assert geometry.shape == (20, 128, 128)
    assert geometry.spacing[0] == pytest.approx(7.5)
    assert geometry.direction[0] == (0.0, 0.0, 1.0)
    assert geometry.origin[2] == pytest.approx(-71.25)
    assert all(not Path(name).is_absolute() and name.startswith("sub") for name in geometry.source_files)
    positions = [float(dcmread(small_study / name).ImagePositionPatient[2]) for name in geometry.source_files]
    assert positions == sorted(positions)
    uids = [str(dcmread(small_study / name).SOPInstanceUID) for name in geometry.source_files]
    assert list(geometry.sop_instance_uids) == uids


def test_gap_is_recorded_as_a_warning(small_study: Path) -> None:
    (small_study / "CT000010.dcm").unlink()
    [volume], _ = read_series(small_study)
    assert volume.geometry.shape[0] == 19
    assert not volume.geometry.uniform_spacing
    assert "slice spacing is not uniform" in volume.geometry.warnings[0]


def test_gap_fails_the_run_with_on_gap_error(small_study: Path, tmp_path: Path) -> None:
    (small_study / "CT000010.dcm").unlink()
    args = ["--input", str(small_study), "--output", str(tmp_path / "out"), "--on-gap", "error"]
    result = CliRunner().invoke(dicom_reader.main, args)
    assert result.exit_code == 2
    assert "dicom_reader: error: no series could be read" in result.stderr
    assert "slice spacing is not uniform" in result.stderr


def test_mixed_orientation_skips_only_that_series(small_study: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    write_study(PhantomSpec(slices=3, matrix=32, seed=99), other)
    shutil.move(str(other), small_study / "other")
    odd = dcmread(small_study / "CT000005.dcm")
    odd.ImageOrientationPatient = [1, 0, 0, 0, 0.8, 0.6]
    odd.save_as(small_study / "CT000005.dcm")
    out = tmp_path / "out"
    result = CliRunner().invoke(dicom_reader.main, ["--input", str(small_study), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "dicom_reader: warning: skipped series" in result.stderr
    assert "mixed orientations (1 of 20 frames" in result.stderr
    assert "CT000005.dcm" in result.stderr
    written = sorted(out.glob("*.json"))
    assert len(written) == 1
    assert json.loads(written[0].read_text())["shape"] == [3, 32, 32]


def test_multi_frame_enhanced_ct_is_read_like_its_single_frame_source(
    small_study: Path, small_phantom: Phantom, tmp_path: Path
) -> None:
    legacy = [dcmread(path) for path in sorted(small_study.glob("*.dcm"))]
    enhanced = LegacyConvertedEnhancedCTImage(
        legacy, series_instance_uid=generate_uid(), series_number=2, sop_instance_uid=generate_uid(), instance_number=1
    )
    folder = tmp_path / "enhanced"
    folder.mkdir()
    enhanced.save_as(folder / "enhanced.dcm")
    [volume], failures = read_series(folder)
    assert failures == []
    assert np.array_equal(volume.array, small_phantom.hounsfield[::-1])
    assert set(volume.geometry.frame_numbers) == set(range(1, 21))
    assert set(volume.geometry.source_files) == {"enhanced.dcm"}


@pytest.mark.parametrize("compression", ["rle", "jpeg2000"])
def test_compressed_input_decodes_to_the_same_hu(compression: str, tmp_path: Path) -> None:
    spec = PhantomSpec(slices=3, matrix=64, seed=5)
    write_study(spec, tmp_path / "plain")
    write_study(spec, tmp_path / "packed", compression)
    [plain], _ = read_series(tmp_path / "plain")
    [packed], _ = read_series(tmp_path / "packed")
    assert np.array_equal(plain.array, packed.array)


def test_non_integral_rescale_gives_float_hu(tmp_path: Path) -> None:
    paths = write_study(PhantomSpec(slices=2, matrix=32), tmp_path)
    for path in paths:
        ds = dcmread(path)
        ds.RescaleSlope = 0.5
        ds.save_as(path)
    [volume], _ = read_series(tmp_path)
    assert volume.array.dtype == np.float32
    stored = dcmread(paths[0]).pixel_array
    assert volume.array.max() == pytest.approx(stored.max() * 0.5 - 1024, abs=0.5)


def test_folder_without_dicom_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(InputDataError, match=f"no DICOM images found under {tmp_path}"):
        read_series(tmp_path)


def test_cli_reads_folders_from_the_platform_environment(
    small_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    monkeypatch.setenv("NVIDIA_CLARA_INPUTPATHS", f"payload:{small_study}")
    monkeypatch.setenv("NVIDIA_CLARA_OUTPUTPATHS", f"volumes:{out}")
    result = CliRunner().invoke(dicom_reader.main, [])
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*.npy"))) == 1


def test_cli_without_folders_explains_how_to_pass_them() -> None:
    result = CliRunner().invoke(dicom_reader.main, [])
    assert result.exit_code == 2
    assert "dicom_reader: error: no input folder: pass --input DIR or set NVIDIA_CLARA_INPUTPATHS" in result.stderr


def test_corrupt_pixel_data_skips_the_series_and_names_the_file(tmp_path: Path) -> None:
    paths = write_study(PhantomSpec(slices=3, matrix=64, seed=5), tmp_path / "packed", "jpeg2000")
    ds = dcmread(paths[1])
    ds.PixelData = ds.PixelData[:40]  # the encapsulated frame now ends mid-stream
    ds.save_as(paths[1])
    volumes, failures = read_series(tmp_path / "packed")
    assert volumes == []
    assert "cannot decode the pixel data of CT000002.dcm" in failures[0]


def test_malformed_position_skips_only_that_file(small_study: Path) -> None:
    ds = dcmread(small_study / "CT000020.dcm")
    ds.ImagePositionPatient = [1.0, 2.0]
    ds.save_as(small_study / "CT000020.dcm")
    [volume], failures = read_series(small_study)
    assert failures == []
    assert volume.geometry.shape[0] == 19
