"""Where the embedded stack keeps its state: `$CLARA_HOME` (default `~/.clara`)."""

from __future__ import annotations

import os
from pathlib import Path


def clara_home() -> Path:
    """The root of config, data, pid and log files for every service on this machine."""
    return Path(os.environ.get("CLARA_HOME", Path.home() / ".clara")).expanduser()


def run_dir() -> Path:
    """Pid files and service logs written by `clara <service> start`."""
    return clara_home() / "run"
