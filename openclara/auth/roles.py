"""Roles, from least to most: what each may do is decided per API method by the service that serves it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.IntEnum):
    """Ordered: a principal may call a method that needs its role or any lower one."""

    READ_ONLY = 1  # list and read: jobs, pipelines, payload files, logs, tasks, configuration
    OPERATOR = 2  # run work: create and start jobs, upload payloads, register and lease results tasks
    ADMIN = 3  # change what runs and where results go: pipelines, models, AE titles, destinations, Stop

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper().replace("-", "_")]
        except KeyError:
            names = ", ".join(r.label for r in cls)
            raise ValueError(f"unknown role {text!r}: one of {names}") from None

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class Principal:
    """Who a call came from: a token's name, or `trusted:<network>` for a trusted client address."""

    name: str
    role: Role
