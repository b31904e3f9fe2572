"""What pydantic's shape validation cannot check: references between a pipeline's parts, and its graph."""

from __future__ import annotations

from collections.abc import Callable

from kickoff.pipelines.checks import (
    checklists,
    conditions,
    customer,
    events,
    graph,
    header,
    outcome,
    reports,
    stages,
    steps,
    templates,
)
from kickoff.pipelines.checks.context import Context, Loc, Problems
from kickoff.pipelines.model import Pipeline

__all__ = ["Loc", "Problems", "check_pipeline"]

CHECKS: tuple[Callable[[Context], Problems], ...] = (
    header.check_header,
    stages.check_stage_ids,
    header.check_entry,
    events.check_event_anchors,
    stages.check_stages,
    steps.check_shared_keys,
    steps.check_deadlines,
    checklists.check_module_labels,
    checklists.check_checklist_items,
    events.check_events,
    templates.check_templates,
    outcome.check_kickoff_outcome,
    customer.check_customer_page,
    customer.check_booking,
    conditions.check_conditions,
    reports.check_reports,
    graph.check_instant_loops,
    graph.check_reachable,
)
"""Every check, in the order their problems are reported (unsorted when the file is otherwise well-formed)."""


def check_pipeline(at: Loc, pid: str, pipeline: Pipeline) -> Problems:
    """Every problem of ``pipeline``, filed under ``pid`` at path ``at``, with its path."""
    ctx = Context.of(at, pid, pipeline)
    for check in CHECKS:
        yield from check(ctx)
