"""Events: the anchors they set, where they are accepted and lead, what they do, and their payload."""

from __future__ import annotations

from kickoff.pipelines.checks.actions import check_actions
from kickoff.pipelines.checks.context import FIXED_ANCHORS, Context, Loc, Problems, stage_ref
from kickoff.pipelines.model import Event

DATE_TYPES = ("date", "datetime")


def check_event_anchors(ctx: Context) -> Problems:
    """An event sets only anchors of its own, advances only those, and ``past`` marks only dates."""
    for name, event in ctx.pipeline.events.items():
        eloc = ctx.loc("events", name)
        # In file order (stamps, then anchors), each once: the same report on every run.
        for anchor in dict.fromkeys([*event.stamps, *event.anchors]):
            if anchor in FIXED_ANCHORS or anchor.startswith(("entered:", "contract:")):
                yield (
                    (*eloc, "stamps" if anchor in event.stamps else "anchors"),
                    f"anchor {anchor!r} comes from the contract or the stage entry: "
                    "an event may only set anchors of its own (e.g. 'kickoff_held')",
                )
        for anchor in event.advance_only:
            if anchor not in event.anchors and anchor not in event.stamps:
                yield (
                    (*eloc, "advance_only"),
                    f"anchor {anchor!r} is not one this event sets (anchors or stamps)",
                )
        for field_name, spec in event.payload.items():
            if spec.past and spec.type not in DATE_TYPES:
                yield (
                    (*eloc, "payload", field_name, "past"),
                    f"past applies to date and datetime fields, not {spec.type}",
                )


def check_events(ctx: Context) -> Problems:
    """Where each event is accepted and leads, what it does, and what its payload declares."""
    for name, event in ctx.pipeline.events.items():
        eloc = ctx.loc("events", name)
        for ref in event.allowed_in or ():
            yield from stage_ref(ctx, (*eloc, "allowed_in"), ref, "allowed_in")
        yield from stage_ref(ctx, (*eloc, "to"), event.to, "to")
        yield from check_actions(ctx, (*eloc, "do"), event.do)
        yield from _check_payload(eloc, event)


def _check_payload(eloc: Loc, event: Event) -> Problems:
    """Choices belong to choice fields, and anchors and outcome labels to fields that can carry them."""
    for field_name, spec in event.payload.items():
        if spec.type == "choice" and not spec.choices:
            yield (*eloc, "payload", field_name), "a choice field needs its choices"
        if spec.type != "choice" and spec.choices:
            yield (
                (*eloc, "payload", field_name, "choices"),
                f"choices only apply to type choice, not {spec.type}",
            )
    for anchor, field_name in event.anchors.items():
        declared = event.payload.get(field_name)
        if declared is None or declared.type not in DATE_TYPES:
            yield (
                (*eloc, "anchors", anchor),
                f"anchor {anchor!r} is set from payload field {field_name!r}, "
                "which the event must declare as a date or datetime",
            )
    if event.outcome_labels:
        outcome = event.payload.get("outcome")
        choices = set(outcome.choices or ()) if outcome is not None else set()
        for label in event.outcome_labels:
            if label not in choices:
                yield (
                    (*eloc, "outcome_labels", label),
                    f"outcome {label!r} is not a choice of the payload field 'outcome'",
                )
