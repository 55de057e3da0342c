"""Presentation contexts (PS3.8 7.1.1.13, 9.3.2.2, 9.3.3.2): what an A-ASSOCIATE-RQ proposes, what the
A-ASSOCIATE-AC answers, and which abstract syntaxes are storage SOP classes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import IntEnum

from dicom_adapter.dicom.uids import STORAGE_PREFIX, is_valid_uid

MAX_PROPOSED = 128  # odd context ids 1..255 (PS3.8 9.3.2.2)


@functools.cache
def _known_storage() -> frozenset[str]:
    """pynetdicom's public list of every storage SOP class it knows, as a set of strings; loaded at the
    first SOP class outside the storage root (importing pynetdicom costs the adapter 45 MB of memory)."""
    from pynetdicom import AllStoragePresentationContexts

    return frozenset(str(context.abstract_syntax) for context in AllStoragePresentationContexts)


class ContextResult(IntEnum):
    """Presentation context result in the A-ASSOCIATE-AC (PS3.8 9.3.3.2)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    NO_REASON = 2
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


@dataclass(frozen=True)
class ProposedContext:
    """One presentation context of an A-ASSOCIATE-RQ: an odd id, an abstract syntax, transfer syntaxes."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]


@dataclass(frozen=True)
class AcceptedContext:
    """The answer to one proposed context; `transfer_syntax` is significant only when accepted.

    `abstract_syntax` is not on the wire (an A-ASSOCIATE-AC names only the transfer syntax): the SCP
    fills it from the proposal it answers, so a context carries its SOP class to the C-STORE."""

    context_id: int
    result: int
    abstract_syntax: str = ""
    transfer_syntax: str = ""

    @property
    def accepted(self) -> bool:
        return self.result == ContextResult.ACCEPTANCE


def is_storage(sop_class_uid: str) -> bool:
    """A storage SOP class: known to pynetdicom, or a valid UID under the storage UID root (newer classes)."""
    if sop_class_uid.startswith(STORAGE_PREFIX) and is_valid_uid(sop_class_uid):
        return True
    return sop_class_uid in _known_storage()
