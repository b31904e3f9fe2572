"""docker-compose.yml (production) cannot be run here (no Docker engine): check what can be read."""

from __future__ import annotations

import yaml

from kickoff.settings import Settings
from tests.support import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SECRETS = ("KICKOFF_WEBHOOK_SECRET", "KICKOFF_API_KEYS", "KICKOFF_SESSION_SECRET")


def test_api_and_worker_require_every_secret_instead_of_the_dev_defaults() -> None:
    for service in ("api", "worker"):
        environment = COMPOSE["services"][service]["environment"]
        for name in SECRETS:
            assert environment[name].startswith(f"${{{name}:?"), (service, name)


def test_every_compose_setting_is_one_the_app_reads() -> None:
    fields = {f"KICKOFF_{name.upper()}" for name in Settings.model_fields}
    for service in ("api", "worker"):
        unknown = {
            k for k in COMPOSE["services"][service]["environment"] if k.startswith("KICKOFF_")
        } - fields
        assert not unknown, (service, unknown)


def test_the_api_reads_the_metrics_the_worker_serves() -> None:
    worker = COMPOSE["services"]["worker"]["environment"]
    api = COMPOSE["services"]["api"]["environment"]
    port = worker["KICKOFF_WORKER_METRICS_ADDRESS"].rsplit(":", 1)[1]
    assert api["KICKOFF_WORKER_METRICS_URL"] == f"http://worker:{port}/metrics"
