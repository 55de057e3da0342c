"""Length limits of a payload file name, shared by the platform (which stores the files under these names)
and the results service (which accepts them as the uris of a delivery).

Both check them before any file-system work: a hostile name then costs a scan of a string, never a system
call. `"d/" * 2000 + "f"` once reached `Path.mkdir(parents=True)`, which recurses once per missing folder,
and the RecursionError's chain of 1,000 exceptions took the Platform API's event loop minutes to log.
"""

from __future__ import annotations

# Linux's NAME_MAX: the longest file or folder name most file systems store (ext4, xfs, btrfs, tmpfs).
MAX_SEGMENT_BYTES = 255
# A quarter of Linux's PATH_MAX (4096), which also has to hold data_dir/payloads/<id>/operators/<op>/<out>/.
MAX_NAME_BYTES = 1024
# Folder levels plus the file: Clara's deepest layout (dcm/<PatientID>/<Study>/<Series>/<SOP>.dcm) needs 5.
MAX_DEPTH = 32


def _size(text: str) -> int:
    # surrogatepass: a JSON body may carry lone surrogates; they are counted, not a crash here.
    return len(text.encode("utf-8", "surrogatepass"))


def length_problem(name: str) -> str | None:
    """Why `name` breaks a limit above, or None. The message never repeats the name: it may be megabytes
    long, and payload names can carry patient identifiers (Clara 0.7 put the PatientID in the path)."""
    if len(name) > MAX_NAME_BYTES or _size(name) > MAX_NAME_BYTES:
        return f"file name is {_size(name)} bytes long; at most {MAX_NAME_BYTES} bytes are allowed"
    depth = name.count("/") + 1
    if depth > MAX_DEPTH:
        return f"file name has {depth} '/'-separated levels; at most {MAX_DEPTH} are allowed"
    for index, segment in enumerate(name.split("/"), start=1):
        if _size(segment) > MAX_SEGMENT_BYTES:
            return (
                f"level {index} of the file name is {_size(segment)} bytes long; "
                f"at most {MAX_SEGMENT_BYTES} bytes per file or folder name are allowed"
            )
    return None
