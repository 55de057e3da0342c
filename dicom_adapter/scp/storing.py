"""One C-STORE in progress: the checks made when its command arrives, and its commit at the end.

A refused or ignored C-STORE still has its data set drained (the peer sends it regardless); the
status goes out only after the last fragment, as PS3.7 requires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from dicom_adapter.dicom.uids import uid_problem
from dicom_adapter.scp.errors import InvalidUidError, OperationRefusedError, SopClassRefusedError
from dicom_adapter.scp.negotiation import sop_class_accepted
from dicom_adapter.scp.receiver import InstanceReceiver
from dicom_adapter.storage.errors import OutOfResourcesError, StoreError
from dicom_adapter.storage.instance_file import FileMeta, parse_tag
from dicom_adapter.storage.spool import extra_group_tags

if TYPE_CHECKING:
    from dicom_adapter.dicom.contexts import AcceptedContext
    from dicom_adapter.dicom.dimse import Command
    from dicom_adapter.models import ClaraAeTitle, StoredInstance
    from dicom_adapter.scp.runtime import ScpRuntime

log = structlog.get_logger()


@dataclass(frozen=True)
class Origin:
    """Where the instances of one accepted association come from and go to."""

    association_id: str
    ae: ClaraAeTitle
    calling_ae_title: str
    host: str
    port: int
    directory: Path  # the association's spool directory
    extra_tags: tuple[int, ...]  # the AE's custom group_by tag, if any

    @classmethod
    def create(
        cls, runtime: ScpRuntime, ae: ClaraAeTitle, association_id: str, calling: str, host: str, port: int
    ) -> Origin:
        return cls(
            association_id=association_id,
            ae=ae,
            calling_ae_title=calling,
            host=host,
            port=port,
            directory=runtime.spool.association_dir(ae.ae_title, association_id),
            extra_tags=_group_tag(ae),
        )


def _group_tag(ae: ClaraAeTitle) -> tuple[int, ...]:
    try:
        tag = parse_tag(ae.group_by)
    except ValueError:
        log.warning("scp.group_by.invalid", ae_title=ae.ae_title, group_by=ae.group_by)
        return ()
    return extra_group_tags(tag)


class Storing:
    """The receiving end of one C-STORE; `receiver` is None when the data set is only drained."""

    def __init__(
        self,
        context_id: int,
        command: Command,
        receiver: InstanceReceiver | None,
        error: StoreError | None = None,
        origin: Origin | None = None,
    ) -> None:
        self.context_id = context_id
        self.command = command
        self.size = 0
        self.started = time.monotonic()  # when its command arrived (the assembler's clock)
        self._receiver = receiver
        self._error = error
        self._origin = origin

    @classmethod
    def refuse(cls, context_id: int, command: Command, error: StoreError) -> Storing:
        return cls(context_id, command, None, error)

    @classmethod
    def start(cls, runtime: ScpRuntime, origin: Origin, context: AcceptedContext, command: Command) -> Storing:
        """Open the spool file for a C-STORE-RQ, or decide now to refuse or ignore it."""
        sop_class = command.affected_sop_class_uid or context.abstract_syntax
        if sop_class in origin.ae.ignored_sop_classes:
            return cls(context.context_id, command, None)
        error = _refusal(runtime, origin.ae, sop_class, command)
        if error is not None:
            return cls.refuse(context.context_id, command, error)
        meta = FileMeta(
            sop_class_uid=sop_class,
            sop_instance_uid=command.affected_sop_instance_uid,
            transfer_syntax=context.transfer_syntax,
            implementation_class_uid=runtime.settings.implementation_class_uid,
            implementation_version_name=runtime.settings.implementation_version_name,
            calling_ae_title=origin.calling_ae_title,
            called_ae_title=origin.ae.ae_title,
            sending_address=f"dicom://{origin.host}:{origin.port}",
        )
        return cls(context.context_id, command, InstanceReceiver(runtime.spool, meta, runtime.writer), origin=origin)

    @property
    def called_ae_title(self) -> str | None:
        """The AE title whose spool this data set goes to; None when it is refused or ignored."""
        return self._origin.ae.ae_title if self._receiver is not None and self._origin is not None else None

    def write(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        if self._receiver is not None:
            self._receiver.write(chunk)

    @property
    def backlogged(self) -> bool:
        """Whether the spool's writer is behind on this data set: `drain()` before reading on."""
        return self._receiver is not None and self._receiver.backlogged

    async def drain(self) -> None:
        if self._receiver is not None:
            await self._receiver.drain()

    async def commit(self, inline: bool = False) -> StoredInstance | None:
        """The stored instance, or None for an ignored SOP class; raises StoreError when refused or failed."""
        if self._error is not None:
            raise self._error
        if self._receiver is None or self._origin is None:
            return None
        origin = self._origin
        return await self._receiver.commit(
            origin.directory, origin.host, origin.association_id, origin.extra_tags, inline
        )

    def place(self) -> Path | None:
        """Give a committed instance its final name (after the response) and return it. Raises OSError."""
        return self._receiver.place() if self._receiver is not None else None

    def discard(self) -> None:
        if self._receiver is not None:
            self._receiver.discard()


def _refusal(runtime: ScpRuntime, ae: ClaraAeTitle, sop_class: str, command: Command) -> StoreError | None:
    # The UIDs first: the instance UID names the spool file (spool.instance_file_name), and a UID that
    # breaks PS3.5 9.1 is refused as such, not as an unsupported class.
    problem = uid_problem(sop_class)
    if problem is not None:
        return InvalidUidError(f"Affected SOP Class UID: {problem}")
    if not command.affected_sop_instance_uid:
        return InvalidUidError("C-STORE-RQ lacks Affected SOP Instance UID")
    problem = uid_problem(command.affected_sop_instance_uid)
    if problem is not None:
        return InvalidUidError(f"Affected SOP Instance UID: {problem}")
    if not sop_class_accepted(ae, sop_class):
        return SopClassRefusedError(f"SOP class {sop_class} not accepted by {ae.ae_title}")
    if not runtime.disk.has_room():
        return OutOfResourcesError("free disk space below the watermark")
    return None


def refuse_operation(context_id: int, command: Command) -> Storing:
    """Drain the data set of an operation we do not perform, then answer Unrecognized Operation."""
    return Storing.refuse(context_id, command, OperationRefusedError("operation not supported"))
