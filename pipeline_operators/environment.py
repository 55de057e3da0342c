"""Where an operator reads and writes: command-line flags first, then Clara's `NVIDIA_CLARA_*` variables.

The platform hands each operator its folders in `NVIDIA_CLARA_INPUTPATHS` / `NVIDIA_CLARA_OUTPUTPATHS`.
Entries are separated by `;`, `,` or newlines and are either `name:path` pairs (Clara's operator samples
take the part after the colon) or plain paths. `--input DIR` / `--output DIR` always win, so every
operator also runs by hand.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline_operators.errors import EnvironmentConfigError

INPUT_PATHS = "NVIDIA_CLARA_INPUTPATHS"
OUTPUT_PATHS = "NVIDIA_CLARA_OUTPUTPATHS"
JOB_ID = "NVIDIA_CLARA_JOBID"
# The models an operator declares (`models: [{name: ...}]`), as `name:folder` pairs like the paths.
MODELS = "NVIDIA_CLARA_MODELS"
# The platform names the model repository differently across Clara releases; accept each spelling.
MODEL_REPOSITORY_VARIABLES = (
    "NVIDIA_CLARA_MODEL_REPOSITORY",
    "NVIDIA_CLARA_MODELREPOSITORY",
    "CLARA_MODEL_REPOSITORY",
)

_SEPARATORS = re.compile(r"[;,\n]+")
# `name:path` only when the name is a plain word: `C:\data` or `/a:b` stay plain paths.
_NAMED = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]{2,}):(?P<path>.+)$")


@dataclass(frozen=True)
class NamedPath:
    """One input or output folder with the name the pipeline gave it (empty when unnamed)."""

    name: str
    path: Path


@dataclass(frozen=True)
class OperatorEnvironment:
    """The folders and identifiers one operator run works with."""

    inputs: tuple[NamedPath, ...]
    outputs: tuple[NamedPath, ...]
    job_id: str = ""
    model_repository: Path | None = None
    models: tuple[NamedPath, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def input(self) -> Path:
        """The first (usually only) input folder."""
        return self.inputs[0].path

    @property
    def output(self) -> Path:
        """The first (usually only) output folder; created if missing."""
        path = self.outputs[0].path
        path.mkdir(parents=True, exist_ok=True)
        return path

    def input_named(self, name: str) -> Path | None:
        """The input the pipeline named `name`, if any."""
        return next((item.path for item in self.inputs if item.name == name), None)


def parse_paths(value: str) -> tuple[NamedPath, ...]:
    """Parse a `NVIDIA_CLARA_*PATHS` value into named paths, in order."""
    items: list[NamedPath] = []
    for raw in _SEPARATORS.split(value):
        entry = raw.strip()
        if not entry:
            continue
        match = _NAMED.match(entry)
        if match:
            items.append(NamedPath(match["name"], Path(match["path"].strip())))
        else:
            items.append(NamedPath("", Path(entry)))
    return tuple(items)


def load_environment(
    inputs: Sequence[Path] = (),
    output: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> OperatorEnvironment:
    """Combine flags (which win) with the platform's variables; raise when a folder is missing."""
    environ = os.environ if env is None else env
    named_inputs = tuple(NamedPath("", path) for path in inputs) or parse_paths(environ.get(INPUT_PATHS, ""))
    named_outputs = (NamedPath("", output),) if output is not None else parse_paths(environ.get(OUTPUT_PATHS, ""))
    if not named_inputs:
        raise EnvironmentConfigError(f"no input folder: pass --input DIR or set {INPUT_PATHS}")
    if not named_outputs:
        raise EnvironmentConfigError(f"no output folder: pass --output DIR or set {OUTPUT_PATHS}")
    missing = [str(item.path) for item in named_inputs if not item.path.is_dir()]
    if missing:
        raise EnvironmentConfigError(f"input folder does not exist: {', '.join(missing)}")
    return OperatorEnvironment(
        inputs=named_inputs,
        outputs=named_outputs,
        job_id=environ.get(JOB_ID, ""),
        model_repository=_model_repository(environ),
        models=parse_paths(environ.get(MODELS, "")),
        extra={key: value for key, value in environ.items() if key.startswith("NVIDIA_CLARA_")},
    )


def _model_repository(environ: Mapping[str, str]) -> Path | None:
    for name in MODEL_REPOSITORY_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return Path(value)
    return None
