"""The FastAPI application: wiring only (routes, errors, lifespan)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response, status
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from temporalio.client import Client
from temporalio.service import RPCError

from kickoff.api.deps import AppContext
from kickoff.api.routes import contracts, health, metrics, onboardings, pipelines, reports, tasks
from kickoff.board import error_page, install_board, is_board
from kickoff.db import Database
from kickoff.logging_setup import configure_logging
from kickoff.metrics import UNMATCHED_ROUTE, ApiMetrics, path_onboarding_id, route_template
from kickoff.pipelines import load_pipelines
from kickoff.service import (
    ConflictError,
    NotFoundError,
    OnboardingService,
    UnavailableError,
    UnprocessableError,
)
from kickoff.settings import Settings, get_settings

log = structlog.get_logger(__name__)


def create_app(client: Client | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the API; with ``client=None`` it connects to Temporal at start-up.

    Settings are read and ``pipelines.yaml`` is validated here, so a broken
    file stops the API before it accepts a single request.
    """
    settings = settings or get_settings()
    catalog = load_pipelines(settings.pipelines_file)
    # Kickoff's own database; `kickoff-admin migrate` brings it to the newest schema first.
    database = Database(settings.database_url)
    context = AppContext(settings=settings, catalog=catalog, database=database, client=client)
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
    )
    app.state.kickoff = context
    for router in (
        contracts.router,
        onboardings.router,
        tasks.router,
        pipelines.router,
        reports.router,
        health.router,
        metrics.router,
    ):
        app.include_router(router)
    install_board(app, settings)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(contracts.contract_schemas())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def error(code: int) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(request: Request, exc: Exception) -> Response:
            return JSONResponse({"detail": str(exc)}, status_code=code)

        return handler

    app.add_exception_handler(NotFoundError, error(status.HTTP_404_NOT_FOUND))
    app.add_exception_handler(ConflictError, error(status.HTTP_409_CONFLICT))
    app.add_exception_handler(UnprocessableError, error(status.HTTP_422_UNPROCESSABLE_CONTENT))
    app.add_exception_handler(UnavailableError, error(status.HTTP_503_SERVICE_UNAVAILABLE))

    async def temporal_unreachable(request: Request, exc: Exception) -> Response:
        # Temporal down, restarting or out of reach: 503 saying so, not a bare 500.
        assert isinstance(exc, RPCError)
        log.warning("temporal.unreachable", status=exc.status.name if exc.status else None)
        message = "Temporal did not answer, so nothing was read or changed: try again shortly."
        if is_board(request):
            return error_page(request, "Temporal unavailable", status.HTTP_503_SERVICE_UNAVAILABLE, message)
        return JSONResponse({"detail": message}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)

    app.add_exception_handler(RPCError, temporal_unreachable)

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
            return response
        finally:
            seconds = time.perf_counter() - started
            # Routing has run by now, so the scope holds the matched route and its path parameters.
            route = route_template(request.scope)
            ApiMetrics.for_app(app).observe_request(
                request.method, route or UNMATCHED_ROUTE, status_code, seconds
            )
            onboarding_id = path_onboarding_id(request.scope)
            if onboarding_id is not None:
                structlog.contextvars.bind_contextvars(onboarding_id=onboarding_id)
            log.info(
                "http.request",
                method=request.method,
                route=route or request.url.path,
                status=status_code,
                ms=round(seconds * 1000, 1),
            )

    return app


def app_from_env() -> FastAPI:
    """``uvicorn --factory kickoff.api:app_from_env``: settings and logging from the environment."""
    settings = get_settings()
    configure_logging(json=settings.log_json)
    return create_app(settings=settings)
