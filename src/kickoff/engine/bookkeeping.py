"""The records a run keeps as it goes: tasks, the timeline, the mail it sent or could not send.

A mixin of ``Run``: plain state changes, each stamped with the moment it happened.
"""

from __future__ import annotations

import bisect
from datetime import datetime

from kickoff.domain import (
    EmailRecord,
    OnboardingState,
    SendMailResult,
    Task,
    TaskResolution,
    TaskSide,
    TimelineEntry,
    task_id,
)
from kickoff.engine.messages import Work


class Bookkeeping:
    state: OnboardingState

    def mail_sent(
        self, work: Work, name: str, to: str, language: str, result: SendMailResult, now: datetime
    ) -> None:
        self.state.emails.append(
            EmailRecord(
                template=name,
                to=to,
                sent_at=max(work.at, now),
                message_id=result.message_id,
                language=language,
            )
        )
        self.note(now, "mail_sent", name)

    def mail_failed(self, name: str, recipient: str, reason: str, now: datetime) -> None:
        """A mail that may not have arrived: staff must see it, even once the run has closed."""
        self.note(now, "mail_failed", f"{name}: {reason}")
        self.add_task(
            "todo",
            f"Mail '{name}' may not have reached {recipient}: check and contact them",
            None,
            now,
            now,
            blocks_completion=True,
        )

    def mail_cancelled(self, name: str, now: datetime) -> None:
        self.note(now, "mail_cancelled", f"{name}: the run moved on")

    def add_task(
        self,
        kind: str,
        title: str,
        role: str | None,
        due: datetime,
        at: datetime,
        *,
        owner: TaskSide = "vendor",
        blocks_completion: bool = False,
    ) -> None:
        state = self.state
        state.task_counter += 1
        state.tasks.append(
            Task(
                id=task_id(state.id, state.cycle, state.task_counter),
                kind=kind,
                title=title,
                owner=owner,
                owner_role=role,
                due_at=due,
                stage=state.stage,
                created_at=at,
                blocks_completion=blocks_completion,
            )
        )
        self.note(at, "task_created", title)

    def finish_task(self, task: Task, at: datetime, how: TaskResolution, by: str | None = None) -> None:
        task.status = "done"
        task.done_at = at
        task.resolution = how
        self.note(at, "task_done", task.title, by=by)

    def note(self, at: datetime, event: str, detail: str = "", by: str | None = None) -> None:
        """A timeline entry, kept in time order (a mail's "sent" can come after later-dated work)."""
        bisect.insort(
            self.state.timeline, TimelineEntry(at=at, event=event, detail=detail, by=by), key=lambda e: e.at
        )
