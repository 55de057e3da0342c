"""Where the files of something viewable are: a `FileSource` per kind, named by the first URL segment.

    /viewer/payloads/<payload_id>   PayloadFolders: a platform payload's folder. A job's payload holds
                                    its input (the study) and every operator's output (the SEG), so one
                                    payload shows a study with its AI result.

The console may register more kinds (an adapter's received study, a single job output) by handing
`Viewer` its own sources; a source only lists files, the viewer decides what they are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from console.viewer.errors import NotFound

ITEM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_FILES = 50_000  # a folder larger than any study: refuse rather than stat a whole file system


class FileSource(Protocol):
    def files(self, item_id: str) -> list[Path]:
        """Every file of the item (DICOM or not); raises NotFound for an unknown item."""


class PayloadFolders:
    """Platform payloads: `<root>/<payload_id>/` and every file below it (symbolic links are not followed)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self, item_id: str) -> list[Path]:
        if not ITEM_ID.fullmatch(item_id) or ".." in item_id:
            raise NotFound("no such payload")
        folder = self.root / item_id
        if not folder.is_dir():
            raise NotFound("no such payload")
        found: list[Path] = []
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                found.append(path)
                if len(found) > MAX_FILES:
                    raise NotFound(f"the payload has more than {MAX_FILES} files: too many to show")
        return found
