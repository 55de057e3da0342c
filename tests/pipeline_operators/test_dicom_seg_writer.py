"""dicom_seg_writer: labels + source files -> a valid DICOM SEG."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from highdicom.legacy import LegacyConvertedEnhancedCTImage
from pydicom import dcmread
from pydicom.uid import SegmentationStorage, generate_uid

from pipeline_operators import dicom_seg_writer
from pipeline_operators.dicom_reader import read_series
from pipeline_operators.dicom_seg_writer import resolve_dicom_root, write_segmentation
from pipeline_operators.environment import NamedPath, OperatorEnvironment
from pipeline_operators.errors import EnvironmentConfigError, InputDataError
from pipeline_operators.lung_segmentation import Thresholds, segment_volume
from pipeline_operators.volume import Volume, save_volume
from tests.conftest import require_peer


def _labels(study: Path) -> Volume:
    [volume], _ = read_series(study)
    return segment_volume(volume, Thresholds())


def test_seg_references_the_source_series_and_names_coded_segments(small_study: Path, tmp_path: Path) -> None:
    labels = _labels(small_study)
    path = write_segmentation(labels, small_study, tmp_path)
    seg = dcmread(path)
    source = dcmread(small_study / "CT000001.dcm")
    assert seg.SOPClassUID == SegmentationStorage
    assert seg.SegmentationType == "BINARY"
    assert seg.StudyInstanceUID == source.StudyInstanceUID
    assert seg.FrameOfReferenceUID == source.FrameOfReferenceUID
    assert seg.SeriesInstanceUID != source.SeriesInstanceUID
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["Body", "Lung"]
    codes = [s.SegmentedPropertyTypeCodeSequence[0] for s in seg.SegmentSequence]
    assert [(c.CodingSchemeDesignator, c.CodeValue) for c in codes] == [("SCT", "38266002"), ("SCT", "39607008")]
    [referenced] = seg.ReferencedSeriesSequence
    assert referenced.SeriesInstanceUID == source.SeriesInstanceUID
    referenced_uids = {item.ReferencedSOPInstanceUID for item in referenced.ReferencedInstanceSequence}
    assert referenced_uids == set(labels.geometry.sop_instance_uids)
    frames = seg.PerFrameFunctionalGroupsSequence
    segment_numbers = [frame.SegmentIdentificationSequence[0].ReferencedSegmentNumber for frame in frames]
    lung_frames = segment_numbers.count(2)
    assert lung_frames == int((labels.array == 2).any(axis=(1, 2)).sum())


def test_seg_pixels_match_the_labels(small_study: Path, tmp_path: Path) -> None:
    import highdicom as hd

    labels = _labels(small_study)
    seg = hd.seg.segread(write_segmentation(labels, small_study, tmp_path))
    lung = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=list(labels.geometry.sop_instance_uids), segment_numbers=[2]
    )[..., 0]
    assert np.array_equal(lung.astype(bool), labels.array == 2)


def test_rerun_writes_the_same_instance(small_study: Path, tmp_path: Path) -> None:
    labels = _labels(small_study)
    first = write_segmentation(labels, small_study, tmp_path / "a")
    second = write_segmentation(labels, small_study, tmp_path / "b")
    assert first.name == second.name


def test_dcmdump_parses_the_seg(small_study: Path, tmp_path: Path) -> None:
    dcmdump = require_peer("dcmdump")
    path = write_segmentation(_labels(small_study), small_study, tmp_path)
    result = subprocess.run([dcmdump, "-q", "-E", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "SegmentationStorage" in result.stdout
    assert "(0062,0005) LO [Lung]" in result.stdout
    assert "E:" not in result.stderr


def test_seg_for_a_multi_frame_source_follows_its_frame_order(small_study: Path, tmp_path: Path) -> None:
    import highdicom as hd

    legacy = [dcmread(path) for path in sorted(small_study.glob("*.dcm"))]
    folder = tmp_path / "enhanced"
    folder.mkdir()
    enhanced_uid = generate_uid()
    LegacyConvertedEnhancedCTImage(
        legacy, series_instance_uid=generate_uid(), series_number=2, sop_instance_uid=enhanced_uid, instance_number=1
    ).save_as(folder / "enhanced.dcm")
    labels = _labels(folder)
    seg = hd.seg.segread(write_segmentation(labels, folder, tmp_path / "out"))
    numbers = list(labels.geometry.frame_numbers)
    lung = seg.get_pixels_by_source_frame(
        source_sop_instance_uid=enhanced_uid, source_frame_numbers=numbers, segment_numbers=[2]
    )[..., 0]
    assert np.array_equal(lung.astype(bool), labels.array == 2)


def test_missing_source_file_is_named(small_study: Path, tmp_path: Path) -> None:
    labels = _labels(small_study)
    (small_study / labels.geometry.source_files[3]).unlink()
    with pytest.raises(InputDataError, match=f"source DICOM file {labels.geometry.source_files[3]} not readable"):
        write_segmentation(labels, small_study, tmp_path)


def test_all_empty_labels_write_nothing(small_study: Path, tmp_path: Path) -> None:
    labels = _labels(small_study)
    empty = Volume(np.zeros_like(labels.array), labels.geometry)
    with pytest.raises(InputDataError, match="every label is empty; no SEG to write"):
        write_segmentation(empty, small_study, tmp_path)
    assert not list(tmp_path.glob("*.dcm"))


def test_dicom_root_is_found_from_flag_name_other_input_then_source_root(small_study: Path, tmp_path: Path) -> None:
    labels = _labels(small_study)
    label_dir, other = tmp_path / "labels", tmp_path / "other"
    other.mkdir()
    out = (NamedPath("seg", tmp_path / "out"),)

    def env(*inputs: NamedPath) -> OperatorEnvironment:
        return OperatorEnvironment(inputs=inputs, outputs=out)

    both = env(NamedPath("lung-segmentation", label_dir), NamedPath("dicom", other))
    assert resolve_dicom_root(both, Path("/flag"), [label_dir], labels) == Path("/flag")
    assert resolve_dicom_root(both, None, [label_dir], labels) == other
    unnamed = env(NamedPath("lung-segmentation", label_dir), NamedPath("payload", other))
    assert resolve_dicom_root(unnamed, None, [label_dir], labels) == other
    alone = env(NamedPath("lung-segmentation", label_dir))
    assert resolve_dicom_root(alone, None, [label_dir], labels) == small_study.resolve()
    moved = Volume(labels.array, replace(labels.geometry, source_root="/nowhere"))
    with pytest.raises(EnvironmentConfigError, match="pass --dicom DIR"):
        resolve_dicom_root(alone, None, [label_dir], moved)


def test_cli_takes_labels_and_dicom_from_the_platform_environment(
    small_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_volume(_labels(small_study), tmp_path / "labels")
    monkeypatch.setenv("NVIDIA_CLARA_INPUTPATHS", f"payload:{small_study};lung-segmentation:{tmp_path / 'labels'}")
    monkeypatch.setenv("NVIDIA_CLARA_OUTPUTPATHS", f"seg:{tmp_path / 'seg'}")
    result = CliRunner().invoke(dicom_seg_writer.main, [])
    assert result.exit_code == 0, result.output
    [path] = (tmp_path / "seg").glob("SEG-*.dcm")
    assert dcmread(path).Modality == "SEG"
