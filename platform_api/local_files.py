"""Zero-copy hand-off with a platform on the same file system (openclara's `LocalFiles` extension).

    add_files: Adopt: the platform hard-links our files    --refused-->  Upload, file by file
    fetch:     Locate, then we hard-link the platform's    --refused or
               file into `dest`                               not ours -->  Download

Clara's platforms do not have the extension (UNIMPLEMENTED), a platform on another machine or file
system refuses the link, a platform may restrict it to some callers and directories: each of these
falls back to moving the bytes over gRPC, which stays the one path every platform serves. An
unreachable platform is not a refusal and is raised, so the caller retries as it would an upload.
A linked file shares its inode with the original: neither side may change it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from platform_api.errors import PlatformProtocolError, PlatformRequestError

# Names and paths only: 1,000 of them stay far below the 8 MiB message limit.
ADOPT_BATCH = 1000
REFUSALS = (PlatformRequestError, PlatformProtocolError)


@dataclass(frozen=True)
class LocalFileDetails:
    """A payload file where the platform keeps it."""

    name: str
    path: Path
    size: int


@dataclass(frozen=True)
class HandOff:
    """How files moved: `linked`, or `uploaded`/`downloaded` with the refusal that made the bytes travel."""

    how: Literal["linked", "uploaded", "downloaded"]
    files: int
    refusal: str = ""


def batches(files: Sequence[tuple[str, Path]]) -> list[Sequence[tuple[str, Path]]]:
    return [files[start:start + ADOPT_BATCH] for start in range(0, len(files), ADOPT_BATCH)]


def link_out(found: LocalFileDetails, dest: Path, roots: Sequence[Path]) -> str:
    """Hard-link the platform's file to `dest`; "" when done, else why not (then download it).

    The platform's answer is checked, not trusted: the path must lie under one of `roots` (the
    platform's payload folders this side is configured to read), be a regular file, not a symlink,
    and have the size the platform reported.
    """
    path = found.path
    if not path.is_absolute() or path.name in ("", ".", ".."):
        return f"the platform answered {str(path)!r}, not an absolute file path"
    real = path.parent.resolve() / path.name
    if not any(real.is_relative_to(root.resolve()) for root in roots):
        return f"{str(path)!r} is not under a folder this side may link from"
    temp = dest.with_name(f".link-{uuid.uuid4().hex}")
    try:
        os.link(real, temp, follow_symlinks=False)
        info = os.lstat(temp)
        if not stat.S_ISREG(info.st_mode) or info.st_size != found.size:
            return f"{str(path)!r} is not the regular file of {found.size} bytes the platform described"
        os.replace(temp, dest)
        return ""
    except OSError as exc:
        return f"cannot link {str(path)!r}: {exc.strerror or exc}"
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
