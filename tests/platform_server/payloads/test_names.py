"""Payload file names that could leave their folder are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_server.errors import InvalidArgument
from platform_server.payloads import names


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "file name is empty"),
        ("/etc/passwd", "file name '/etc/passwd' is absolute: payload file names are relative paths"),
        ("../x", "file name '../x' contains '..': names may not leave the payload folder"),
        ("a/../../x", "contains '..'"),
        ("a\\b", "contains a backslash"),
        ("C:/x", "is absolute"),
        ("a//b", "has an empty or '.' path segment"),
        ("a/./b", "has an empty or '.' path segment"),
        ("x\x00y", "NUL character"),
        ("dir/.upload-123", "reserved prefix"),
    ],
)
def test_unsafe_names_are_rejected_with_reason(name: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=None) as caught:
        names.check(name)
    assert message in str(caught.value)


def test_symlink_out_of_the_payload_is_rejected(tmp_path: Path) -> None:
    base = tmp_path / "payload"
    base.mkdir()
    (base / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidArgument, match="resolves outside the payload folder"):
        names.inside(base, "link/secret")
    assert names.inside(base, "study/1.dcm") == base / "study" / "1.dcm"
