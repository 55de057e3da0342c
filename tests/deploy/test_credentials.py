"""The stack's API tokens on Kubernetes: one credentials file in a Secret, shared by the three pods.

The services and the clara CLI find their tokens with `openclara.auth.credentials` ($CLARA_CREDENTIALS);
the platform's `auth` section comes from the chart's `auth` values (docs/kubernetes.md "Authentication").
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from dicom_adapter.settings import AdapterSettings
from openclara.auth.credentials import (
    DEFAULT_TOKENS,
    ENV_FILE,
    ENV_TOKEN,
    CredentialsError,
    client_token,
    default_path,
    load,
)
from openclara.auth.roles import Role
from openclara.settings import load_settings
from platform_server.settings import PlatformSettings
from results_service.settings import ResultsSettings
from tests.deploy.chart import (
    API_KEYS,
    CHART,
    COMPONENTS,
    CONFIG_FILES,
    CREDENTIALS_SECRET,
    EXISTING_SECRET,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    TRUSTED_CLIENTS,
    Manifests,
    helm,
    pod_spec,
    render,
    render_notes,
)

SETTINGS: dict[str, type[BaseSettings]] = {
    "platform": PlatformSettings,
    "results": ResultsSettings,
    "dicom-adapter": AdapterSettings,
}
KEY = "credentials.yaml"
SECRET_TEMPLATE = "templates/credentials-secret.yaml"
LOOKUP = 'lookup "v1" "Secret" .Release.Namespace $name'


def _credentials_text(manifests: Manifests) -> str:
    secret = manifests.get("Secret", CREDENTIALS_SECRET)
    assert secret["type"] == "Opaque"
    assert set(secret["data"]) == {KEY}
    return base64.b64decode(secret["data"][KEY]).decode()


def _secret_text(*helm_args: str, chart: Path = CHART) -> str:
    out = helm("template", RELEASE, str(chart), "--namespace", NAMESPACE, "--show-only", SECRET_TEMPLATE,
               *helm_args).stdout
    return _credentials_text(Manifests((yaml.safe_load(out),)))


def _tokens(text: str) -> dict[str, str]:
    return {t["name"]: t["token"] for t in yaml.safe_load(text)["tokens"]}


def _platform_auth(manifests: Manifests, tmp_path: Path) -> Any:
    path = tmp_path / CONFIG_FILES["platform"]
    path.write_text(manifests.config_text("platform"))
    return load_settings(PlatformSettings, path).auth


def _write(text: str, path: Path, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_secret_holds_the_three_tokens_the_services_and_the_cli_read(tmp_path: Path) -> None:
    """Parsed by `load`, as every service and client reads it: the names and roles credentials.py writes."""
    credentials = load(_write(_credentials_text(render("default")), tmp_path / KEY, 0o600))
    assert [(c.name, c.role) for c in credentials] == list(DEFAULT_TOKENS)
    tokens = [c.token for c in credentials]
    assert len(set(tokens)) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9]{48}", token) for token in tokens)  # randAlphaNum 48: ~285 bits


def test_each_install_generates_new_tokens() -> None:
    first, second = _tokens(_secret_text()), _tokens(_secret_text())
    assert first.keys() == second.keys()
    assert not set(first.values()) & set(second.values())


def test_upgrade_keeps_the_tokens_of_the_secret_in_the_cluster(tmp_path: Path) -> None:
    """`helm upgrade` reads the Secret back with lookup (empty under `helm template`, which has no cluster).

    A copy of the chart answers the lookup with a Secret as the API server would return it.
    """
    existing = "tokens:\n  - {name: admin, role: admin, token: kept-across-upgrades}\n"
    chart = tmp_path / "openclara"
    shutil.copytree(CHART, chart)
    template = chart / SECRET_TEMPLATE
    text = template.read_text()
    assert text.count(LOOKUP) == 1
    answer = f'dict "data" (dict "{KEY}" "{base64.b64encode(existing.encode()).decode()}")'
    template.write_text(text.replace(LOOKUP, answer))
    assert _secret_text(chart=chart) == existing


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("component", COMPONENTS)
def test_every_pod_mounts_the_credentials_read_only_and_names_the_file(
        scenario: str, component: str, monkeypatch: pytest.MonkeyPatch) -> None:
    manifests = render(scenario)
    spec = pod_spec(manifests, component)
    (container,) = spec["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    path = PurePosixPath(env[ENV_FILE])
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(path.parent)]
    assert mount["readOnly"] is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    secret = volume["secret"]
    expected = EXISTING_SECRET if scenario == "variants" else CREDENTIALS_SECRET
    assert secret["secretName"] == expected
    assert secret["items"] == [{"key": KEY, "path": path.name}]
    # Group read for the pod's fsGroup (the kubelet makes it the files' group), nothing for others: `load`
    # refuses a file others can read, which Kubernetes' default 0644 would be.
    assert secret["defaultMode"] == 0o440
    assert spec["securityContext"]["fsGroup"] == spec["securityContext"]["runAsGroup"]
    # The services find the file by this variable, as openclara.auth.credentials reads it.
    monkeypatch.setenv(ENV_FILE, str(path))
    assert default_path() == Path(path)


def test_the_mounted_files_mode_passes_the_credentials_check(tmp_path: Path) -> None:
    """What the container sees with defaultMode 0440 (root:fsGroup, r--r-----) loads; 0644 would not."""
    text = _credentials_text(render("default"))
    assert len(load(_write(text, tmp_path / "mounted.yaml", 0o440))) == 3
    with pytest.raises(CredentialsError, match="readable by other users"):
        load(_write(text, tmp_path / "default-mode.yaml", 0o644))


def test_existing_secret_replaces_the_charts() -> None:
    manifests = render("variants")
    assert manifests.of_kind("Secret") == []
    for component in COMPONENTS:
        names = {v["secret"]["secretName"] for v in pod_spec(manifests, component)["volumes"] if "secret" in v}
        assert names == {EXISTING_SECRET}


@pytest.mark.usefixtures("container_env")
def test_auth_values_reach_the_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifests = render("default")
    (container,) = pod_spec(manifests, "platform")["containers"]
    home = next(e["value"] for e in container["env"] if e["name"] == "CLARA_HOME")
    monkeypatch.setenv("CLARA_HOME", home)
    default = _platform_auth(manifests, tmp_path)
    assert (default.enabled, default.api_keys, default.trusted_clients) == (True, [], [])
    data = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "data")
    assert default.audit_path.is_relative_to(data)  # the audit log is kept on the platform's volume
    auth = _platform_auth(render("variants"), tmp_path)
    assert auth.enabled is False
    assert [(k.name, k.role, k.sha256) for k in auth.api_keys] == [
        ("ci", Role.OPERATOR, "ab" * 32), ("viewer", Role.READ_ONLY, "0123456789abcdef" * 4)]
    assert [(str(t.network), t.role) for t in auth.trusted_clients] == [("10.42.7.0/24", Role.ADMIN)]


@pytest.mark.usefixtures("container_env")
def test_auth_values_win_over_platform_config_which_keeps_the_other_keys(tmp_path: Path) -> None:
    """auth.enabled=false must replace platform.config.auth.enabled=true (a merge would keep the true)."""
    out = helm("template", RELEASE, str(CHART), "--show-only", "templates/platform-configmap.yaml",
               "--set", "auth.enabled=false",
               "--set", "platform.config.auth.enabled=true",
               "--set", "platform.config.auth.audit_log=/var/lib/openclara/platform/audit.log",
               "--set-json", 'platform.config.auth.api_keys=[{"name":"x","role":"admin","sha256":"' + "0" * 64 + '"}]',
               ).stdout
    path = tmp_path / "platform-server.yaml"
    path.write_text(yaml.safe_load(out)["data"]["platform-server.yaml"])
    auth = load_settings(PlatformSettings, path).auth
    assert (auth.enabled, auth.api_keys) == (False, [])
    assert auth.audit_path == Path("/var/lib/openclara/platform/audit.log")


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_service_gets_the_auth_section(component: str) -> None:
    """All three services check tokens: each file carries the chart's `auth` values."""
    assert "auth" in SETTINGS[component].model_fields
    config = render("variants").config(component)
    assert config.get("auth") == {"enabled": False, "api_keys": API_KEYS, "trusted_clients": TRUSTED_CLIENTS}


