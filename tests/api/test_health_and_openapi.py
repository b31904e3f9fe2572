"""GET /healthz and the OpenAPI schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.api.conftest import Kickoff
from tests.support import catalog

PIPELINE_IDS = {"assist-se", "pakkepilot-no", "kundprocess-se", "wisenetwork-fi"}


async def test_healthz_reports_temporal_and_pipeline_versions(kickoff: Kickoff) -> None:
    """/healthz answers 200 with Temporal ok and the version of each of the four loaded pipelines."""
    response = await kickoff.http.get("/healthz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"status": "ok", "temporal": "ok", "pipelines": dict(catalog().versions)}
    versions = body["pipelines"]
    assert set(versions) == PIPELINE_IDS
    assert all(re.fullmatch(r"[0-9a-f]{12}", version) for version in versions.values()), versions
    assert len(set(versions.values())) == len(PIPELINE_IDS)  # distinct definitions, distinct hashes


ROUTES = {
    "/contracts": {"post"},
    "/onboardings": {"get"},
    "/onboardings/{onboarding_id}": {"get", "patch"},
    "/onboardings/{onboarding_id}/meeting-booked": {"post"},
    "/reports/funnel": {"get"},
    "/reports/stage-times": {"get"},
    "/reports/records": {"get"},
    "/reports/compliance": {"get"},
    "/metrics": {"get"},
    "/onboardings/{onboarding_id}/calls": {"post"},
    "/onboardings/{onboarding_id}/park": {"post"},
    "/onboardings/{onboarding_id}/resume": {"post"},
    "/onboardings/{onboarding_id}/restart": {"post"},
    "/onboardings/{onboarding_id}/kickoff-outcome": {"post"},
    "/onboardings/{onboarding_id}/events/{event}": {"post"},
    "/onboardings/{onboarding_id}/checklist/{item}": {"post"},
    "/onboardings/{onboarding_id}/personal-data": {"get", "delete"},
    "/tasks": {"get"},
    "/tasks/{task_id}/done": {"post"},
    "/pipelines": {"get"},
    "/pipelines/{pipeline_id}": {"get"},
    "/pipelines/{pipeline_id}/migrate": {"post"},
    "/pipelines/{pipeline_id}/simulate": {"post"},
    "/healthz": {"get"},
    # Staff identity (issue 12).
    "/me": {"get"},
    "/accounts": {"get", "post"},
    "/accounts/{account_id}": {"patch"},
    "/tokens": {"get", "post"},
    "/tokens/{token_id}": {"delete"},
    "/tasks/{task_id}/assign": {"post"},
    "/onboardings/{onboarding_id}/owner": {"put"},
    "/onboardings/{onboarding_id}/customer-link": {"post"},
    "/onboardings/{onboarding_id}/customer-link/revoke": {"post"},
    "/audit": {"get"},
}


async def test_openapi_lists_every_route(kickoff: Kickoff) -> None:
    """/openapi.json documents exactly the API's routes with their methods."""
    schema = (await kickoff.http.get("/openapi.json")).json()
    documented = {
        path: set(ops) & {"get", "post", "put", "patch", "delete"} for path, ops in schema["paths"].items()
    }
    assert documented == ROUTES


async def test_openapi_documents_the_contract_body_and_answers(kickoff: Kickoff) -> None:
    """POST /contracts documents its JSON body (fields, required ones, licenses >= 1) and its status codes."""
    document = (await kickoff.http.get("/openapi.json")).json()
    operation = document["paths"]["/contracts"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    reference = body["content"]["application/json"]["schema"]["$ref"]
    assert reference == "#/components/schemas/Contract"
    contract = document["components"]["schemas"]["Contract"]
    assert set(contract["properties"]) == {
        "contract_id",
        "pipeline",
        "signed_at",
        "delivery_start",
        "customer",
        "main_user",
        "licenses",
        "language",
        "modules",
        "dates",
    }
    assert set(contract["required"]) == {
        "contract_id",
        "signed_at",
        "delivery_start",
        "customer",
        "main_user",
        "licenses",
    }
    assert contract["properties"]["pipeline"]["default"] == "assist-se"
    assert contract["properties"]["licenses"]["minimum"] == 1
    assert {"200", "202", "401", "409", "422"} <= set(operation["responses"])


async def test_openapi_declares_bearer_security_on_protected_routes(kickoff: Kickoff) -> None:
    """Protected operations declare the HTTP bearer scheme; /healthz, /metrics (scraped by
    Prometheus, no personal data) and /contracts (HMAC-signed) do not."""
    schema = (await kickoff.http.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert [s["scheme"].lower() for s in schemes.values()] == ["bearer"]
    for path, methods in ROUTES.items():
        for method in methods:
            secured = bool(schema["paths"][path][method].get("security"))
            assert secured == (path not in ("/healthz", "/metrics", "/contracts")), (method, path)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolves(document: dict[str, Any], ref: str) -> bool:
    if not ref.startswith("#/"):
        return False
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


async def test_openapi_references_all_resolve(kickoff: Kickoff) -> None:
    """Every $ref in /openapi.json, the contract's customer and main_user included, resolves in it."""
    schema = (await kickoff.http.get("/openapi.json")).json()
    dangling = sorted({ref for ref in _refs(schema) if not _resolves(schema, ref)})
    assert dangling == []
