"""Payload file names: relative, forward-slash paths that can never leave their payload folder."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from openclara.payload_names import length_problem
from platform_server.errors import InvalidArgument


def check(name: str) -> PurePosixPath:
    """Validate a client-supplied file name; raise InvalidArgument with the reason when it is unsafe.

    Lengths are checked first, before anything else looks at the name or the disk: every later message
    quotes the name, which is then known to be short.
    """
    if not name:
        raise InvalidArgument("file name is empty: give a path relative to the payload, e.g. 'study/1.dcm'")
    problem = length_problem(name)
    if problem is not None:
        raise InvalidArgument(problem)
    if "\x00" in name:
        raise InvalidArgument(f"file name {name!r} contains a NUL character")
    if name.startswith("/") or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        raise InvalidArgument(f"file name {name!r} is absolute: payload file names are relative paths")
    if "\\" in name:
        raise InvalidArgument(f"file name {name!r} contains a backslash: use '/' between folders")
    path = PurePosixPath(name)
    if any(part == ".." for part in path.parts):
        raise InvalidArgument(f"file name {name!r} contains '..': names may not leave the payload folder")
    if name.endswith("/") or any(part in ("", ".") for part in name.split("/")):
        raise InvalidArgument(f"file name {name!r} has an empty or '.' path segment")
    if path.name.startswith(".upload-"):
        raise InvalidArgument(f"file name {name!r} uses the reserved prefix '.upload-'")
    return path


def from_reference(name: str) -> str:
    """A name a client refers to an existing file by: Clara lists files rooted at the payload.

    Clara's Payloads.Details answered `/operators/<op>/<file>`, and its Python client's example
    downloads `"." + name`; both mean "relative to the payload", never the host's root, so one leading
    `./` or `/` is dropped here. Everything else is still checked by `check`.
    """
    if name.startswith("./"):
        return name[2:]
    if name.startswith("/") and not name.startswith("//"):
        return name[1:]
    return name


def listed(name: str) -> str:
    """How Details names a stored file: rooted at the payload, as Clara did (`/input/a.dcm`)."""
    return "/" + name


def inside(base: Path, name: str) -> Path:
    """The real path of `name` under `base`, refusing symlinks that point outside `base`."""
    target = base / check(name)
    real_base = base.resolve()
    if not target.resolve().is_relative_to(real_base):
        raise InvalidArgument(f"file name {name!r} resolves outside the payload folder")
    return target
