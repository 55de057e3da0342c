"""Bundled pipeline operators, each runnable as `python -m pipeline_operators.<name>`.

Data flow of the reference pipeline (config/pipelines/lung-seg.yaml)::

    job payload (DICOM files, any layout)
      -> dicom_reader        series.py orders frames; writes <series>.npy + <series>.json (volume.Geometry)
      -> lung_segmentation   HU thresholds + morphology -> uint8 labels (1 body, 2 lungs), geometry passed on
         (or onnx_inference: an ONNX model from the model repository -> labels)
      -> dicom_seg_writer    labels + the source DICOM files -> SEG-<uid>.dcm (highdicom, BINARY)
      -> register_results    one results-service task per destination for the export agent

Shared pieces: `environment` (flags and NVIDIA_CLARA_* variables -> folders), `entrypoint` (logging and
the error boundary: exit 2 with a message for an `OperatorError`), `volume` (.npy + geometry JSON),
`errors`. `sample_study` and `phantom` generate a synthetic chest CT for demos and tests.
This module imports nothing heavy: every operator process imports it first, and highdicom or
onnxruntime would add a second to each start-up.
"""

from __future__ import annotations

from pipeline_operators.environment import NamedPath, OperatorEnvironment, load_environment, parse_paths
from pipeline_operators.errors import (
    EnvironmentConfigError,
    InputDataError,
    ModelError,
    OperatorError,
    OutputWriteError,
    SeriesGeometryError,
)
from pipeline_operators.volume import Geometry, Volume, find_volumes, load_volume, save_volume

__all__ = [
    "EnvironmentConfigError",
    "Geometry",
    "InputDataError",
    "ModelError",
    "NamedPath",
    "OperatorEnvironment",
    "OperatorError",
    "OutputWriteError",
    "SeriesGeometryError",
    "Volume",
    "find_volumes",
    "load_environment",
    "load_volume",
    "parse_paths",
    "save_volume",
]
