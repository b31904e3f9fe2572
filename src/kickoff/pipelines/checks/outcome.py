"""The kick-off outcome: where it is awaited, what it restarts with, and the task that waits for it."""

from __future__ import annotations

from kickoff.pipelines.checks.actions import check_task
from kickoff.pipelines.checks.context import Context, Problems


def check_kickoff_outcome(ctx: Context) -> Problems:
    """The outcome is awaited in a known goal stage, its restarts are restart reasons, its task is sound."""
    p, spec = ctx.pipeline, ctx.pipeline.kickoff_outcome
    if spec is None:
        return
    loc = ctx.loc("kickoff_outcome")
    if spec.awaited_in not in ctx.known_stages:
        yield (*loc, "awaited_in"), f"unknown stage {spec.awaited_in!r} (stages: {', '.join(ctx.stage_ids)})"
    elif not p.stage(spec.awaited_in).goal:
        yield (
            (*loc, "awaited_in"),
            f"stage {spec.awaited_in!r} is not a goal: the outcome is awaited once the kick-off is booked",
        )
    missing = [reason for reason in ("no_show", "rescheduled") if reason not in p.restart.reasons]
    if missing:
        yield loc, f"the outcomes {missing} restart onboarding: add them to restart.reasons"
    yield from check_task(ctx, (*loc, "task"), spec.task)
