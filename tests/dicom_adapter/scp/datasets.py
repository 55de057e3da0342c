"""Synthetic CT instances for SCP tests, and the dataset bytes of a Part-10 file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def make_ct(study: str | None = None, series: str | None = None, sop: str | None = None, size: int = 64) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop or generate_uid()
    ds.StudyInstanceUID = study or generate_uid()
    ds.SeriesInstanceUID = series or generate_uid()
    ds.PatientName = "Test^Patient"
    ds.PatientID = "TP1"
    ds.Modality = "CT"
    ds.AccessionNumber = "ACC1"
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = np.zeros((size, size), dtype=np.int16).tobytes()
    return ds


def encode(ds: Dataset, implicit: bool = False) -> bytes:
    """Dataset bytes (no meta) in explicit or implicit VR little endian."""
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = implicit
    write_dataset(buffer, ds)
    return buffer.getvalue()


def write_ct(path: Path, ds: Dataset) -> Path:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


def dataset_bytes(path: Path) -> bytes:
    """The bytes after the file meta of a Part-10 file with a preamble and a group length."""
    data = path.read_bytes()
    assert data[128:132] == b"DICM", path
    group_length = struct.unpack_from("<I", data, 140)[0]
    return data[144 + group_length :]
