"""Deliver one task's files to one destination over one association, recording each acknowledgement.

Files the destination already acknowledged (progress.py) are skipped; each file goes raw in its stored
syntax when accepted, else transcoded to an accepted uncompressed syntax. Warnings count as delivered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from dicom_adapter.dicom.contexts import ProposedContext
from dicom_adapter.dicom.status import is_accepted, is_warning, status_name
from dicom_adapter.export.contexts import SendMode, SendPlan, plan_send, propose_contexts
from dicom_adapter.export.errors import StoreRefusedError, UndecodableFileError
from dicom_adapter.export.part10 import Part10File, read_part10
from dicom_adapter.export.progress import ProgressRepository
from dicom_adapter.export.scu import Peer, StoreAssociation, Timeouts
from dicom_adapter.export.settings import ExportSettings
from dicom_adapter.export.transcode import transcode
from dicom_adapter.export.transport import TlsTargets
from dicom_adapter.models import DestinationAeTitle

log = structlog.get_logger()


@dataclass
class DeliveryReport:
    """What happened to one task's files at one destination."""

    destination: str
    sent: int = 0
    skipped: int = 0  # acknowledged by an earlier attempt
    transcoded: int = 0
    warnings: int = 0
    refused: list[str] = field(default_factory=list)  # "uri: reason"
    undecodable: list[str] = field(default_factory=list)

    def raise_for_failures(self, total: int) -> None:
        """Permanent when a file cannot be decoded; retryable when the peer refused some files."""
        if self.undecodable:
            raise UndecodableFileError(
                f"{self.destination}: {len(self.undecodable)} of {total} files cannot be sent: "
                + "; ".join(self.undecodable[:3])
            )
        if self.refused:
            raise StoreRefusedError(
                f"{self.destination}: {len(self.refused)} of {total} files refused: " + "; ".join(self.refused[:3])
            )


class Deliverer:
    """C-STOREs result files to destinations, one association per (task, destination)."""

    def __init__(self, settings: ExportSettings, progress: ProgressRepository) -> None:
        self._settings = settings
        self._progress = progress
        self._tls = TlsTargets(settings.tls)
        self._timeouts = Timeouts(
            connect=settings.connect_timeout_seconds,
            acse=settings.acse_timeout_seconds,
            dimse=settings.dimse_timeout_seconds,
        )

    async def deliver(self, task_id: str, destination: DestinationAeTitle, files: dict[str, Path]) -> DeliveryReport:
        report = DeliveryReport(destination=destination.name)
        done = await self._progress.delivered(task_id, destination.name)
        todo: list[tuple[str, Part10File]] = []
        for uri, path in files.items():
            if uri in done:
                report.skipped += 1
                continue
            try:
                todo.append((uri, read_part10(path)))
            except UndecodableFileError as exc:
                report.undecodable.append(str(exc))
        if todo:
            await self._send(task_id, destination, todo, report)
        log.info(
            "export.delivery.finished",
            task_id=task_id,
            destination=destination.name,
            sent=report.sent,
            skipped=report.skipped,
            transcoded=report.transcoded,
            warnings=report.warnings,
            refused=len(report.refused),
            undecodable=len(report.undecodable),
        )
        report.raise_for_failures(len(files))
        return report

    async def _send(
        self, task_id: str, destination: DestinationAeTitle, todo: list[tuple[str, Part10File]], report: DeliveryReport
    ) -> None:
        allow_transcode = self._settings.transcode_on_refusal
        contexts = propose_contexts([part for _, part in todo], with_fallbacks=allow_transcode)
        tls = self._tls.target(destination)
        peer = Peer(destination.host_ip, destination.port, destination.ae_title, self._settings.ae_title, tls)
        association = await StoreAssociation.open(peer, contexts, self._settings.max_pdu_length, self._timeouts)
        try:
            await self._send_all(association, contexts, task_id, destination, todo, report)
        except BaseException:
            association.abort()
            raise
        await association.release()

    async def _send_all(
        self,
        association: StoreAssociation,
        contexts: list[ProposedContext],
        task_id: str,
        destination: DestinationAeTitle,
        todo: list[tuple[str, Part10File]],
        report: DeliveryReport,
    ) -> None:
        # Pipelined around the receiver: while the peer stores file i we read file i+1 and commit the
        # acknowledgement of file i-1, so our per-file work hides inside the wait for each response.
        # An acknowledgement is durable before the next response is read.
        ready = await self._prepare(association, contexts, todo[0], report)
        recording: asyncio.Task[None] | None = None
        try:
            for index, (uri, part) in enumerate(todo):
                current, ready = ready, None
                if current is not None:
                    await association.send(current[0].context_id, part.sop_class_uid, part.sop_instance_uid, current[1])
                if index + 1 < len(todo):
                    ready = await self._prepare(association, contexts, todo[index + 1], report)
                if recording is not None:
                    await recording
                    recording = None
                if current is not None:
                    status = await association.response()
                    recording = self._account(task_id, destination, uri, part, status, report, current[0].mode)
        finally:
            if recording is not None:
                await recording

    async def _prepare(
        self,
        association: StoreAssociation,
        contexts: list[ProposedContext],
        item: tuple[str, Part10File],
        report: DeliveryReport,
    ) -> tuple[SendPlan, bytes] | None:
        """The plan and encoded bytes of one file, or None (recorded in `report`) when it cannot go."""
        uri, part = item
        allow_transcode = self._settings.transcode_on_refusal
        plan = plan_send(part, contexts, association.accept.contexts, allow_transcode)
        if plan is None:
            report.refused.append(
                f"{uri}: no accepted presentation context for SOP class "
                f"{part.sop_class_uid} in {part.transfer_syntax} or an uncompressed syntax"
            )
            return None
        try:
            return plan, await self._encoded(part, plan.mode, plan.transfer_syntax)
        except UndecodableFileError as exc:
            report.undecodable.append(str(exc))
            return None

    async def _encoded(self, part: Part10File, mode: SendMode, target: str) -> bytes:
        if mode is SendMode.RAW:
            return part.dataset_bytes()
        # Decoding JPEG/J2K can take tens of ms: keep it off the event loop.
        return await asyncio.to_thread(transcode, part, target)

    def _account(
        self,
        task_id: str,
        destination: DestinationAeTitle,
        uri: str,
        part: Part10File,
        status: int,
        report: DeliveryReport,
        mode: SendMode,
    ) -> asyncio.Task[None] | None:
        """Count one response; for an accepted file, the task committing its acknowledgement."""
        if not is_accepted(status):
            report.refused.append(f"{uri}: {status_name(status)}")
            log.warning(
                "export.c_store.refused",
                task_id=task_id,
                destination=destination.name,
                sop_instance_uid=part.sop_instance_uid,
                status=status_name(status),
            )
            return None
        recording = asyncio.ensure_future(
            self._progress.record(task_id, destination.name, uri, part.sop_instance_uid, status)
        )
        report.sent += 1
        if mode is SendMode.TRANSCODE:
            report.transcoded += 1
        if is_warning(status):
            report.warnings += 1
            log.warning(
                "export.c_store.warning",
                task_id=task_id,
                destination=destination.name,
                sop_instance_uid=part.sop_instance_uid,
                status=status_name(status),
            )
        return recording
