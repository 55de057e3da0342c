"""The stack's credentials file: written once, 0600, at the first start; read by its services and clients.

    # $CLARA_HOME/credentials.yaml
    tokens:
      - {name: admin, role: admin, token: ...}         the `clara` CLI of the user who runs the stack
      - {name: services, role: operator, token: ...}   one service calling another
      - {name: operators, role: operator, token: ...}  pipeline operators (register-results)

Three services starting at once may each find the file missing: each writes a complete file under a
temporary name and links it into place, which only the first succeeds at; the others read the winner's.
`CLARA_CREDENTIALS` names another file (tests, or a Kubernetes Secret mounted into every pod).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from openclara.auth.roles import Role
from openclara.paths import clara_home

ENV_FILE = "CLARA_CREDENTIALS"
ENV_TOKEN = "CLARA_API_TOKEN"
ADMIN, SERVICES, OPERATORS = "admin", "services", "operators"
DEFAULT_TOKENS = ((ADMIN, Role.ADMIN), (SERVICES, Role.OPERATOR), (OPERATORS, Role.OPERATOR))
HEADER = ("# openclara API credentials: keep secret (mode 0600). Each token is a bearer token with a role;\n"
          "# delete this file and restart the stack to replace them all.\n")


class CredentialsError(Exception):
    """The credentials file cannot be read, written or understood; the message names the file."""


@dataclass(frozen=True)
class Credential:
    name: str
    role: Role
    token: str


def default_path() -> Path:
    named = os.environ.get(ENV_FILE)
    return Path(named).expanduser() if named else clara_home() / "credentials.yaml"


def load_or_create(path: Path) -> tuple[Credential, ...]:
    """The file's credentials; a new file with fresh random tokens when there is none."""
    if not path.exists():
        _create(path)
    return load(path)


def load(path: Path) -> tuple[Credential, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read the credentials file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CredentialsError(f"{path}: the credentials file is not valid YAML: {exc}") from exc
    # Other users must not read it. Group read is tolerated: Kubernetes adds it to a mounted Secret for the
    # pod's fsGroup, which is the service's own group.
    if path.stat().st_mode & 0o007:
        raise CredentialsError(f"{path}: the credentials file is readable by other users: chmod 600 {path}")
    try:
        return tuple(Credential(str(t["name"]), Role.parse(str(t["role"])), str(t["token"]))
                     for t in data.get("tokens", []))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CredentialsError(f"{path}: each entry of tokens needs name, role and token ({exc})") from exc


def client_token(name: str = ADMIN, path: Path | None = None) -> str | None:
    """The token a client sends: `CLARA_API_TOKEN`, else credential `name` of the stack's file, else None."""
    return os.environ.get(ENV_TOKEN) or credential(name, path)


def auth_headers(name: str = ADMIN) -> dict[str, str]:
    """`Authorization: Bearer <client_token(name)>` for an HTTP client; empty when there is no token."""
    token = client_token(name)
    return {"Authorization": f"Bearer {token}"} if token else {}


def credential(name: str, path: Path | None = None) -> str | None:
    """Token `name` of the stack's credentials file; None when there is no such file or entry."""
    try:
        found = load(path or default_path())
    except (CredentialsError, FileNotFoundError):
        return None
    return next((c.token for c in found if c.name == name), None)


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    entries = [{"name": name, "role": role.label, "token": secrets.token_urlsafe(32)} for name, role in DEFAULT_TOKENS]
    text = HEADER + yaml.safe_dump({"tokens": entries}, sort_keys=False)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails if another process got there first: then theirs is the file
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)
