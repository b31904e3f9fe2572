"""Staff tasks across onboardings."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status

from kickoff.api.deps import ApiKey, Service
from kickoff.api.schemas import OpenTask, TaskDone
from kickoff.domain import TaskSide

router = APIRouter(prefix="/tasks", tags=["tasks"], dependencies=[ApiKey])


@router.get("", response_model=list[OpenTask])
async def list_tasks(
    service: Service,
    status: Literal["open"] = "open",
    owner_role: str | None = None,
    owner: TaskSide | None = None,
) -> list[OpenTask]:
    """Open tasks across running onboardings, soonest due first; ``owner=customer`` lists what
    customers still owe (to chase), ``owner=vendor`` what our own people must do."""
    rows = await service.open_tasks(owner_role)
    return [
        OpenTask.model_validate(
            {
                **row.task.model_dump(),
                "onboarding_id": row.onboarding_id,
                "pipeline": row.pipeline,
                "stage": row.stage,
            }
        )
        for row in rows
        if owner is None or row.task.owner == owner
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
