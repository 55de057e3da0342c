"""An in-process pynetdicom Storage SCP for export unit tests (real loopback socket, port 0)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import CTImageStorage, SegmentationStorage

from dicom_adapter.dicom.status import StoreStatus


@dataclass
class Received:
    """What the fake PACS stored: (SOP instance UID, transfer syntax) in arrival order."""

    instances: list[tuple[str, str]] = field(default_factory=list)
    calling_ae_titles: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: int = StoreStatus.SUCCESS
    delay: float = 0.0  # seconds before each answer: a slow PACS


@contextmanager
def storage_scp(
    ae_title: str = "PACS",
    syntaxes: Sequence[str] = (ExplicitVRLittleEndian, ImplicitVRLittleEndian),
) -> Iterator[tuple[int, Received]]:
    received = Received()

    def handle_store(event: evt.Event) -> int:
        time.sleep(received.delay)
        with received.lock:
            received.instances.append((event.request.AffectedSOPInstanceUID, event.context.transfer_syntax))
        return received.status

    def handle_assoc(event: evt.Event) -> None:
        received.calling_ae_titles.append(event.assoc.requestor.ae_title)

    ae = AE(ae_title=ae_title)
    ae.require_called_aet = True
    for sop_class in (CTImageStorage, SegmentationStorage):
        ae.add_supported_context(sop_class, list(syntaxes))
    server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        evt_handlers=[(evt.EVT_C_STORE, handle_store), (evt.EVT_ACCEPTED, handle_assoc)],
    )
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
