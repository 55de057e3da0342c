"""What can go wrong when the viewer turns DICOM files into volumes (each maps to one HTTP answer in `routes`).

ViewerError
 +-- NotFound            no such study, job output or series (404)
 +-- UnreadableSeries    the files are not one displayable image series (422)
 +-- UnreadableSegmentation  the SEG cannot be laid on its CT's grid (422)
"""

from __future__ import annotations


class ViewerError(Exception):
    """Base of the viewer's errors; the message is safe to show (no PHI, no file paths)."""


class NotFound(ViewerError):
    """The study, job output or series asked for does not exist."""


class UnreadableSeries(ViewerError):
    """The files are not one image series the viewer can stack into a volume."""


class UnreadableSegmentation(ViewerError):
    """The DICOM SEG does not fit the grid of the image series it references."""
