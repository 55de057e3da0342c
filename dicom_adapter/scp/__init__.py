"""The adapter's asyncio-native DICOM SCP: one port, many Clara AE titles. PDUs, command sets, statuses,
contexts, file meta and the element walker come from dicom_adapter.dicom (shared with export/ and C-ECHO).

socket --server.StoreScp (accept, TCP_NODELAY, limits, start/stop)
       --connections.Connections (pending vs associated; the oldest pending one evicted past the cap)
       --association.Association (per-connection state machine, ARTIM / DIMSE / idle timeouts)
           dicom/stream.py chunks read from the socket -> PDV fragments (views, no copy) and other PDUs
           dicom/acse.py   A-ASSOCIATE-RQ decoding, AC encoding (dicom/pdu.py: RJ / RELEASE-RP / ABORT)
           negotiation.py  calling/called AE, limit and disk checks, presentation contexts -> AC or RJ
           dicom/dimse.py  C-STORE / C-ECHO command sets (implicit VR LE) in and out
           storing.py      one C-STORE: accept / refuse / ignore, then commit
           receiver.py     its data set streamed from PDVs into a spool temp file (storage/instance_file.py:
                           the file meta we prepend; UIDs and group tag read from the first bytes)
           checks.py       the data set is whole and is the instance the command named
           dicom/elements.py  walks over top-level elements: the UIDs without pydicom; the data set whole
           dicom/uids.py   UID syntax (PS3.5 9.1): nothing unchecked names a spool file
       --> dicom_adapter.storage.spool.Spool (spare files; ONE fdatasync; rename, no flush) --> ports.InstanceSink
config.py  ScpSettings                       ports.py  AeTitleLookup, InstanceSink, AssociationRecord
runtime.py what associations share           status.py exception -> status (names: dicom/status.py)
errors.py  the C-STORE refusals, under storage's StoreError tree
"""

from __future__ import annotations

from dicom_adapter.scp.config import ScpSettings
from dicom_adapter.scp.ports import AeTitleLookup, AssociationRecord, InstanceSink

__all__ = ["AeTitleLookup", "AssociationRecord", "InstanceSink", "ScpSettings"]
