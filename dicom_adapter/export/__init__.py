"""Export agent: results back to PACS, exactly once, to every destination.

results service --lease (poller.py)--> ExportTask (task.py: `parameters` -> destination names)
  -> destinations resolved by name via DestinationLookup (ports.py; the core's registry)
  -> result files streamed from the job payload into a temp spool (download.py, PlatformClient)
  -> per destination (delivery.py): part10.py reads each file's meta; contexts.py proposes contexts
     and picks raw or transcode.py; scu.py (asyncio SCU over dicom/acse.py, pdu.py, dimse.py) sends;
     progress.py commits every acknowledgement so a restart never resends
  -> success / failure(retryLater, reason) back to the results service; backoff.py per destination
agent.py (ExportAgent) runs the loop and maps errors.py to reports; settings.py holds ExportSettings.
verification.py: C-ECHO of a destination (REST API), reaching it the way the SCU does (transport.py TLS).
"""

from __future__ import annotations

from dicom_adapter.export.ports import DestinationLookup
from dicom_adapter.export.settings import ExportSettings

__all__ = ["DestinationLookup", "ExportSettings"]
