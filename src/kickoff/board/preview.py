"""The board's Preview page: what a pipeline does for a contract, drawn as a timeline.

``GET /board/preview?pipeline=`` shows the form (the contract's customer, language, licences,
modules and dates, a small YAML script of events); posting it runs ``kickoff.simulate.preview``
and draws the plan beside the form, server-side (an SVG, no script: the CSP allows none).
Anyone signed in may preview; nothing is started or stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from fastapi import APIRouter, Request, Response, status
from starlette.datastructures import FormData

from kickoff.board.auth import Session, SignedIn, SignedInForm
from kickoff.board.pages import error_page, page
from kickoff.context import Context
from kickoff.pipelines import Pipeline, PipelineCatalog
from kickoff.schedule import zone
from kickoff.service import NotFoundError
from kickoff.simulate import InvalidInputError, ScriptError, Simulation, SimulationError, load_script, preview
from kickoff.simulate.script import parse_when
from kickoff.simulate.timeline import timeline_svg

router = APIRouter(include_in_schema=False)

MAIN_USER = {"name": "Main user", "email": "main.user@customer.example"}
"""The preview's main user: the recipient the plan names, never mailed."""
EXAMPLE_EVENTS = "- {at: 2027-05-06T10:00, event: call_logged, payload: {outcome: answered}}"
MAX_SCRIPT = 20_000
"""Characters of YAML the form takes (a script of a few hundred lines)."""


@dataclass
class PreviewForm:
    """What the form holds (refilled as typed after a refusal)."""

    pipeline: str
    customer: str = "Exempel AB"
    language: str = ""
    licenses: str = "10"
    modules: list[str] = field(default_factory=list)
    signed: str = ""
    delivery: str = ""
    dates: dict[str, str] = field(default_factory=dict)
    events: str = ""
    until: str = ""

    @classmethod
    def default(cls, pipeline: Pipeline, now: datetime) -> PreviewForm:
        """Signed this morning, delivery in a week, the pipeline's default language and modules."""
        today = now.astimezone(zone(pipeline.timezone)).date()
        return cls(
            pipeline=pipeline.id,
            language=pipeline.default_language,
            modules=pipeline.modules_for(None),
            signed=f"{today.isoformat()}T09:00",
            delivery=(today + timedelta(days=7)).isoformat(),
        )

    @classmethod
    def posted(cls, pipeline: Pipeline, form: FormData) -> PreviewForm:
        def text(name: str) -> str:
            value = form.get(name)
            return value.strip() if isinstance(value, str) else ""

        return cls(
            pipeline=pipeline.id,
            customer=text("customer"),
            language=text("language"),
            licenses=text("licenses"),
            modules=[m for m in form.getlist("modules") if isinstance(m, str) and m in pipeline.modules],
            signed=text("signed"),
            delivery=text("delivery"),
            dates={name: text(f"date-{name}") for name in pipeline.contract_dates},
            events=text("events")[:MAX_SCRIPT],
            until=text("until"),
        )

    def contract(self, pipeline: Pipeline) -> dict[str, Any]:
        """The contract JSON the form describes (its signing moment is the preview's start)."""
        body: dict[str, Any] = {
            "contract_id": "PREVIEW",
            "customer": {"name": self.customer},
            "main_user": MAIN_USER,
            "licenses": self.licenses,
            "delivery_start": self.delivery,
            "language": self.language or None,
            "dates": {name: day for name, day in self.dates.items() if day},
        }
        if pipeline.modules:
            body["modules"] = self.modules
        return body


@dataclass(frozen=True)
class Day:
    """The plan's entries of one local day, for the list beside the timeline."""

    label: str
    entries: list[dict[str, str]]


def days(sim: Simulation) -> list[Day]:
    tz = zone(sim.timezone)
    grouped = groupby(sim.entries, key=lambda entry: entry.at.astimezone(tz).strftime("%a %Y-%m-%d"))
    return [
        Day(
            label,
            [
                {
                    "time": e.at.astimezone(tz).strftime("%H:%M"),
                    "kind": e.kind,
                    "text": e.text,
                    "cause": e.cause,
                }
                for e in entries
            ],
        )
        for label, entries in grouped
    ]


def _chosen(catalog: PipelineCatalog, pipeline_id: str | None) -> Pipeline:
    pipeline = catalog.get(pipeline_id) if pipeline_id else next(iter(catalog.pipelines.values()))
    if pipeline is None:
        raise NotFoundError(f"no pipeline {pipeline_id!r} (pipelines: {', '.join(catalog.pipelines)})")
    return pipeline


def _render(
    request: Request,
    context: Context,
    session: Session,
    pipeline: Pipeline,
    form: PreviewForm,
    sim: Simulation | None = None,
    problems: list[str] | None = None,
) -> Response:
    return page(
        request,
        "preview.html",
        session,
        {
            "pipelines": list(context.catalog.pipelines.values()),
            "pipeline": pipeline,
            "form": form,
            "sim": sim,
            "svg": timeline_svg(sim) if sim else "",
            "days": days(sim) if sim else [],
            "problems": problems or [],
            "example": EXAMPLE_EVENTS,
        },
        status.HTTP_422_UNPROCESSABLE_CONTENT if problems else status.HTTP_200_OK,
        error="The preview could not run: see the problems below the form." if problems else None,
    )


@router.get("/board/preview")
async def preview_form(
    request: Request, context: Context, session: SignedIn, pipeline: str | None = None
) -> Response:
    """The form for a pipeline (the first one by default), with a contract signed this morning."""
    try:
        chosen = _chosen(context.catalog, pipeline)
    except NotFoundError as err:
        return error_page(request, session, err, "Preview")
    return _render(request, context, session, chosen, PreviewForm.default(chosen, datetime.now(UTC)))


@router.post("/board/preview")
async def preview_plan(request: Request, context: Context, session: SignedInForm) -> Response:
    """The posted contract and script through the simulator: the plan, or what is wrong."""
    posted = await request.form()
    name = posted.get("pipeline")
    try:
        chosen = _chosen(context.catalog, name if isinstance(name, str) else None)
    except NotFoundError as err:
        return error_page(request, session, err, "Preview")
    form = PreviewForm.posted(chosen, posted)
    problems: list[str] = []
    try:
        start = parse_when(form.signed)
    except ValueError as exc:
        problems.append(f"Signed: {exc}")
    try:
        until = parse_when(form.until) if form.until else None
    except ValueError as exc:
        problems.append(f"Until: {exc}")
    try:
        script = load_script(form.events)
    except ScriptError as exc:
        problems.append(f"Events: {exc}")
    if problems:
        return _render(request, context, session, chosen, form, problems=problems)
    try:
        sim = preview(
            context.catalog, chosen.id, form.contract(chosen), start=start, script=script, until=until
        )
    except InvalidInputError as refused:
        return _render(request, context, session, chosen, form, problems=[str(p) for p in refused.problems])
    except SimulationError as err:
        return _render(request, context, session, chosen, form, problems=[str(err)])
    return _render(request, context, session, chosen, form, sim)
