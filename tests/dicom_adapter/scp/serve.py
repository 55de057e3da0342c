"""A StoreScp in its own process for crash tests: `python -m tests.dicom_adapter.scp.serve SPOOL PORT`.

Every called AE title and every source is accepted; the sink does nothing (the spool is what is checked).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from dicom_adapter.models import ClaraAeTitle
from dicom_adapter.scp.config import ScpSettings
from dicom_adapter.scp.server import StoreScp
from dicom_adapter.storage.settings import StorageSettings
from dicom_adapter.storage.spool import Spool
from openclara.logs import configure_logging


class AnyAe:
    reject_unknown_sources = False

    def clara_ae_title(self, ae_title: str) -> ClaraAeTitle:
        return ClaraAeTitle(name=ae_title, ae_title=ae_title, pipelines={})

    def source_allowed(self, calling_ae_title: str, host: str) -> bool:
        return True


class NoSink:
    def instance_stored(self, instance: object) -> None:
        pass

    def association_ended(self, record: object) -> None:
        pass


async def serve(spool: Path, port: int) -> None:
    configure_logging("WARNING")
    storage = StorageSettings(spool_dir=spool, watermark_percent=100, reserve_space_gb=0, spare_files=64)
    scp = StoreScp(ScpSettings(port=port), storage, Spool.from_settings(storage), AnyAe(), NoSink())  # type: ignore[arg-type]
    await scp.start()
    print("listening", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2])))
