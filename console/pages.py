"""The Jinja2 environment every page renders with (the viewer's pages too): `templates.TemplateResponse`."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")


def epoch_text(seconds: float) -> str:
    """Epoch seconds (the adapter's times) as local time, to the second."""
    return datetime.fromtimestamp(float(seconds)).strftime("%Y-%m-%d %H:%M:%S")


def destinations(parameters: str) -> str:
    """A results task's `parameters` (JSON: a destination name or a list of them), for people."""
    try:
        value = json.loads(parameters) if parameters else ""
    except ValueError:
        return parameters
    return ", ".join(value) if isinstance(value, list) else str(value)


templates.env.filters.update(epoch_text=epoch_text, destinations=destinations)
templates.env.tests["match"] = lambda value, pattern: re.match(pattern, str(value)) is not None
