"""NIfTI-1 single-file writer (`.nii`, uncompressed): the format NiiVue reads with no decoding step.

Only what the viewer needs: a 3D array, its voxel-to-RAS affine (written as the sform) and the 348-byte
header. Uncompressed on purpose: gzip would cost the server ~1 s per 500-slice CT and the browser as
much again to inflate, for a file that travels over loopback or a hospital LAN.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

HEADER_BYTES = 348
VOX_OFFSET = 352  # header + the 4-byte extension flag (no extensions)
# NIfTI-1 datatype codes (nifti1.h) for the arrays the viewer writes.
DATATYPES: dict[np.dtype[np.generic], int] = {
    np.dtype(np.uint8): 2,
    np.dtype(np.int16): 4,
    np.dtype(np.int32): 8,
    np.dtype(np.float32): 16,
    np.dtype(np.uint16): 512,
}
NIFTI_XFORM_SCANNER_ANAT = 1
NIFTI_UNITS_MM = 2

# The header's fields in file order (little-endian); unlisted bytes stay zero.
HEADER = np.dtype(
    [
        ("sizeof_hdr", "<i4"),
        ("unused1", "V36"),
        ("dim", "<i2", (8,)),
        ("intent", "<f4", (3,)),
        ("intent_code", "<i2"),
        ("datatype", "<i2"),
        ("bitpix", "<i2"),
        ("slice_start", "<i2"),
        ("pixdim", "<f4", (8,)),
        ("vox_offset", "<f4"),
        ("scl_slope", "<f4"),
        ("scl_inter", "<f4"),
        ("slice_end", "<i2"),
        ("slice_code", "u1"),
        ("xyzt_units", "u1"),
        ("cal_max", "<f4"),
        ("cal_min", "<f4"),
        ("unused2", "V16"),
        ("descrip", "S80"),
        ("aux_file", "S24"),
        ("qform_code", "<i2"),
        ("sform_code", "<i2"),
        ("quatern", "<f4", (6,)),
        ("srow", "<f4", (3, 4)),
        ("intent_name", "S16"),
        ("magic", "S4"),
    ]
)


def header(shape: tuple[int, int, int], dtype: np.dtype[np.generic], affine: npt.NDArray[np.float64]) -> bytes:
    """The header plus extension flag for an (x, y, z) volume of `dtype` whose voxel-to-RAS map is `affine`."""
    if dtype not in DATATYPES:
        raise ValueError(f"NIfTI writer: no datatype code for {dtype}")
    hdr = np.zeros((), HEADER)
    hdr["sizeof_hdr"] = HEADER_BYTES
    hdr["dim"] = (3, *shape, 1, 1, 1, 1)
    hdr["datatype"] = DATATYPES[dtype]
    hdr["bitpix"] = dtype.itemsize * 8
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    hdr["pixdim"] = (1.0, *spacing, 1.0, 1.0, 1.0, 1.0)
    hdr["vox_offset"] = VOX_OFFSET
    hdr["xyzt_units"] = NIFTI_UNITS_MM
    hdr["sform_code"] = NIFTI_XFORM_SCANNER_ANAT
    hdr["srow"] = affine[:3, :4]
    hdr["descrip"] = b"openclara viewer"
    hdr["magic"] = b"n+1\x00"
    return hdr.tobytes() + b"\x00\x00\x00\x00"


def write(path: Path, array: npt.NDArray[np.generic], affine: npt.NDArray[np.float64]) -> None:
    """Write `array` (indexed [z, y, x], C order: x varies fastest, as NIfTI stores voxels) to `path`, mode 0600."""
    if array.ndim != 3:
        raise ValueError(f"NIfTI writer: expected a 3D array, got {array.ndim} dimensions")
    z, y, x = array.shape
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(header((x, y, z), data.dtype, affine))
        out.write(data.data.cast("B"))


def read_header(path: Path) -> tuple[tuple[int, ...], int, npt.NDArray[np.float32]]:
    """(shape x, y, z), datatype code and sform rows of a file this module wrote (for tests and checks)."""
    with path.open("rb") as source:
        hdr = np.frombuffer(source.read(HEADER_BYTES), HEADER)[0]
    dims = int(hdr["dim"][0])
    return tuple(int(d) for d in hdr["dim"][1 : dims + 1]), int(hdr["datatype"]), np.array(hdr["srow"])
