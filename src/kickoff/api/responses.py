"""The error answers the routes document in OpenAPI, in one place.

A route lists what it can answer besides its success as ``responses={**AUTHENTICATED, ...}``;
every error has a body: ``ErrorMessage`` (``{"detail": "<reason>"}``) or, for 422,
``ValidationErrors`` (``{"detail": [{type, loc, msg}]}``). The schema is checked against the
running API by ``tests/api/test_schemathesis.py``: an answer a route does not document fails it.
"""

from __future__ import annotations

from typing import Any

from kickoff.api.schemas import ErrorMessage, ValidationErrors
from kickoff.pipelines import PipelineCatalog

Responses = dict[int | str, dict[str, Any]]


def error(description: str) -> dict[str, Any]:
    """An error answer with a reason (``{"detail": "..."}``)."""
    return {"model": ErrorMessage, "description": description}


AUTHENTICATED: Responses = {
    401: error("Missing or unknown credentials: send Authorization: Bearer <key from KICKOFF_API_KEYS>"),
    403: error("The credentials are valid, but may not do this"),
    429: {
        **error("Too many failed authentications from this client: wait, then try again"),
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before authenticating again",
                "schema": {"type": "integer", "minimum": 0},
            }
        },
    },
}
"""Every route behind ``Authorization: Bearer``."""

SIGNED: Responses = {401: error("Missing, malformed, wrong or stale X-Kickoff-Signature")}
"""``POST /contracts``: authenticated by its HMAC signature instead."""

UNAVAILABLE: Responses = {
    503: error("Temporal or Kickoff's database did not answer in time: try again shortly"),
}
"""Every route that reads or changes onboardings (Temporal, the read model, the database)."""


def too_large(limit: str = "KICKOFF_MAX_BODY_BYTES (1 MiB)") -> Responses:
    """413: the body is larger than the route reads (refused before anything reads it)."""
    return {413: error(f"The body is larger than {limit}: refused before it was read")}


def not_found(description: str) -> Responses:
    return {404: error(description)}


def conflict(description: str) -> Responses:
    return {409: error(description)}


def invalid(description: str = "A parameter or the body is invalid: each problem named") -> Responses:
    """422, with every problem in FastAPI's ``detail`` list."""
    return {422: {"model": ValidationErrors, "description": description}}


CATALOG_PARAMETERS = ("pipeline", "stage")
"""Query parameters whose values are this deployment's pipelines and stages."""


def document_catalog(schema: dict[str, Any], catalog: PipelineCatalog) -> None:
    """Name this deployment's pipelines and stages in the schema, where the API refuses any other
    (``?pipeline=``, ``?stage=``, a contract's ``pipeline``): ``pipelines.yaml`` is read at start-up,
    so the schema served is the one the API checks against."""
    known = {
        "pipeline": sorted(catalog.pipelines),
        "stage": sorted({stage.id for pipeline in catalog.pipelines.values() for stage in pipeline.stages}),
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter.get("name") in known:
                    # One of the known ids, or absent: a query parameter cannot be null.
                    described = {
                        k: v for k, v in parameter.get("schema", {}).items() if k in ("title", "description")
                    }
                    parameter["schema"] = {**described, "type": "string", "enum": known[parameter["name"]]}
    contract = schema.get("components", {}).get("schemas", {}).get("Contract", {})
    if "pipeline" in contract.get("properties", {}):
        contract["properties"]["pipeline"]["enum"] = known["pipeline"]


def complete_error_answers(schema: dict[str, Any]) -> None:
    """What an operation's declarations imply, in the schema where a route did not say it: 401, 403
    and 429 behind Bearer, 413 with a body, and a body schema on every error answer (a route, or
    the Idempotency-Key middleware, may list a status with a description only; every 422 is
    ``ValidationErrors``)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorMessage, ValidationErrors):
        for name, definition in _component_schemas(model).items():
            components.setdefault(name, definition)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            implied: Responses = {}
            if any("HTTPBearer" in requirement for requirement in operation.get("security", [])):
                implied.update(AUTHENTICATED)
            if "requestBody" in operation:
                implied.update(too_large())
            for code, answer in implied.items():
                responses.setdefault(str(code), _openapi_answer(answer))
            for code, answer in responses.items():
                # FastAPI's own 422 (HTTPValidationError) lists `input`, which Kickoff never sends.
                if code[0] in "45" and ("content" not in answer or code == "422"):
                    model = ValidationErrors if code == "422" else ErrorMessage
                    answer["content"] = {"application/json": {"schema": {"$ref": _ref(model.__name__)}}}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def _openapi_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """A ``responses=`` entry as it reads in the schema."""
    model = answer["model"]
    documented = {k: v for k, v in answer.items() if k != "model"}
    return {**documented, "content": {"application/json": {"schema": {"$ref": _ref(model.__name__)}}}}


def _ref(name: str) -> str:
    return f"#/components/schemas/{name}"


def _component_schemas(model: type[ErrorMessage] | type[ValidationErrors]) -> dict[str, Any]:
    definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
    nested: dict[str, Any] = definition.pop("$defs", {})
    return {model.__name__: definition, **nested}
