"""Settings of the spool and the disk guard (`storage:` section).

A plain pydantic model: the adapter's `settings.py` embeds it in its `BaseSettings`, so the YAML keys
and the `CLARA_DICOM_STORAGE__*` environment overrides come from there.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from openclara.paths import clara_home


class StorageSettings(BaseModel):
    """Where acknowledged instances live and how much free disk must remain."""

    model_config = ConfigDict(extra="forbid")  # a typo must fail, not be ignored

    spool_dir: Path | None = None  # None = $CLARA_HOME/dicom/spool
    # Refuse new associations (and fail C-STOREs with 0xA700) when the disk is fuller than this.
    watermark_percent: float = Field(default=85.0, gt=0, le=100)
    reserve_space_gb: float = Field(default=5.0, ge=0)  # ... or when less than this is free
    fsync: bool = True  # fsync file and directory before acknowledging (durability)
    # Empty files made ahead (at start, and once no spare was taken for a second) so that a burst of up
    # to this many instances creates no file while it is received; kept across restarts (spares.py).
    spare_files: int = Field(default=2048, ge=64)

    def resolved_spool_dir(self) -> Path:
        """The spool root, defaulting under `$CLARA_HOME`."""
        return self.spool_dir if self.spool_dir is not None else clara_home() / "dicom" / "spool"
