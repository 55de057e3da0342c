"""The key image: the middle slice of a series as a grey PNG, drawn by the server in a few milliseconds.

The page shows it while NiiVue compiles its shaders and the preview volume arrives (on a software
renderer that takes a second or more), so a person sees the study at once. CT is shown at the soft
tissue window; other modalities between their 1st and 99th percentiles. PNG is written here (8-bit
grey, one zlib stream): a few lines, no imaging library.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from console.viewer.errors import UnreadableSeries
from console.viewer.volume import pixels, rescale

SOFT_TISSUE = (400.0, 40.0)  # window width, level (HU)


def key_image(path: Path) -> bytes:
    """PNG bytes of the image in `path` (one slice), windowed for display; raises UnreadableSeries."""
    try:
        ds = dcmread(path)
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise UnreadableSeries(f"the key image is not readable DICOM ({type(exc).__name__})") from exc
    slope, intercept = rescale(ds)
    values = pixels(ds).astype(np.float32) * np.float32(slope) + np.float32(intercept)
    if str(ds.get("Modality", "")) == "CT":
        width, level = SOFT_TISSUE
        low, high = level - width / 2, level + width / 2
    else:
        low, high = (float(v) for v in np.percentile(values, [1, 99]))
    grey = np.clip((values - low) * (255.0 / max(high - low, 1e-6)), 0, 255).astype(np.uint8)
    return png(grey)


def png(grey: npt.NDArray[np.uint8]) -> bytes:
    """An 8-bit greyscale PNG (PNG spec: signature, IHDR, IDAT with filter byte 0 per row, IEND)."""
    height, width = grey.shape
    rows = np.hstack([np.zeros((height, 1), dtype=np.uint8), grey]).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit, greyscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")
