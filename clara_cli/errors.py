"""The CLI's one user-facing error.

    click.ClickException
    └── CliError        one `error: ...` line on stderr, exit code 1, no traceback

Every plugin maps its boundary's failures (platform, results service, DICOM adapter, daemons) to
`CliError` once, so every command fails the same way.
"""

from __future__ import annotations

from typing import IO, Any

import click


class CliError(click.ClickException):
    """A user-facing failure: printed as one `error: ...` line on stderr, exit code 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)
