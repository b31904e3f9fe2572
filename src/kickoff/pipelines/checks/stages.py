"""Stages: unique ids, and what each does on entry and on its schedule."""

from __future__ import annotations

from kickoff.pipelines.checks.actions import check_actions
from kickoff.pipelines.checks.checklists import checklist_refs
from kickoff.pipelines.checks.context import Context, Problems
from kickoff.pipelines.checks.steps import check_step


def check_stage_ids(ctx: Context) -> Problems:
    """No two stages share an id."""
    seen: set[str] = set()
    for index, stage in enumerate(ctx.pipeline.stages):
        if stage.id in seen:
            yield ctx.loc("stages", index, "id"), f"stage id {stage.id!r} is used twice"
        seen.add(stage.id)


def check_stages(ctx: Context) -> Problems:
    """Each stage's entry actions, required checklists and schedule."""
    for index, stage in enumerate(ctx.pipeline.stages):
        sloc = ctx.loc("stages", index)
        yield from check_actions(ctx, (*sloc, "on_enter"), stage.on_enter)
        yield from checklist_refs(ctx, (*sloc, "requires"), stage.requires)
        if stage.goal and stage.schedule:
            yield (*sloc, "schedule"), "a goal stage completes the run at once, so it has no schedule"
        keys: set[str] = set()
        for sindex, step in enumerate(stage.schedule):
            step_loc = (*sloc, "schedule", sindex)
            if step.key in keys:
                yield (*step_loc, "key"), f"step key {step.key!r} is used twice in this stage"
            keys.add(step.key)
            yield from check_step(ctx, step_loc, step)
