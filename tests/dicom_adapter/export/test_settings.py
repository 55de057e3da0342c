"""ExportSettings: Clara-compatible defaults under CLARA_HOME, interval validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dicom_adapter.export.settings import ExportSettings


def test_defaults_match_clara_and_live_under_clara_home(clara_home):
    settings = ExportSettings()
    assert settings.ae_title == "ClaraSCU" and settings.lease_size == 10
    assert settings.resolved_state_dir() == clara_home / "dicom" / "export"


def test_interval_order_is_checked():
    with pytest.raises(ValidationError, match="poll_interval_max_seconds must be >= poll_interval_min_seconds"):
        ExportSettings(poll_interval_min_seconds=5, poll_interval_max_seconds=1)
    with pytest.raises(ValidationError, match="retry_backoff_max_seconds must be >= retry_backoff_base_seconds"):
        ExportSettings(retry_backoff_base_seconds=10, retry_backoff_max_seconds=1)
