"""Kickoff's own metrics, for Prometheus.

The API's live in one prometheus_client registry per app: tests build several
apps in one process, and the global registry would refuse the second app's
metric names. The worker's are counters on Temporal's metric meter, which the
SDK exports next to its own metrics on the worker's Prometheus endpoint
(``run_worker``); the API's ``GET /metrics`` appends that endpoint's text.

Labels hold ids, pipelines, stages, routes and error kinds; never recipients.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from temporalio import activity

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from kickoff.domain import SendMailInput

UNMATCHED_ROUTE = "unmatched"
"""The route label of requests no route matched: raw paths would make one series per typo."""


class ApiMetrics:
    """The API's metrics and the registry they are exposed from."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kickoff_http_requests",
            "HTTP requests answered, per route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kickoff_http_request_duration_seconds",
            "Time to answer an HTTP request, per route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.onboardings_started = Counter(
            "kickoff_onboardings_started",
            "Onboarding runs started from a newly received contract, per pipeline",
            ["pipeline"],
            registry=self.registry,
        )

    @classmethod
    def for_app(cls, app: Starlette) -> ApiMetrics:
        """The app's metrics, created on first use (the request middleware's first call)."""
        metrics: ApiMetrics | None = getattr(app.state, "kickoff_metrics", None)
        if metrics is None:
            metrics = cls()
            app.state.kickoff_metrics = metrics
        return metrics

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = {"method": method, "route": route, "status": str(status)}
        self.requests.labels(**labels).inc()
        self.latency.labels(**labels).observe(seconds)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def record_onboarding_started(app: Starlette, pipeline: str) -> None:
    """Count a contract that started a new onboarding run (not a repeated contract)."""
    ApiMetrics.for_app(app).onboardings_started.labels(pipeline=pipeline).inc()


def route_template(scope: Mapping[str, Any]) -> str | None:
    """The matched route's path template (``/onboardings/{onboarding_id}``), if any.

    Starlette stores the route in the scope while routing; the middleware reads
    it after ``call_next``, once the router has run.
    """
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def path_onboarding_id(scope: Mapping[str, Any]) -> str | None:
    """The ``{onboarding_id}`` path parameter of the matched route, if it has one."""
    params = scope.get("path_params") or {}
    value = params.get("onboarding_id")
    return value if isinstance(value, str) else None


def worker_up_exposition(up: bool) -> bytes:
    """``kickoff_worker_metrics_up`` alone: 1 when the worker's metrics could be fetched."""
    registry = CollectorRegistry()
    Gauge(
        "kickoff_worker_metrics_up",
        "1 when the API could fetch the worker's metrics for this scrape, else 0",
        registry=registry,
    ).set(1 if up else 0)
    return generate_latest(registry)


# --------------------------------------------------------------------------
# Worker side: counters on Temporal's metric meter, called from activities.

MAILS_SENT = "kickoff_mails_sent"
MAILS_ALREADY_SENT = "kickoff_mails_already_sent"
MAILS_FAILED = "kickoff_mails_failed"

_MAIL_COUNTERS = {
    MAILS_SENT: "Mails handed to SMTP",
    MAILS_ALREADY_SENT: "Mail attempts that sent nothing because an earlier attempt had sent the Message-ID",
    MAILS_FAILED: "Mail attempts that failed (each attempt of a retried mail counts), per error kind",
}


def count_mail(name: str, input: SendMailInput, **attributes: str) -> None:
    """Add one to a mail counter, labelled with the stage the run was in (never the recipient).

    The activity's meter already adds namespace, task queue and activity type,
    and does nothing when the worker's runtime has no metrics configured.
    """
    counter = activity.metric_meter().create_counter(name, _MAIL_COUNTERS[name], "mails")
    counter.add(1, {"stage": _stage_of(input.context), **attributes})


def _stage_of(context: Mapping[str, object]) -> str:
    # The workflow puts {"stage": {"id": …, "label": …}} into every mail's template context.
    stage = context.get("stage")
    stage_id = stage.get("id") if isinstance(stage, Mapping) else None
    return stage_id if isinstance(stage_id, str) else "unknown"
