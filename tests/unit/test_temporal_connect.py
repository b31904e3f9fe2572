"""From KICKOFF_TEMPORAL_* settings to ``Client.connect``'s TLS and API-key arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.service import TLSConfig

from kickoff.settings import Settings
from kickoff.temporal import connect, connect_args

CA = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"
CERT = b"-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n"
TLS_ENV = (
    "KICKOFF_TEMPORAL_TLS_CERT",
    "KICKOFF_TEMPORAL_TLS_KEY",
    "KICKOFF_TEMPORAL_TLS_CA",
    "KICKOFF_TEMPORAL_API_KEY",
)


@pytest.fixture
def pems(tmp_path: Path) -> dict[str, Path]:
    files = {"ca": CA, "cert": CERT, "key": KEY}
    for name, data in files.items():
        (tmp_path / f"{name}.pem").write_bytes(data)
    return {name: tmp_path / f"{name}.pem" for name in files}


@pytest.fixture
def no_tls_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the shell running the tests has set, these tests choose their own."""
    for name in TLS_ENV:
        monkeypatch.delenv(name, raising=False)


pytestmark = pytest.mark.usefixtures("no_tls_env")


def test_without_tls_settings_the_connection_is_plaintext() -> None:
    """No TLS file and no API key: tls=False, no API key, the configured namespace."""
    assert connect_args(Settings(temporal_namespace="kickoff-prod")) == {
        "namespace": "kickoff-prod",
        "tls": False,
        "api_key": None,
    }


def test_a_client_certificate_and_key_give_mtls(pems: dict[str, Path]) -> None:
    """Cert and key: a TLSConfig carrying both files' bytes, verified against the system's roots."""
    args = connect_args(Settings(temporal_tls_cert=pems["cert"], temporal_tls_key=pems["key"]))
    assert args["tls"] == TLSConfig(client_cert=CERT, client_private_key=KEY)
    assert args["api_key"] is None


def test_a_ca_is_what_the_server_is_verified_against(pems: dict[str, Path]) -> None:
    """With KICKOFF_TEMPORAL_TLS_CA, mTLS trusts that CA; a CA alone is server-verified TLS."""
    mtls = Settings(temporal_tls_cert=pems["cert"], temporal_tls_key=pems["key"], temporal_tls_ca=pems["ca"])
    assert connect_args(mtls)["tls"] == TLSConfig(
        server_root_ca_cert=CA, client_cert=CERT, client_private_key=KEY
    )
    assert connect_args(Settings(temporal_tls_ca=pems["ca"]))["tls"] == TLSConfig(server_root_ca_cert=CA)


def test_an_api_key_always_means_tls(pems: dict[str, Path]) -> None:
    """Temporal Cloud's API key goes to api_key= and turns TLS on (system roots, or the CA given)."""
    args = connect_args(Settings(temporal_api_key=SecretStr("cloud-key")))
    assert args == {"namespace": "default", "tls": True, "api_key": "cloud-key"}
    with_ca = connect_args(Settings(temporal_api_key=SecretStr("cloud-key"), temporal_tls_ca=pems["ca"]))
    assert with_ca["tls"] == TLSConfig(server_root_ca_cert=CA)


def test_the_settings_come_from_kickoff_temporal_variables(
    monkeypatch: pytest.MonkeyPatch, pems: dict[str, Path]
) -> None:
    """KICKOFF_TEMPORAL_TLS_CERT/KEY/CA and KICKOFF_TEMPORAL_API_KEY are what the settings read."""
    monkeypatch.setenv("KICKOFF_TEMPORAL_TLS_CERT", str(pems["cert"]))
    monkeypatch.setenv("KICKOFF_TEMPORAL_TLS_KEY", str(pems["key"]))
    monkeypatch.setenv("KICKOFF_TEMPORAL_TLS_CA", str(pems["ca"]))
    monkeypatch.setenv("KICKOFF_TEMPORAL_API_KEY", "cloud-key")
    args = connect_args(Settings())
    assert args["tls"] == TLSConfig(server_root_ca_cert=CA, client_cert=CERT, client_private_key=KEY)
    assert args["api_key"] == "cloud-key"
    assert "cloud-key" not in repr(Settings())  # a SecretStr: not in logs or tracebacks


@pytest.mark.parametrize("name", TLS_ENV)
def test_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """`${VAR:-}` in compose passes an empty string: it means unset, not the current folder."""
    monkeypatch.setenv(name, "")
    assert connect_args(Settings()) == {"namespace": "default", "tls": False, "api_key": None}


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ("KICKOFF_TEMPORAL_TLS_CERT", "KICKOFF_TEMPORAL_TLS_KEY"),
        ("KICKOFF_TEMPORAL_TLS_KEY", "KICKOFF_TEMPORAL_TLS_CERT"),
    ],
)
def test_a_certificate_without_its_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, pems: dict[str, Path], given: str, missing: str
) -> None:
    """Only one of cert and key: a validation error naming the one set and the one missing."""
    monkeypatch.setenv(given, str(pems["cert"]))
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert f"{given} is set but {missing} is not" in str(refused.value)


def test_an_unreadable_file_names_its_setting(tmp_path: Path, pems: dict[str, Path]) -> None:
    """A TLS path that does not exist fails with the setting's name and the path, before connecting."""
    settings = Settings(temporal_tls_cert=pems["cert"], temporal_tls_key=tmp_path / "gone.pem")
    with pytest.raises(ValueError, match=r"KICKOFF_TEMPORAL_TLS_KEY: cannot read .*gone\.pem"):
        connect_args(settings)


def test_a_file_that_is_not_pem_names_its_setting(tmp_path: Path) -> None:
    """A CA file without a PEM block (DER, or the wrong file) is refused, naming the setting."""
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x01\x0a")
    with pytest.raises(ValueError, match=r"KICKOFF_TEMPORAL_TLS_CA: .*not a PEM file"):
        connect_args(Settings(temporal_tls_ca=der))


async def test_a_local_dev_server_without_tls_still_connects(dev_server_address: str) -> None:
    """With no TLS settings, connect() reaches the plaintext dev server and it answers."""
    client = await connect(dev_server_address)
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.server_version
    assert client.namespace == "default"


async def test_an_api_key_makes_connect_use_tls(
    monkeypatch: pytest.MonkeyPatch, dev_server_address: str
) -> None:
    """connect() really passes the settings on: with an API key it speaks TLS, which the
    plaintext dev server cannot answer."""
    monkeypatch.setenv("KICKOFF_TEMPORAL_API_KEY", "cloud-key")
    with pytest.raises(RuntimeError, match="connect"):
        await connect(dev_server_address)
