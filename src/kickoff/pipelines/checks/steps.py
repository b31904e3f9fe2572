"""Steps and deadlines: when they fire, what they wait on, and that their keys stay apart."""

from __future__ import annotations

from kickoff.pipelines.checks.actions import check_actions
from kickoff.pipelines.checks.checklists import checklist_refs, module_refs
from kickoff.pipelines.checks.context import Context, Loc, Problems, anchor_ref, stage_ref
from kickoff.pipelines.model import Step


def check_step(ctx: Context, loc: Loc, step: Step) -> Problems:
    """A step (or deadline) counts from known anchors, rests between repeats and refers to what exists."""
    for name in step.at.anchor_names():
        yield from anchor_ref(ctx, (*loc, "at", "anchor"), name)
    yield from checklist_refs(ctx, (*loc, "unless_ticked"), step.unless_ticked)
    if step.repeat and step.at.days <= 0:
        yield (*loc, "at", "days"), "a repeating step needs a positive offset, or it would never rest"
    yield from module_refs(ctx, (*loc, "modules"), step.modules)
    yield from check_actions(ctx, (*loc, "do"), step.do)


def check_shared_keys(ctx: Context) -> Problems:
    """A repeating step's key is its recurrence: steps of other stages sharing it must plan alike."""
    first_of_key: dict[str, Step] = {}
    for index, stage in enumerate(ctx.pipeline.stages):
        for sindex, step in enumerate(stage.schedule):
            earlier = first_of_key.setdefault(step.key, step)
            if step.repeat and (earlier.at != step.at or not earlier.repeat):
                yield (
                    ctx.loc("stages", index, "schedule", sindex, "key"),
                    f"repeating step {step.key!r} shares its key (and so its recurrence) with a step "
                    "of another stage that is planned differently: give it its own key",
                )


def check_deadlines(ctx: Context) -> Problems:
    """Deadlines have unique keys, fire once, and watch known stages."""
    deadline_keys: set[str] = set()
    for index, deadline in enumerate(ctx.pipeline.deadlines):
        dloc = ctx.loc("deadlines", index)
        if deadline.key in deadline_keys:
            yield (*dloc, "key"), f"deadline key {deadline.key!r} is used twice"
        deadline_keys.add(deadline.key)
        if deadline.repeat:
            yield (*dloc, "repeat"), "a deadline fires once per run; put a repeating step in a stage"
        for ref in deadline.in_stages:
            yield from stage_ref(ctx, (*dloc, "in_stages"), ref, "in_stages")
        yield from check_step(ctx, dloc, deadline)
