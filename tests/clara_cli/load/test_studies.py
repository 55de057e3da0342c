"""Every study is new to the adapter, and making one never changes the templates."""

from __future__ import annotations

from pydicom.uid import CTImageStorage, DigitalXRayImageStorageForPresentation

from clara_cli.load.studies import StudyMaker


def test_each_study_has_fresh_uids_and_leaves_the_template_alone() -> None:
    maker = StudyMaker(ct_slices=3, ct_matrix=32)
    first, second = maker.make("ct"), maker.make("ct")
    assert len(first.instances) == 3
    assert first.study_uid != second.study_uid
    assert {ds.StudyInstanceUID for ds in first.instances} == {first.study_uid}
    assert len({ds.SeriesInstanceUID for ds in first.instances}) == 1
    sops = {ds.SOPInstanceUID for study in (first, second) for ds in study.instances}
    assert len(sops) == 6
    assert all(ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID for ds in first.instances)
    assert first.instances[0].FrameOfReferenceUID != second.instances[0].FrameOfReferenceUID
    assert maker.make("ct").instances[0].PixelData == first.instances[0].PixelData  # shared, not copied
    assert str(first.instances[0].PatientName) == "OPENCLARA^PHANTOM"


def test_radiographs_are_single_small_instances_of_their_own_class() -> None:
    maker = StudyMaker(ct_slices=2, ct_matrix=32, radiograph_matrix=64)
    dx = maker.make("dx")
    assert len(dx.instances) == 1 and dx.nbytes == 64 * 64 * 2
    assert dx.instances[0].Modality == "DX"
    assert maker.sop_classes(["ct", "dx"]) == {CTImageStorage, DigitalXRayImageStorageForPresentation}
