"""Placeholder: commands of this plugin are registered here."""

from __future__ import annotations

import click


def register(cli: click.Group, verbs: dict[str, click.Group]) -> None:
    """Attach this plugin's commands to the root group and the verb groups."""
