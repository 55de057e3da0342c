"""Synthetic studies to send: a CT series from the phantom, small CR and DX radiographs; fresh UIDs each.

Templates are drawn once per kind (the phantom for CT takes a while at 512²) and every study is a set of
new data sets that share the templates' pixel elements and carry new study, series, frame-of-reference
and SOP instance UIDs, so the adapter sees each one as a study it has never seen. The patient is the
non-identifying `OPENCLARA^PHANTOM` of `pipeline_operators.sample_study`: no PHI anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    generate_uid,
)

from pipeline_operators.phantom import PhantomSpec
from pipeline_operators.sample_study import PATIENT_ID, PATIENT_NAME, ct_series

KINDS = ("ct", "cr", "dx")
_RADIOGRAPHS = {"cr": ComputedRadiographyImageStorage, "dx": DigitalXRayImageStorageForPresentation}
_STUDY_UID, _SERIES_UID, _FRAME_UID, _SOP_UID = (Tag(0x0020, 0x000D), Tag(0x0020, 0x000E), Tag(0x0020, 0x0052),
                                                 Tag(0x0008, 0x0018))


@dataclass(frozen=True)
class Study:
    """One study to send: its UID, its kind and its instances (each with file meta)."""

    study_uid: str
    kind: str
    instances: Sequence[Dataset]

    @property
    def nbytes(self) -> int:
        return sum(len(ds.PixelData) for ds in self.instances)


@dataclass(frozen=True)
class StudyMaker:
    """Fresh studies of each kind: `ct_slices` x `ct_matrix`² CT, one `radiograph_matrix`² CR or DX image."""

    ct_slices: int = 50
    ct_matrix: int = 512
    radiograph_matrix: int = 256

    @cached_property
    def _templates(self) -> dict[str, list[Dataset]]:
        spec = PhantomSpec(slices=self.ct_slices, matrix=self.ct_matrix, slice_spacing=max(1.0, 300 / self.ct_slices))
        return {"ct": ct_series(spec), **{kind: [_radiograph(kind, self.radiograph_matrix)] for kind in _RADIOGRAPHS}}

    def prepare(self, kinds: Sequence[str]) -> None:
        """Draw the templates now, so the first study is not slower than the others."""
        for kind in kinds:
            self._templates[kind]

    def sop_classes(self, kinds: Sequence[str]) -> set[str]:
        return {str(t.SOPClassUID) for kind in kinds for t in self._templates[kind]}

    def make(self, kind: str) -> Study:
        study_uid = str(generate_uid())
        series_uid, frame_uid = str(generate_uid()), str(generate_uid())
        instances = [_renamed(t, study_uid, series_uid, frame_uid) for t in self._templates[kind]]
        return Study(study_uid, kind, instances)


def _renamed(template: Dataset, study_uid: str, series_uid: str, frame_uid: str) -> Dataset:
    """A new data set sharing the template's elements except the UIDs (replaced, never mutated: shared)."""
    sop_uid = str(generate_uid())
    dataset = Dataset(dict(template.items()))
    for tag, uid in ((_STUDY_UID, study_uid), (_SERIES_UID, series_uid), (_SOP_UID, sop_uid)):
        dataset[tag] = DataElement(tag, "UI", uid)
    if _FRAME_UID in template:
        dataset[_FRAME_UID] = DataElement(_FRAME_UID, "UI", frame_uid)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = template.file_meta.MediaStorageSOPClassUID
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = template.file_meta.TransferSyntaxUID
    dataset.file_meta = meta
    return dataset


def _radiograph(kind: str, matrix: int) -> Dataset:
    """One projection image: a smooth gradient with a bright disc (enough to look like an image)."""
    sop_class = _RADIOGRAPHS[kind]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = PATIENT_NAME, PATIENT_ID, "", "O"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260101", "120000", "1", ""
    ds.ReferringPhysicianName = ""
    ds.Modality = kind.upper()
    ds.SeriesNumber = ds.InstanceNumber = 1
    ds.Manufacturer = "openclara"
    if kind == "dx":
        ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = matrix
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    yy, xx = np.mgrid[0:matrix, 0:matrix]
    disc = ((xx - matrix / 2) ** 2 + (yy - matrix / 2) ** 2) < (matrix / 4) ** 2
    ds.PixelData = (yy * (2000 // matrix) + disc * 1500).astype(np.uint16).tobytes()
    return ds
