"""Staff tasks across onboardings."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from kickoff.api.deps import Acting, ApiKey, Context, Reading, Service
from kickoff.api.errors import StrictRoute
from kickoff.api.identity_schemas import TaskAssign, TaskAssigned
from kickoff.api.responses import AUTHENTICATED, UNAVAILABLE, conflict, invalid, not_found
from kickoff.api.routes.staff import is_me, person
from kickoff.api.schemas import OpenTask, TaskDone
from kickoff.domain import TaskSide, onboarding_of_task
from kickoff.identity import AccountStore
from kickoff.identity.assignments import AssignmentStore
from kickoff.identity.audit import audit
from kickoff.service import ConflictError, NotFoundError, UnprocessableError, read_views

router = APIRouter(
    prefix="/tasks",
    tags=["tasks"],
    dependencies=[ApiKey],
    responses={**AUTHENTICATED, **UNAVAILABLE},
    route_class=StrictRoute,
)

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
    responses=invalid("Unknown status or owner, a limit out of range, or a bad cursor"),
)
async def list_tasks(
    request: Request,
    response: Response,
    service: Service,
    context: Context,
    who: Reading,
    status: Literal["open"] = "open",
    owner_role: str | None = None,
    owner: TaskSide | None = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Tasks per page")] = 500,
    after: Annotated[str | None, Query(description="The cursor in the previous page's Link header")] = None,
    assignee: Annotated[
        str | None,
        Query(max_length=320, description='"me" or an e-mail address: only tasks given to that person'),
    ] = None,
) -> list[OpenTask]:
    """Open tasks across onboardings, soonest due first, a page at a time (the next page's URL
    is in the ``Link`` header, ``rel="next"``); ``owner=customer`` lists what customers still
    owe (to chase), ``owner=vendor`` what our own people must do. Read from Kickoff's read
    model; ``X-Kickoff-Runs-Behind`` says how many runs may not be reflected yet."""
    chosen = await _assignee(context, who, assignee)
    cursor = _parse_cursor(after) if after else None
    page = await service.open_tasks_page(owner_role, owner, limit, cursor, chosen)
    emails = {a.id: a.email for a in await AccountStore(context.database).all()} if page.rows else {}
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
                "assignee": emails.get(row.assignee) if row.assignee else None,
            }
        )
        for row in page.rows
    ]


@router.post(
    "/{task_id}/done",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**not_found("No such task"), **conflict("Already done or finished"), **invalid()},
)
async def task_done(task_id: str, service: Service, who: Acting) -> TaskDone:
    """Mark a task done."""
    onboarding = await service.complete_task(task_id, by=who.by() if who.account else None)
    await audit(service.database, who, "task_done", onboarding, task=task_id)
    return TaskDone(id=task_id, onboarding_id=onboarding)


@router.post(
    "/{task_id}/assign",
    responses={
        404: {"description": "No such task"},
        409: {"description": "The task is done already"},
        422: {"description": "No account that may take work has that address"},
    },
)
async def assign_task(
    task_id: str, body: TaskAssign, service: Service, context: Context, who: Acting
) -> TaskAssigned:
    """Give a task to a person ("me", an e-mail address), or to no one (null)."""
    oid = onboarding_of_task(task_id)
    if oid is None:
        raise NotFoundError(f"no task {task_id}")
    state = await service.state(oid)
    task = next((t for t in state.tasks if t.id == task_id), None)
    if task is None:
        raise NotFoundError(f"no task {task_id}")
    if task.done_at is not None:
        raise ConflictError(f"task {task_id} is done already")
    account = await person(context, who, body.user)
    await AssignmentStore(context.database).assign_task(task_id, oid, account)
    await audit(
        context.database, who, "task_assigned", oid, task=task_id, assignee=account.id if account else None
    )
    return TaskAssigned(id=task_id, onboarding_id=oid, assignee=account.email if account else None)


async def _assignee(context: Context, who: Reading, assignee: str | None) -> str | None:
    if assignee is None:
        return None
    if is_me(who, assignee, "assignee"):
        assert who.account is not None
        return who.account.id
    found = await AccountStore(context.database).by_email(assignee)
    # An unknown address has no tasks: an empty page, not an error that tells who has an account.
    return found.id if found is not None else "-"
