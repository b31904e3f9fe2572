"""The FastAPI application: wiring only (routes, errors, lifespan)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response, status
from fastapi.openapi.utils import get_openapi
from temporalio.client import Client

from kickoff.api.body_limit import BodyLimitMiddleware
from kickoff.api.deps import AppContext
from kickoff.api.errors import install_error_handlers
from kickoff.api.idempotency import install_idempotency
from kickoff.api.responses import complete_error_answers, document_catalog
from kickoff.api.routes import (
    codec,
    contracts,
    customer_links,
    health,
    metrics,
    migrate,
    onboardings,
    pipelines,
    privacy,
    reports,
    simulate,
    staff,
    tasks,
)
from kickoff.board import install_board
from kickoff.customer import routes as customer_routes
from kickoff.db import Database
from kickoff.identity.throttle import FailureThrottle
from kickoff.logging_setup import configure_logging
from kickoff.metrics import UNMATCHED_ROUTE, ApiMetrics, path_onboarding_id, route_template
from kickoff.pipelines import load_pipelines
from kickoff.service import OnboardingService
from kickoff.settings import Settings, get_settings

log = structlog.get_logger(__name__)
HSTS = "max-age=31536000; includeSubDomains"
ONBOARDING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,80}$")
"""What an onboarding id looks like (a pipeline's prefix and a contract id)."""


def create_app(client: Client | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the API; with ``client=None`` it connects to Temporal at start-up.

    Settings are read and ``pipelines.yaml`` is validated here, so a broken
    file stops the API before it accepts a single request.
    """
    settings = settings or get_settings()
    catalog = load_pipelines(settings.pipelines_file)
    # Kickoff's own database; `kickoff-admin migrate` brings it to the newest schema first.
    database = Database(settings.database_url)
    context = AppContext(
        settings=settings,
        catalog=catalog,
        database=database,
        client=client,
        throttle=FailureThrottle(settings.auth_failures_per_minute),
    )
    if client is not None:
        context.service = OnboardingService(
            client,
            catalog,
            settings.task_queue,
            database=database,
            report_cache_seconds=settings.report_cache_seconds,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if context.service is None:
            from kickoff.temporal import connect, ensure_search_attributes

            context.client = await connect(settings.temporal_address)
            # Idempotent; the API may start before the worker on a fresh cluster.
            await ensure_search_attributes(context.client)
            context.service = OnboardingService(
                context.client,
                catalog,
                settings.task_queue,
                database=database,
                report_cache_seconds=settings.report_cache_seconds,
            )
        log.info("api.started", pipelines=dict(catalog.versions))
        try:
            yield
        finally:
            await database.dispose()

    app = FastAPI(
        title="Kickoff",
        version="0.1.0",
        summary="Durable onboarding runs for signed contracts",
        lifespan=lifespan,
        # KICKOFF_DOCS_ENABLED=false (production) keeps the schema and its pages internal.
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.kickoff = context
    for router in (
        contracts.router,
        onboardings.router,
        privacy.router,
        tasks.router,
        pipelines.router,
        simulate.router,
        migrate.router,
        reports.router,
        health.router,
        metrics.router,
        codec.router,
        staff.router,
        customer_links.router,
    ):
        app.include_router(router)
    install_board(app, settings)
    app.include_router(customer_routes.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(contracts.contract_schemas())
            document_catalog(schema, catalog)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    install_error_handlers(app)
    install_idempotency(app)
    documented = app.openapi

    def completed_openapi() -> dict[str, Any]:
        # Last, after the Idempotency-Key middleware has listed its header and answers.
        schema = documented()
        complete_error_answers(schema)
        return schema

    app.openapi = completed_openapi  # type: ignore[method-assign]
    # Added after the Idempotency-Key middleware, so it runs before it (and before the error
    # handlers, the routes and the board): nothing reads a body past KICKOFF_MAX_BODY_BYTES, or
    # past CONTRACT_MAX_BYTES on POST /contracts, whose signature check reads it whole. Only the
    # request log below is outside it: it reads no body, and logs and counts the 413s.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={"/contracts": contracts.CONTRACT_MAX_BYTES},
    )

    @app.middleware("http")
    async def bind_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # One request, one log context; ids only, never bodies (they hold personal data).
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=uuid.uuid4().hex[:12])
        started = time.perf_counter()
        # An exception escaping call_next becomes a 500 in Starlette's outer error middleware.
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
        try:
            response = await call_next(request)
            status_code = response.status_code
            if request.url.scheme == "https":
                # Served over HTTPS (uvicorn --proxy-headers behind a TLS proxy): browsers
                # must never come back over plain HTTP, where the session cookie is not sent.
                response.headers.setdefault("Strict-Transport-Security", HSTS)
            return response
        finally:
            seconds = time.perf_counter() - started
            # Routing has run by now, so the scope holds the matched route and its path parameters.
            route = route_template(request.scope)
            ApiMetrics.for_app(app).observe_request(
                request.method, route or UNMATCHED_ROUTE, status_code, seconds
            )
            onboarding_id = path_onboarding_id(request.scope)
            # A path is typed by the caller: only a well-formed id goes into the log context,
            # and an unmatched path is not logged at all (it could hold anything).
            if onboarding_id is not None and ONBOARDING_ID.match(onboarding_id):
                structlog.contextvars.bind_contextvars(onboarding_id=onboarding_id)
            log.info(
                "http.request",
                method=request.method,
                route=route or UNMATCHED_ROUTE,
                status=status_code,
                ms=round(seconds * 1000, 1),
            )

    return app


def app_from_env() -> FastAPI:
    """``uvicorn --factory kickoff.api:app_from_env``: settings and logging from the environment."""
    settings = get_settings()
    configure_logging(json=settings.log_json)
    return create_app(settings=settings)
