"""``POST /pipelines/{pipeline_id}/simulate``: preview a pipeline for a contract and a script.

Nothing runs in Temporal and nothing is stored: the interpreter's pure core runs the pipeline
on a simulated clock (``kickoff.simulate``), so any role that may read may preview.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from kickoff.api.deps import ApiKey, Context, Reading
from kickoff.api.errors import StrictRoute
from kickoff.api.responses import AUTHENTICATED, invalid, not_found
from kickoff.api.schemas import ContractIn
from kickoff.service import NotFoundError
from kickoff.simulate import InvalidInputError, ScriptedAction, Simulation, UnknownPipelineError, preview
from kickoff.simulate.script import MAX_ACTIONS, When

router = APIRouter(
    prefix="/pipelines",
    tags=["pipelines"],
    dependencies=[ApiKey],
    responses=AUTHENTICATED,
    route_class=StrictRoute,
)


class SimulationIn(BaseModel):
    """A preview's input: the contract as ``POST /contracts`` takes it (its ``pipeline`` is the
    path's), when it arrives, what staff do when, and how far to look."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # Validated as ``ContractIn`` by the route; the schema names the Contract of POST /contracts
    # (with this deployment's pipelines), which ``create_app`` adds to the components.
    contract: Annotated[
        dict[str, Any], WithJsonSchema({"allOf": [{"$ref": "#/components/schemas/Contract"}]})
    ]
    start: When | None = Field(
        default=None,
        alias="from",
        description="When the contract arrives (a date: 09:00 local time); default: its signed_at",
    )
    events: list[ScriptedAction] = Field(default_factory=list, max_length=MAX_ACTIONS)
    """The script: each action at its moment, in any order (equal moments keep their order)."""
    until: When | None = Field(
        default=None,
        description="The preview's end (a date includes that day); default: 120 days after the start "
        "or the last action",
    )


def _problems(refused: InvalidInputError) -> list[dict[str, Any]]:
    return [{"type": "value_error", "loc": ("body", *p.loc), "msg": p.msg} for p in refused.problems]


@router.post(
    "/{pipeline_id}/simulate",
    response_model=Simulation,
    responses={
        **not_found("No such pipeline (the known ones are listed)"),
        **invalid(
            "The contract, an action or a date is wrong: an unknown module, event or checklist "
            "item, a payload that does not fit the event, an action outside the preview"
        ),
    },
)
def simulate(
    pipeline_id: str, body: SimulationIn, response: Response, context: Context, who: Reading
) -> Simulation:
    """Preview what the pipeline does for a contract, and when: every stage change, task, mail
    and step in the pipeline's local time, and what each scripted action changes or why the
    run refuses it. Nothing is started or stored."""
    # A plain function: FastAPI runs it in its thread pool, so a long preview never stalls the loop.
    # The plan repeats the contract's main user (a mail's recipient): no cache keeps it, nor does
    # the Idempotency-Key middleware (a preview changes nothing, so a retry simply runs again).
    response.headers["Cache-Control"] = "no-store"
    try:
        ContractIn.model_validate(body.contract)  # the bounds of POST /contracts
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [{**e, "loc": ("body", "contract", *e["loc"])} for e in errors]
        ) from None
    try:
        return preview(
            context.catalog,
            pipeline_id,
            body.contract,
            start=body.start,
            script=body.events,
            until=body.until,
        )
    except UnknownPipelineError as unknown:
        raise NotFoundError(str(unknown)) from None
    except InvalidInputError as refused:
        raise RequestValidationError(_problems(refused)) from None
