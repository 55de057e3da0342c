"""Tokens, roles and the credentials file every service and client of one stack shares."""

from __future__ import annotations

import ipaddress
import multiprocessing
import stat
from pathlib import Path

import pytest

from openclara.auth.credentials import CredentialsError, client_token, credential, load, load_or_create
from openclara.auth.roles import Principal, Role
from openclara.auth.settings import AuthSettings
from openclara.auth.tokens import TokenTable, TrustedNetwork, bearer, digest


def test_first_start_writes_three_random_tokens_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "home" / "credentials.yaml"
    made = load_or_create(path)
    assert [(c.name, c.role) for c in made] == [("admin", Role.ADMIN), ("services", Role.OPERATOR),
                                                  ("operators", Role.OPERATOR)]
    assert len({c.token for c in made}) == 3 and all(len(c.token) >= 40 for c in made)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create(path) == made  # the second start reads, never rewrites


def _create(path: str) -> None:
    load_or_create(Path(path))


def test_services_starting_together_agree_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.yaml"
    processes = [multiprocessing.get_context("fork").Process(target=_create, args=(str(path),)) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(20)
        assert process.exitcode == 0
    assert len(load(path)) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.yaml"]  # no temporary file left


def test_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "credentials.yaml"
    load_or_create(path)
    path.chmod(0o644)
    with pytest.raises(CredentialsError, match="readable by other users: chmod 600"):
        load(path)
    path.chmod(0o440)  # a Kubernetes Secret mounted for the pod's fsGroup
    assert len(load(path)) == 3


def test_clients_prefer_the_environment_then_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "credentials.yaml"
    made = {c.name: c.token for c in load_or_create(path)}
    monkeypatch.setenv("CLARA_CREDENTIALS", str(path))
    monkeypatch.delenv("CLARA_API_TOKEN", raising=False)
    assert client_token() == made["admin"]
    assert client_token("services") == made["services"]
    monkeypatch.setenv("CLARA_API_TOKEN", "explicit")
    assert client_token() == "explicit"
    assert credential("services") == made["services"]  # what a service reads for itself ignores the variable
    assert credential("admin", tmp_path / "missing.yaml") is None


def test_table_knows_tokens_by_digest_and_trusted_networks_by_address() -> None:
    table = TokenTable([("admin", Role.ADMIN, digest("secret"))],
                       [TrustedNetwork(ipaddress.ip_network("10.1.0.0/16"), Role.READ_ONLY)])
    assert table.principal("secret", "192.0.2.1") == Principal("admin", Role.ADMIN)
    assert table.principal("wrong", "10.1.2.3") is None  # a wrong token is not rescued by the address
    assert table.principal(None, "10.1.2.3") == Principal("trusted:10.1.0.0/16", Role.READ_ONLY)
    assert table.principal(None, "10.2.0.1") is None
    assert table.principal(None, "::1") is None
    assert table.principal(None, None) is None


def test_disabled_auth_admits_everyone_as_admin() -> None:
    assert TokenTable(enabled=False).principal(None, None) == Principal("anonymous", Role.ADMIN)


@pytest.mark.parametrize(("header", "token"), [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None),
                                               ("Bearer", None), ("", None), (None, None)])
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert bearer(header) == token


def test_roles_are_ordered_and_parsed_as_written() -> None:
    assert Role.READ_ONLY < Role.OPERATOR < Role.ADMIN
    assert Role.parse("read-only") is Role.READ_ONLY and Role.parse("Admin") is Role.ADMIN
    with pytest.raises(ValueError, match="one of read-only, operator, admin"):
        Role.parse("root")


def test_settings_add_api_keys_by_digest_and_refuse_a_plain_token(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARA_CREDENTIALS", str(tmp_path / "credentials.yaml"))
    settings = AuthSettings.model_validate({"api_keys": [{"name": "pacs-team", "role": "read-only",
                                                          "sha256": digest("team-token").upper()}],
                                            "trusted_clients": [{"network": "127.0.0.1/32"}]})
    table = settings.table()
    assert table.principal("team-token", None) == Principal("pacs-team", Role.READ_ONLY)
    assert table.principal(None, "127.0.0.1") == Principal("trusted:127.0.0.1/32", Role.OPERATOR)
    with pytest.raises(ValueError, match="SHA-256 of the token, not the token"):
        AuthSettings.model_validate({"api_keys": [{"name": "x", "role": "admin", "sha256": "team-token"}]})
