"""Resolution levels of one volume: what the browser loads first, and what it can afford to keep.

    preview  at most PREVIEW_VOXELS (2 M): the first image, drawn in well under a second even on a
             software renderer (SwiftShader, llvmpipe)
    medium   at most MEDIUM_VOXELS (16 M): what a software renderer keeps (512^2 x 500 would stall it)
    full     every voxel: loaded next on a real GPU, or when the person asks for it

A level takes every n-th voxel along each axis (nearest neighbour: label values stay labels, and a
preview costs no pass over the data); the affine scales by the same step, so every level covers the
same millimetres and a SEG's level lines up with its CT's level of the same name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PREVIEW_VOXELS = 2 * 1024 * 1024
MEDIUM_VOXELS = 16 * 1024 * 1024
LEVELS = ("preview", "medium", "full")


@dataclass(frozen=True)
class Level:
    name: str
    step: int  # every step-th voxel along x, y and z

    def shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(math.ceil(size / self.step) for size in shape)


def steps(shape: tuple[int, ...]) -> dict[str, Level]:
    """The step of each level for a volume of `shape`: the smallest that keeps the level under its budget."""
    return {
        "preview": Level("preview", _step(shape, PREVIEW_VOXELS)),
        "medium": Level("medium", _step(shape, MEDIUM_VOXELS)),
        "full": Level("full", 1),
    }


def _step(shape: tuple[int, ...], budget: int) -> int:
    step = 1
    while math.prod(math.ceil(size / step) for size in shape) > budget:
        step += 1
    return step


def file_name(level: str) -> str:
    return f"{level}.nii"


def take(voxels: npt.NDArray[np.generic], level: Level) -> npt.NDArray[np.generic]:
    if level.step == 1:
        return voxels
    return np.ascontiguousarray(voxels[:: level.step, :: level.step, :: level.step])


def scaled(affine: npt.NDArray[np.float64], level: Level) -> npt.NDArray[np.float64]:
    """The voxel-to-RAS map of a level: voxel i of the level is voxel i*step of the full volume."""
    return affine @ np.diag([level.step, level.step, level.step, 1.0])
