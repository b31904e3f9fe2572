"""What the Temporal UI shows of a run: its current details, and the next-step fields.

Pure text from state: stage and since when, the next step at its local time,
open tasks, mails still retrying, pipeline version. Nothing personal: the UI's
details are stored unencrypted next to the search attributes.
"""

from __future__ import annotations

from datetime import datetime

from kickoff.domain import OnboardingState
from kickoff.pipelines.model import Pipeline, Step
from kickoff.schedule import format_local

OUTCOME_STEP = "record the kick-off outcome"


def set_next_step(state: OnboardingState, step: Step | None, due: datetime | None) -> None:
    """Record the next planned step in the state the API reads (none once finished)."""
    running = state.status == "running"
    state.next_step = step.summary if running and step else None
    state.next_step_at = due if running and step else None
    if state.awaiting_outcome:
        state.next_step = OUTCOME_STEP


def current_details(state: OnboardingState, pipeline: Pipeline) -> str:
    """Markdown for the Temporal UI's *Current details* panel."""
    tz = pipeline.timezone
    next_line = "**Next:** waiting for staff"
    if state.awaiting_outcome:
        meeting = state.anchors.get("meeting_at")
        held = f" (meeting {format_local(meeting, tz)})" if meeting else ""
        next_line = f"**Next:** staff record the kick-off outcome{held}"
    elif state.next_step and state.next_step_at:
        next_line = f"**Next:** {state.next_step} at {format_local(state.next_step_at, tz)}"
    lines = [
        f"**Stage:** {state.stage_label} (`{state.stage}`) since {format_local(state.stage_entered_at, tz)}",
        next_line,
        f"**Open tasks:** {len(state.open_tasks())}",
        *(
            [f"**Retrying:** {state.retrying_actions} mail(s) not delivered yet"]
            if state.retrying_actions
            else []
        ),
        f"**Pipeline:** {pipeline.id} version {state.pipeline_version}, cycle {state.cycle}",
    ]
    return "\n\n".join(lines)