def test_notes_show_how_the_cli_gets_the_admin_token(tmp_path: Path) -> None:
    """The commands NOTES.txt prints read the release's Secret, and the token pipeline finds the admin token."""
    notes = render_notes("default", tmp_path / "default")
    jsonpath = "-o jsonpath='{.data.credentials\\.yaml}' | base64 -d"
    assert f"kubectl -n {NAMESPACE} get secret {CREDENTIALS_SECRET} {jsonpath}" in notes
    (saved,) = set(re.findall(r"export CLARA_CREDENTIALS=(\S+)", notes))
    assert f"> {saved})" in notes and f"chmod 600 {saved}" in notes
    assert notes.index("export CLARA_CREDENTIALS") < notes.index("clara version")
    (sed,) = re.findall(r"\| sed -n '([^']+)'\)", notes)
    text = _credentials_text(render("default"))
    extracted = subprocess.run(["sed", "-n", sed], input=text, capture_output=True, text=True, check=True)
    assert extracted.stdout.strip() == _tokens(text)["admin"]
    existing = render_notes("variants", tmp_path / "variants")
    assert f"get secret {EXISTING_SECRET} {jsonpath}" in existing
    assert "| sed" not in existing  # a Secret of the user's may be written differently


def test_cli_reads_the_admin_token_from_the_saved_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the notes tell the user to do, as `clara` then reads it (client_token: CLARA_API_TOKEN first)."""
    text = _credentials_text(render("default"))
    saved = _write(text, tmp_path / "clara-openclara-credentials.yaml", 0o600)
    monkeypatch.delenv(ENV_TOKEN, raising=False)
    monkeypatch.setenv(ENV_FILE, str(saved))
    assert client_token() == _tokens(text)["admin"]
    monkeypatch.setenv(ENV_TOKEN, "from-the-environment")
    assert client_token() == "from-the-environment"
