"""Generate a synthetic chest CT study on disk: `python -m pipeline_operators.sample_study --out DIR`.

One series of CT Image Storage instances (explicit VR little endian unless `--compression` asks for
RLE or JPEG 2000 lossless), drawn by `phantom`. Every UID derives from `--seed` and from what shapes the
images (slices, matrix, spacing), so the same command always writes the same study and any other one a
study of its own; the patient is the non-identifying `OPENCLARA^PHANTOM`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

from pipeline_operators.phantom import PhantomSpec, build_phantom

PATIENT_NAME = "OPENCLARA^PHANTOM"
PATIENT_ID = "OCPHANTOM0001"
# CT stores unsigned values; HU = stored * slope + intercept (PS3.3 C.11.1.1.2).
RESCALE_INTERCEPT = -1024
COMPRESSIONS: dict[str, UID] = {
    "none": ExplicitVRLittleEndian,
    "rle": RLELossless,
    "jpeg2000": JPEG2000Lossless,
}


@dataclass(frozen=True)
class StudyIds:
    """The deterministic identifiers of one generated study."""

    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str
    seed: int

    source: tuple[str, ...]  # what the UIDs derive from

    @classmethod
    def of(cls, spec: PhantomSpec) -> StudyIds:
        """The UIDs of `spec`'s study: other slices, matrix or spacing are other images, so other UIDs
        (a PACS that received the 200-slice study must not take a 100-slice one for the same instances)."""
        source = ("openclara-phantom", str(spec.seed), str(spec.slices), str(spec.matrix), f"{spec.slice_spacing:g}")

        def uid(role: str) -> str:
            return str(generate_uid(entropy_srcs=[*source, role]))

        return cls(uid("study"), uid("series"), uid("frame-of-reference"), spec.seed, source)

    def sop_instance_uid(self, index: int) -> str:
        return str(generate_uid(entropy_srcs=[*self.source, "instance", str(index)]))


def ct_series(spec: PhantomSpec, compression: str = "none") -> list[Dataset]:
    """The phantom as one CT series in memory, one data set per slice (`clara load` sends these)."""
    phantom = build_phantom(spec)
    ids = StudyIds.of(spec)
    datasets = []
    for index in range(spec.slices):
        dataset = _ct_slice(spec, ids, index, phantom.hounsfield[index])
        if compression != "none":
            dataset.compress(COMPRESSIONS[compression])
        datasets.append(dataset)
    return datasets


def write_study(spec: PhantomSpec, out: Path, compression: str = "none") -> list[Path]:
    """Write the phantom as one CT series into `out` (`CT000001.dcm`, ...); return the file paths.

    Files of an earlier run in `out` (our `CT<number>.dcm` names) are removed first, so the folder holds
    exactly one study: sending it never mixes two generated studies."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("CT[0-9][0-9][0-9][0-9][0-9][0-9].dcm"):
        stale.unlink()
    paths = []
    for index, dataset in enumerate(ct_series(spec, compression)):
        path = out / f"CT{index + 1:06d}.dcm"
        dataset.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _ct_slice(spec: PhantomSpec, ids: StudyIds, index: int, hounsfield: npt.NDArray[np.int16]) -> Dataset:
    sop_instance_uid = ids.sop_instance_uid(index)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationVersionName = "OPENCLARA_01"
    _patient_and_study(ds, ids)
    _series_and_equipment(ds, ids)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_instance_uid
    ds.InstanceNumber = index + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.AcquisitionNumber = 1
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ds.StudyTime
    _plane(ds, spec, index)
    _pixels(ds, hounsfield)
    return ds


def _patient_and_study(ds: Dataset, ids: StudyIds) -> None:
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = ids.study_instance_uid
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = f"OC{ids.seed:08d}"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "openclara synthetic chest CT"


def _series_and_equipment(ds: Dataset, ids: StudyIds) -> None:
    ds.Modality = "CT"
    ds.SeriesInstanceUID = ids.series_instance_uid
    ds.SeriesNumber = 1
    ds.SeriesDescription = "Phantom chest"
    ds.BodyPartExamined = "CHEST"
    ds.PatientPosition = "HFS"
    ds.FrameOfReferenceUID = ids.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "openclara"
    ds.ManufacturerModelName = "sample_study"
    ds.SoftwareVersions = "0.1"
    ds.KVP = "120"


def _plane(ds: Dataset, spec: PhantomSpec, index: int) -> None:
    half = (spec.matrix - 1) / 2.0 * spec.pixel_spacing
    z = spec.slice_z(index)
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [round(-half, 4), round(-half, 4), round(z, 4)]
    ds.SliceLocation = round(z, 4)
    ds.SliceThickness = spec.slice_spacing
    ds.PixelSpacing = [round(spec.pixel_spacing, 6), round(spec.pixel_spacing, 6)]


def _pixels(ds: Dataset, hounsfield: npt.NDArray[np.int16]) -> None:
    stored = (hounsfield.astype(np.int32) - RESCALE_INTERCEPT).astype(np.uint16)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = RESCALE_INTERCEPT
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    ds.WindowCenter = -600
    ds.WindowWidth = 1500
    ds.PixelData = stored.tobytes()


@click.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write.")
@click.option("--slices", default=200, show_default=True, type=click.IntRange(1, 2000))
@click.option("--matrix", default=512, show_default=True, type=click.IntRange(32, 1024), help="Rows = columns.")
@click.option("--slice-spacing", default=1.5, show_default=True, type=click.FloatRange(0.1, 20.0), help="mm.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same UIDs and voxels.")
@click.option("--compression", default="none", show_default=True, type=click.Choice(sorted(COMPRESSIONS)))
def main(out: Path, slices: int, matrix: int, slice_spacing: float, seed: int, compression: str) -> None:
    """Write a synthetic chest CT series (patient OPENCLARA^PHANTOM) into OUT."""
    spec = PhantomSpec(slices=slices, matrix=matrix, slice_spacing=slice_spacing, seed=seed)
    paths = write_study(spec, out, compression)
    ids = StudyIds.of(spec)
    click.echo(f"wrote {len(paths)} CT instances to {out} (StudyInstanceUID {ids.study_instance_uid})")


if __name__ == "__main__":
    main()
