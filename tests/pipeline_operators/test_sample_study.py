"""The synthetic chest CT study used by demos and tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from pydicom import dcmread
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from pipeline_operators import sample_study
from pipeline_operators.phantom import BODY_LABEL, LUNG_LABEL, PhantomSpec, build_phantom


def test_cli_writes_one_ct_series_with_plausible_tags(tmp_path: Path) -> None:
    result = CliRunner().invoke(sample_study.main, ["--out", str(tmp_path), "--slices", "4", "--matrix", "64"])
    assert result.exit_code == 0, result.output
    assert "wrote 4 CT instances" in result.output
    files = sorted(tmp_path.glob("*.dcm"))
    assert len(files) == 4
    datasets = [dcmread(path) for path in files]
    first = datasets[0]
    assert first.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert first.SOPClassUID == CTImageStorage
    assert str(first.PatientName) == "OPENCLARA^PHANTOM"
    assert (first.Rows, first.Columns) == (64, 64)
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1
    assert len({ds.SOPInstanceUID for ds in datasets}) == 4
    assert first.RescaleIntercept == -1024


def test_same_seed_gives_the_same_uids_and_another_seed_does_not(tmp_path: Path) -> None:
    spec = PhantomSpec(slices=2, matrix=32, seed=3)
    a = sample_study.write_study(spec, tmp_path / "a")
    b = sample_study.write_study(spec, tmp_path / "b")
    c = sample_study.write_study(PhantomSpec(slices=2, matrix=32, seed=4), tmp_path / "c")
    uids = [dcmread(paths[0]).SOPInstanceUID for paths in (a, b, c)]
    assert uids[0] == uids[1] != uids[2]
    assert np.array_equal(dcmread(a[1]).pixel_array, dcmread(b[1]).pixel_array)


def test_other_images_get_other_uids_whatever_the_seed(tmp_path: Path) -> None:
    """The README's two walk-throughs write 200, then 100 slices with the default seed: two studies."""
    studies = [PhantomSpec(slices=4, matrix=32), PhantomSpec(slices=2, matrix=32), PhantomSpec(slices=2, matrix=64),
               PhantomSpec(slices=2, matrix=32, slice_spacing=3.0)]
    written = [sample_study.write_study(spec, tmp_path / str(i)) for i, spec in enumerate(studies)]
    datasets = [[dcmread(path) for path in paths] for paths in written]
    for attribute in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert len({getattr(study[0], attribute) for study in datasets}) == len(studies)
    instances = [ds.SOPInstanceUID for study in datasets for ds in study]
    assert len(set(instances)) == len(instances)


def test_a_folder_holds_only_the_last_study_written_to_it(tmp_path: Path) -> None:
    sample_study.write_study(PhantomSpec(slices=4, matrix=32), tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    sample_study.write_study(PhantomSpec(slices=2, matrix=32), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CT000001.dcm", "CT000002.dcm", "notes.txt"]


def test_phantom_has_two_lungs_a_trachea_and_bone() -> None:
    phantom = build_phantom(PhantomSpec(slices=20, matrix=128, slice_spacing=7.5))
    middle = phantom.hounsfield[12]
    assert (phantom.labels == LUNG_LABEL).any() and (phantom.labels == BODY_LABEL).any()
    assert middle.max() > 500  # the vertebra
    assert -900 < np.median(middle[phantom.labels[12] == LUNG_LABEL]) < -800
    assert (phantom.labels[0] != LUNG_LABEL).all()  # cranial end: trachea, no lung
    assert (phantom.hounsfield[0][phantom.labels[0] == BODY_LABEL] < -900).any()


def test_compressed_study_decodes_to_the_same_pixels(tmp_path: Path) -> None:
    spec = PhantomSpec(slices=1, matrix=64)
    plain = sample_study.write_study(spec, tmp_path / "plain")
    for compression in ("rle", "jpeg2000"):
        packed = sample_study.write_study(spec, tmp_path / compression, compression)
        ds = dcmread(packed[0])
        assert ds.file_meta.TransferSyntaxUID.is_compressed
        assert np.array_equal(ds.pixel_array, dcmread(plain[0]).pixel_array)
