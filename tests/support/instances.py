"""Synthetic DICOM instances for export tests and the export benchmark (no PHI, phantom pixels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def make_ct(
    path: Path,
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    index: int = 0,
    size: int = 64,
    transfer_syntax: str = ExplicitVRLittleEndian,
) -> Path:
    """Write one CT Image Storage Part-10 file (optionally compressed) and return its path."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PatientName = "Export^Test"
    ds.PatientID = "EXPORT01"
    ds.Modality = "CT"
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = [0.0, 0.0, float(index)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 1.0
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    ds.Rows = ds.Columns = size
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    yy, xx = np.mgrid[0:size, 0:size]
    phantom = ((xx - size / 2) ** 2 + (yy - size / 2) ** 2 < (size / 3) ** 2) * 1000 + index
    ds.PixelData = phantom.astype(np.int16).tobytes()
    if transfer_syntax != ExplicitVRLittleEndian:
        ds.compress(transfer_syntax, generate_instance_uid=False)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_series(
    folder: Path, count: int, *, size: int = 64, transfer_syntax: str = ExplicitVRLittleEndian
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    return [
        make_ct(
            folder / f"ct{i:04d}.dcm",
            study_uid=study,
            series_uid=series,
            index=i,
            size=size,
            transfer_syntax=transfer_syntax,
        )
        for i in range(count)
    ]
