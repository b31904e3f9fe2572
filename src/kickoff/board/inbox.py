"""The board's task pages: the inbox, "My tasks", marking a task done and assigning it."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response, status

from kickoff.board import views
from kickoff.board.auth import Session, SignedIn, Staff
from kickoff.board.pages import SERVICE_ERRORS, error_page, page, redirect_with_flash, status_of
from kickoff.board.routes import OptionalForm, _now, _onboarding_page, _onboarding_url
from kickoff.context import Context, Service
from kickoff.domain import onboarding_of_task
from kickoff.identity import AccountStore
from kickoff.identity.assignments import AssignmentStore
from kickoff.identity.audit import audit
from kickoff.service import OnboardingService

router = APIRouter(include_in_schema=False)


@router.get("/board/tasks")
async def inbox(
    request: Request,
    context: Context,
    service: Service,
    session: SignedIn,
    owner_role: str | None = None,
    mine: bool = False,
) -> Response:
    """Every open task, or (``mine``) the signed-in person's: "My tasks"."""
    return await _inbox_page(request, context, service, session, owner_role or None, mine=mine)


async def _inbox_page(
    request: Request,
    context: Context,
    service: OnboardingService,
    session: Session,
    owner_role: str | None,
    refused: Exception | None = None,
    mine: bool = False,
) -> Response:
    try:
        tasks = await service.open_tasks(owner_role, session.account.id if mine else None)
        people = await AccountStore(context.database).all()
    except SERVICE_ERRORS as err:
        return error_page(request, session, err, "Task inbox")
    now = _now()
    rows = views.inbox_rows(tasks, context.catalog.pipelines, now)
    code = status_of(refused, status.HTTP_200_OK) if refused else status.HTTP_200_OK
    return page(
        request,
        "tasks.html",
        session,
        {
            "tasks": rows,
            "mine": mine,
            "people": {person.id: person.label for person in people},
            "assignable": [p for p in people if p.takes_work],
            "owner_role": owner_role,
            "roles": views.role_choices(list(context.catalog.pipelines.values())),
            "overdue": sum(1 for row in rows if row.overdue),
        },
        code,
        error=f"Not done: {refused}" if refused else None,
    )


@router.post("/board/tasks/{task_id}/done")
async def task_done(
    request: Request,
    context: Context,
    service: Service,
    session: Staff,
    task_id: str,
    back: OptionalForm = None,
    owner_role: OptionalForm = None,
) -> Response:
    """Mark a task done, from the inbox (``back=inbox``) or from its onboarding's page."""
    from_inbox = back == "inbox"
    try:
        oid = await service.complete_task(task_id, by=session.by)
    except SERVICE_ERRORS as err:
        if from_inbox:
            return await _inbox_page(request, context, service, session, owner_role or None, err)
        owner = onboarding_of_task(task_id)
        if owner is None:
            return error_page(request, session, err, "Task")
        return await _onboarding_page(request, context, service, session, owner, err)
    await audit(service.database, session.principal, "task_done", oid, task=task_id)
    if from_inbox:
        query = f"?{urlencode({'owner_role': owner_role})}" if owner_role else ""
        return redirect_with_flash(request, f"/board/tasks{query}", "ok", f"Task done ({oid}).")
    return redirect_with_flash(request, _onboarding_url(oid), "ok", "Task done.")


@router.post("/board/tasks/{task_id}/assign")
async def assign_task(
    request: Request,
    context: Context,
    service: Service,
    session: Staff,
    task_id: str,
    user: OptionalForm = None,
    mine: OptionalForm = None,
) -> Response:
    """Give a task to a person (``user``: an account id; empty: to no one), from the inbox."""
    back = "/board/tasks?mine=true" if mine == "true" else "/board/tasks"
    oid = onboarding_of_task(task_id)
    accounts = AccountStore(context.database)
    account = await accounts.get(user) if user else None
    if oid is None or (user and (account is None or not account.takes_work)):
        return redirect_with_flash(
            request, back, "error", "Not assigned: choose a task and a person who can take it."
        )
    await AssignmentStore(context.database).assign_task(task_id, oid, account)
    await audit(
        service.database,
        session.principal,
        "task_assigned",
        oid,
        task=task_id,
        assignee=account.id if account else None,
    )
    text = f"Task given to {account.label}." if account else "Task given to no one."
    return redirect_with_flash(request, back, "ok", text)
