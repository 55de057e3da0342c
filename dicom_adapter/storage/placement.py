"""Giving a flushed spool file its final name, never by replacing another file.

A re-sent instance must not take the file of an earlier copy: that copy may belong to a payload that
has closed and is on its way to the platform, and the end of that payload's job deletes the file. A
rename that replaced it would lose the re-sent copy with it (or change a file being uploaded). So a
taken name gives the new copy a name of its own, `<uid>~<8 hex>.dcm`, and the assembler decides
which copy a payload keeps (`overwrite_same_instance`).

The rename is `renameat2(RENAME_NOREPLACE)`: one atomic system call, as cheap as `rename`. Where the
file system lacks it, `link` then `unlink`: a crash between the two leaves the file under both names,
which recovery notices by its link count and resolves by dropping the `.incoming/` name.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}


def _renameat2() -> Callable[[int, bytes, int, bytes, int], int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None  # not Linux, or a C library without it (glibc < 2.28)
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _renameat2()


def rename_no_replace(source: Path, target: Path) -> bool:
    """Rename `source` to `target` unless `target` exists (then False, nothing changed). Raises OSError."""
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return True
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            return False
        if code not in _UNSUPPORTED:
            raise OSError(code, os.strerror(code), str(source))
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    os.unlink(source)
    return True


def copy_name(final: Path) -> Path:
    """Another name for a copy of the instance `final` names: `<uid>~<8 hex>.dcm`."""
    return final.with_name(f"{final.stem}~{secrets.token_hex(4)}{final.suffix}")


def place_file(source: Path, final: Path) -> Path:
    """Rename `source` to `final`, or to a copy name when `final` is taken; the name used. Raises OSError."""
    target = final
    while not rename_no_replace(source, target):
        target = copy_name(final)
    return target


def is_linked_elsewhere(path: Path) -> bool:
    """True when `path` also has another name: a `link` + `unlink` placement that a crash interrupted."""
    return path.stat().st_nlink > 1
