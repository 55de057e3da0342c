from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from dicom_adapter.__main__ import cli
from dicom_adapter.settings import AdapterSettings, apply_clara_environment
from openclara.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


def test_settings_defaults_work_without_a_file(clara_home):
    settings = load_settings(AdapterSettings)
    assert settings.scp.port == 11112
    assert settings.api.port == 5000
    assert settings.platform.endpoint == "127.0.0.1:30031"
    assert settings.database.resolved_path() == clara_home / "dicom" / "adapter.db"


def test_settings_env_overrides_nested_keys(monkeypatch):
    monkeypatch.setenv("CLARA_DICOM_SCP__PORT", "1104")
    monkeypatch.setenv("CLARA_DICOM_PLATFORM__PARALLEL_UPLOADS", "9")
    settings = load_settings(AdapterSettings)
    assert settings.scp.port == 1104
    assert settings.platform.parallel_uploads == 9


def test_settings_clara_service_variables_override_endpoints():
    env = {
        "CLARA_SERVICE_HOST": "10.0.0.5",
        "CLARA_SERVICE_PORT_API": "50051",
        "CLARA_RESULTSSERVICE_SERVICE_HOST": "10.0.0.6",
        "CLARA_RESULTSSERVICE_SERVICE_PORT": "8088",
    }
    settings = apply_clara_environment(AdapterSettings(), env)
    assert settings.platform.endpoint == "10.0.0.5:50051"
    assert settings.results.endpoint == "http://10.0.0.6:8088"


def test_config_file_lists_every_key_with_its_default():
    data = yaml.safe_load((REPO / "config" / "dicom-adapter.yaml").read_text())
    defaults = AdapterSettings().model_dump(mode="json")

    def keys(d: dict, prefix: str = "") -> set[str]:
        out = set()
        for k, v in d.items():
            out |= keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
        return out

    assert keys(data) == keys(defaults)
    assert AdapterSettings.model_validate(data).model_dump(mode="json") == defaults


def test_config_validate_reports_every_error_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "scp:\n  port: 70000\nplatform:\n  parallel_uploads: 0\n"
        "seed:\n  sources:\n    - {aeTitle: PACS, hostIp: 'no way'}\n"
    )
    result = CliRunner().invoke(cli, ["config", "validate", "-f", str(bad)])
    assert result.exit_code == 2
    assert "scp.port" in result.output
    assert "platform.parallel_uploads" in result.output
    assert "sources[0].hostIp" in result.output
    assert "Traceback" not in result.output


def test_config_validate_reports_yaml_syntax_error_with_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("api: [1\n")
    result = CliRunner().invoke(cli, ["config", "validate", "-f", str(bad)])
    assert result.exit_code == 2
    assert "invalid YAML" in result.output


def test_config_validate_accepts_shipped_file():
    result = CliRunner().invoke(cli, ["config", "validate", "-f", str(REPO / "config" / "dicom-adapter.yaml")])
    assert result.exit_code == 0, result.output


def test_config_validate_refuses_unknown_keys_in_every_section(tmp_path):
    sections = ["scp", "storage", "export", "api", "platform", "results", "database", "grouping", "seed", "logging"]
    bad = tmp_path / "typos.yaml"
    bad.write_text(yaml.safe_dump({section: {"bogus": 1} for section in sections}))
    result = CliRunner().invoke(cli, ["config", "validate", "-f", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: {len(sections)} configuration error(s):" in result.output
    for section in sections:
        assert f"  - {section}.bogus: Extra inputs are not permitted (got 1)" in result.output


def test_camel_case_typo_in_a_section_is_named(tmp_path):
    bad = tmp_path / "camel.yaml"
    bad.write_text("export:\n  aeTitle: X\n")
    result = CliRunner().invoke(cli, ["config", "validate", "-f", str(bad)])
    assert result.exit_code == 2
    assert "export.aeTitle: Extra inputs are not permitted" in result.output


def test_unknown_nested_key_from_the_environment_is_refused(monkeypatch):
    monkeypatch.setenv("CLARA_DICOM_SCP__BOGUS", "1")
    result = CliRunner().invoke(cli, ["config", "validate"])
    assert result.exit_code == 2
    assert "scp.bogus: Extra inputs are not permitted" in result.output


def test_seed_entries_keep_their_camel_case_keys(tmp_path):
    good = tmp_path / "seed.yaml"
    good.write_text(
        "seed:\n  ae_titles:\n    - {aeTitle: CLARA, overwriteSameInstance: true,"
        f" processorSettings: {{pipeline-seg: '{'a' * 32}', groupBy: '0020,000E'}}}}\n"
        "  destinations:\n    - {name: PACS, aeTitle: PACS, hostIp: 127.0.0.1, port: 104}\n"
    )
    result = CliRunner().invoke(cli, ["config", "validate", "-f", str(good)])
    assert result.exit_code == 0, result.output


def test_listen_error_names_address_port_and_setting():
    from dicom_adapter.errors import ListenError

    cause = OSError(98, "error while attempting to bind on address ('127.0.0.1', 5000): address already in use")
    error = ListenError("REST API port", "127.0.0.1", 5000, "api.port / CLARA_DICOM_API__PORT", cause)
    assert str(error) == (
        "cannot listen on 127.0.0.1:5000 (REST API port): Address already in use; "
        "set api.port / CLARA_DICOM_API__PORT to another port"
    )
