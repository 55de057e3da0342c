"""Errors raised by the bundled operators; `entrypoint.run_operator` maps them to an exit code once.

Hierarchy::

    OperatorError                  any failure an operator reports to the user (exit code 2)
    ├── EnvironmentConfigError     no input/output folder given, bad NVIDIA_CLARA_* variable, bad flag
    ├── InputDataError             the input folder holds nothing usable (no DICOM, no volume)
    │   ├── SeriesGeometryError    one series cannot become a volume (mixed orientation, duplicates)
    │   └── PixelDataError         one series' pixel data cannot be decoded (corrupt, unsupported syntax)
    ├── ModelError                 ONNX model missing, ambiguous, unreadable or with unexpected shapes
    └── OutputWriteError           the result could not be written (SEG encoding, disk)

Anything else escaping an operator is a bug: it is logged with its traceback and exits with code 1.
"""

from __future__ import annotations


class OperatorError(Exception):
    """A failure with a message meant for the person running the pipeline."""


class EnvironmentConfigError(OperatorError):
    """The operator was not told where to read or write, or was told something invalid."""


class InputDataError(OperatorError):
    """The input holds no data this operator can use."""


class SeriesGeometryError(InputDataError):
    """One series cannot be stacked into a volume; other series in the input are unaffected."""


class PixelDataError(InputDataError):
    """A frame's pixel data cannot be decoded; the series is skipped like a geometry error."""


class ModelError(OperatorError):
    """The ONNX model cannot be found, loaded or run on this input."""


class OutputWriteError(OperatorError):
    """The operator's result could not be produced or written."""
