"""console.viewer.segmentation: the reference pipeline's lung SEG laid on its CT's grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from console.viewer.errors import UnreadableSegmentation
from console.viewer.segmentation import dicom_lab_to_rgb, read_segmentation
from console.viewer.volume import read_series
from tests.support.instances import make_series
from tests.support.viewer import LungStudy, write_lung_study


@pytest.fixture(scope="module")
def lung_study(tmp_path_factory: pytest.TempPathFactory) -> LungStudy:
    return write_lung_study(tmp_path_factory.mktemp("lung"))


def test_segments_land_on_the_ct_voxels_they_were_drawn_on(lung_study: LungStudy) -> None:
    ct = read_series(list(reversed(lung_study.ct)))  # any file order: slices sort by position
    labels = read_segmentation(lung_study.seg, ct.grid)
    expected = np.stack([lung_study.labels[uid] for uid in ct.grid.sop_instance_uids])
    assert labels.voxels.shape == ct.voxels.shape
    assert labels.encoding == "bits"
    body, lung = (labels.voxels & 1) != 0, (labels.voxels & 2) != 0
    np.testing.assert_array_equal(lung, expected == 2)
    np.testing.assert_array_equal(body, expected >= 1)  # overlapping: the lungs are inside the body
    assert lung.any() and (body & ~lung).any()
    assert set(np.unique(labels.voxels)) == {0, 1, 3}


def test_segments_are_described_with_colours_and_sizes(lung_study: LungStudy) -> None:
    ct = read_series(lung_study.ct)
    labels = read_segmentation(lung_study.seg, ct.grid)
    assert [(s.number, s.label) for s in labels.segments] == [(1, "Body"), (2, "Lung")]
    body, lung = labels.segments
    assert lung.voxels == int(np.count_nonzero(labels.voxels & 2))
    assert body.voxels > lung.voxels
    assert body.colour != lung.colour


def test_lung_voxels_are_air_in_the_ct(lung_study: LungStudy) -> None:
    """Geometry end to end: where the SEG says lung, the CT holds lung-like HU."""
    ct = read_series(lung_study.ct)
    labels = read_segmentation(lung_study.seg, ct.grid)
    lung_hu = ct.voxels[(labels.voxels & 2) != 0]
    assert float(np.median(lung_hu)) < -500


def test_a_seg_of_another_series_is_refused(lung_study: LungStudy, tmp_path: Path) -> None:
    other = read_series(make_series(tmp_path, 4, size=16))
    with pytest.raises(UnreadableSegmentation):
        read_segmentation(lung_study.seg, other.grid)


def test_a_file_that_is_not_a_seg_is_refused(lung_study: LungStudy) -> None:
    ct = read_series(lung_study.ct)
    with pytest.raises(UnreadableSegmentation):
        read_segmentation(lung_study.ct[0], ct.grid)


def test_dicom_lab_white_and_red() -> None:
    assert dicom_lab_to_rgb((65535, 32896, 32896)) == (255, 255, 255)
    red = dicom_lab_to_rgb(
        (round(53.24 * 65535 / 100), round((80.09 + 128) * 65535 / 255), round((67.20 + 128) * 65535 / 255))
    )
    assert red[0] >= 250 and red[1] <= 10 and red[2] <= 10


def test_recommended_colour_is_used(lung_study: LungStudy, tmp_path: Path) -> None:
    ds = dcmread(lung_study.seg)
    ds.SegmentSequence[1].RecommendedDisplayCIELabValue = [65535, 32896, 32896]
    path = tmp_path / "seg.dcm"
    ds.save_as(path)
    labels = read_segmentation(path, read_series(lung_study.ct).grid)
    assert labels.segments[1].colour == (255, 255, 255)


def _many_segment_seg(tmp_path: Path, count: int) -> tuple[Path, list[Path]]:
    """A SEG of `count` overlapping boxes (segment n covers the box of n..count-ish: smaller as n grows)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    ct = make_series(tmp_path / "ct", 4, size=24)
    frame = hd.UID()
    sources = []
    for path in ct:  # what highdicom needs of a source image and make_ct leaves out
        ds = dcmread(path)
        for keyword in (
            "PatientBirthDate",
            "PatientSex",
            "StudyDate",
            "StudyTime",
            "StudyID",
            "AccessionNumber",
            "ReferringPhysicianName",
        ):
            setattr(ds, keyword, "")
        ds.FrameOfReferenceUID, ds.SeriesNumber = frame, 1
        ds.save_as(path)
        sources.append(ds)
    masks = np.zeros((4, 24, 24, count), dtype=bool)
    for i in range(count):
        masks[:, i : 24 - i, i : 24 - i, i] = True  # nested boxes: segment i+1 inside segment i
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=i + 1,
            segment_label=f"Box {i + 1}",
            segmented_property_category=codes.SCT.AnatomicalStructure,
            segmented_property_type=codes.SCT.Lung,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for i in range(count)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=masks,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=2,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="0",
    )
    path = tmp_path / "seg.dcm"
    seg.save_as(path)
    return path, ct


def test_more_than_eight_segments_hold_the_smallest_segment_number(tmp_path: Path) -> None:
    path, ct = _many_segment_seg(tmp_path, 10)
    labels = read_segmentation(path, read_series(ct).grid)
    assert labels.encoding == "index"
    assert labels.voxels.dtype == np.uint16
    assert labels.voxels[0, 0, 0] == 1  # only the outer box
    assert labels.voxels[0, 12, 12] == 10  # every box: the innermost (smallest) wins
    assert labels.voxels[0, 3, 12] == 4  # boxes 1-4 cover row 3
    assert [s.number for s in labels.segments] == list(range(1, 11))


def test_eight_segments_fit_in_bits(tmp_path: Path) -> None:
    path, ct = _many_segment_seg(tmp_path, 8)
    labels = read_segmentation(path, read_series(ct).grid)
    assert labels.encoding == "bits" and labels.voxels.dtype == np.uint8
    assert labels.voxels[0, 12, 12] == 255 and labels.voxels[0, 0, 0] == 1
