"""UID syntax (PS3.5 9.1): what a UID must look like before any part of the SCP trusts it.

Why here: the SOP Instance UID names the spool file, so a UID the SCP did not check could name two
instances alike (`X/9`, `X_9`), or a file the file system refuses (300 characters).
"""

from __future__ import annotations

import re

MAX_LENGTH = 64  # PS3.5 9.1: "shall not exceed 64 total characters"
# Components of digits separated by '.'; each is "0" or starts with a non-zero digit (no leading zero).
_UID = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")
_CHARACTERS = re.compile(r"[0-9.]+")
_DIGIT = re.compile(r"[0-9]")


def uid_problem(uid: str) -> str | None:
    """Why `uid` is not a valid UID per PS3.5 9.1 (words for an Error Comment), or None when it is."""
    if not uid:
        return "empty"
    if len(uid) > MAX_LENGTH:
        return f"{len(uid)} characters long (at most {MAX_LENGTH})"
    if _UID.fullmatch(uid):
        return None
    if not _CHARACTERS.fullmatch(uid):
        return "not only digits and '.'"
    if "" in uid.split("."):
        return "an empty component"
    return "a component with a leading zero"


def is_valid_uid(uid: str) -> bool:
    return len(uid) <= MAX_LENGTH and _UID.fullmatch(uid) is not None


def loose_uid_problem(uid: str) -> str | None:
    """`uid_problem` without the component rules, for Study and Series Instance UIDs: they name folders
    downstream (a payload's dcm/<study>/<series>/), which needs only the characters and the length
    checked, and legacy archives do send leading zeros there."""
    if len(uid) > MAX_LENGTH:
        return f"{len(uid)} characters long (at most {MAX_LENGTH})"
    if not _CHARACTERS.fullmatch(uid):
        return "not only digits and '.'"
    if not _DIGIT.search(uid):
        return "no digit"  # "." or "..": a folder name that points elsewhere
    return None
