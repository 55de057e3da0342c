"""UIDs: the well-known ones we use, our own, and their syntax (PS3.5 9.1), checked before anything trusts one.

Why the syntax matters: the SOP Instance UID names the spool file, so a UID the SCP did not check could
name two instances alike (`X/9`, `X_9`), or a file the file system refuses (300 characters).
"""

from __future__ import annotations

import re

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"  # the DICOM application context name (PS3.7 A.2.1)
VERIFICATION = "1.2.840.10008.1.1"  # Verification SOP Class (PS3.4 A.4)
STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."  # PS3.4 B.5: most storage SOP classes live under it
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"
# The identity we announce in A-ASSOCIATE and file meta. A UUID-derived UID (PS3.5 B.2): valid
# worldwide without a registered organisational root.
IMPLEMENTATION_CLASS_UID = "2.25.138500041147546795049149737397442871095"
IMPLEMENTATION_VERSION_NAME = "OPENCLARA_1"

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
