"""Bounding a long-lived run's state: its oldest history is summarised into counts.

A partnership runs for years and continues as new at every recurring step,
carrying its state each time. Without a bound the timeline, finished tasks and
sent mails would grow with every quarter (about 450 bytes per hop). Before each
continue-as-new the run keeps what staff look at (everything open, the recent
past) and folds the rest into ``OnboardingState.archived``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from kickoff.domain import ArchivedHistory, OnboardingState

T = TypeVar("T")

KEEP_RECENT = timedelta(days=365)
"""History younger than this is always kept (within the caps below)."""
MAX_TIMELINE = 120
MAX_DONE_TASKS = 30
MAX_EMAILS = 30


def compact(state: OnboardingState, now: datetime) -> OnboardingState:
    """``state`` with its history older than KEEP_RECENT, and beyond the caps, summarised."""
    cutoff = now - KEEP_RECENT
    timeline = state.timeline
    keep_from = max(len(timeline) - MAX_TIMELINE, 0)
    while keep_from < len(timeline) and timeline[keep_from].at < cutoff:
        keep_from += 1
    done = [task for task in state.tasks if task.status == "done"]
    old_done = {
        task.id for task in _beyond(done, MAX_DONE_TASKS, cutoff, lambda t: t.done_at or t.created_at)
    }
    old_emails = _beyond(state.emails, MAX_EMAILS, cutoff, lambda m: m.sent_at)
    if not keep_from and not old_done and not old_emails:
        return state
    archived = state.archived or ArchivedHistory(before=cutoff)
    archived_mail = {id(mail) for mail in old_emails}
    summary = Counter(archived.timeline)
    summary.update(entry.event for entry in timeline[:keep_from])
    kept_from = timeline[keep_from].at if keep_from < len(timeline) else now
    return state.model_copy(
        update={
            "timeline": timeline[keep_from:],
            "tasks": [task for task in state.tasks if task.id not in old_done],
            "emails": [mail for mail in state.emails if id(mail) not in archived_mail],
            "archived": ArchivedHistory(
                before=max(archived.before, min(kept_from, cutoff)),
                timeline=dict(summary),
                tasks_done=archived.tasks_done + len(old_done),
                emails=archived.emails + len(old_emails),
            ),
        },
        deep=True,
    )


def _beyond(items: Sequence[T], cap: int, cutoff: datetime, when: Callable[[T], datetime]) -> list[T]:
    """The oldest of ``items`` (in time order) that are older than ``cutoff`` or beyond ``cap``."""
    ordered = sorted(items, key=when)
    over = max(len(ordered) - cap, 0)
    return [item for index, item in enumerate(ordered) if index < over or when(item) < cutoff]
