"""Staff tasks across onboardings."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from kickoff.api.deps import ApiKey, Service
from kickoff.api.schemas import OpenTask, TaskDone
from kickoff.domain import TaskSide
from kickoff.service import UnprocessableError, read_views

router = APIRouter(prefix="/tasks", tags=["tasks"], dependencies=[ApiKey])

BEHIND_HEADER = "X-Kickoff-Runs-Behind"
"""Set (to their number) when some runs' latest state has not reached the read model yet."""


def cursor_of(after: tuple[datetime, str]) -> str:
    """Where the next page starts, as an opaque token (the last task's due time and id)."""
    return base64.urlsafe_b64encode(f"{after[0].isoformat()}|{after[1]}".encode()).decode()


def _parse_cursor(token: str) -> tuple[datetime, str]:
    try:
        due, _, task = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        return datetime.fromisoformat(due), task
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise UnprocessableError("after is not a cursor from a Link header of this list") from None


@router.get(
    "",
    response_model=list[OpenTask],
    responses={422: {"description": "Unknown status or owner, a limit out of range, or a bad cursor"}},
)
async def list_tasks(
    request: Request,
    response: Response,
    service: Service,
    status: Literal["open"] = "open",
    owner_role: str | None = None,
    owner: TaskSide | None = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Tasks per page")] = 500,
    after: Annotated[str | None, Query(description="The cursor in the previous page's Link header")] = None,
) -> list[OpenTask]:
    """Open tasks across onboardings, soonest due first, a page at a time (the next page's URL
    is in the ``Link`` header, ``rel="next"``); ``owner=customer`` lists what customers still
    owe (to chase), ``owner=vendor`` what our own people must do. Read from Kickoff's read
    model; ``X-Kickoff-Runs-Behind`` says how many runs may not be reflected yet."""
    page = await service.open_tasks_page(owner_role, owner, limit, _parse_cursor(after) if after else None)
    if page.next_after is not None:
        following = request.url.include_query_params(after=cursor_of(page.next_after))
        response.headers["Link"] = f'<{following}>; rel="next"'
    behind = await read_views.runs_behind(service)
    if behind:
        response.headers[BEHIND_HEADER] = str(behind)
    return [
        OpenTask.model_validate(
            {
                **row.task.model_dump(),
                "onboarding_id": row.onboarding_id,
                "pipeline": row.pipeline,
                "stage": row.stage,
            }
        )
        for row in page.rows
    ]


@router.post(
    "/{task_id}/done",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {"description": "No such task"}, 409: {"description": "Already done or finished"}},
)
async def task_done(task_id: str, service: Service) -> TaskDone:
    """Mark a task done."""
    onboarding = await service.complete_task(task_id)
    return TaskDone(id=task_id, onboarding_id=onboarding)
