"""What a mail action sends: recipient, template, language, Message-ID and template context.

Pure: the workflow hands the description to the ``send_mail`` activity, and the
unit tests read it. The Message-ID is the idempotency key the activity
deduplicates on, so it must be the same on every retry and replay of one action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from kickoff.domain import MailLook, OnboardingState, SendMailInput
from kickoff.pipelines.customer import localized
from kickoff.pipelines.model import Action, Pipeline
from kickoff.schedule import format_local

Recipient = Literal["main_user", "team"]


@dataclass(frozen=True)
class Work:
    """One action to perform, tied to the stage visit that produced it."""

    action: Action
    visit: tuple[str, int]
    key: str
    at: datetime
    event: dict[str, object] | None = None
    """The event that queued the action, for its templates (``event.payload.reason``)."""
    run_wide: bool = False
    """An event's own actions (an escalation) belong to the run, not to the stage visit:
    a stage move does not drop or cancel them; only a restart does."""
    transition: int = 0
    """Which of the run's transitions (a start, an event, a step) queued it."""


@dataclass(frozen=True)
class Mail:
    """One mail to send, fully described."""

    work: Work
    name: str
    """The template's name (``notify`` for a team notification)."""
    language: str
    recipient: Recipient
    input: SendMailInput

    @property
    def summary(self) -> str:
        return self.work.action.describe()


def mail_name(action: Action) -> str:
    """What a mail is known by on the timeline and in summaries: its template, or ``notify``."""
    return action.mail.template if action.mail is not None else "notify"


def message_id(state: OnboardingState, pipeline: Pipeline, work: Work) -> str:
    """Stable per (onboarding, cycle, stage visit, step): every retry of this action
    carries the same Message-ID, which the activity deduplicates on."""
    stage, entry = work.visit
    domain = pipeline.team.email.rsplit("@", 1)[1]
    return f"<{state.id}.{state.cycle}.{stage}.{entry}.{work.key}@{domain}>"


def describe_mail(state: OnboardingState, pipeline: Pipeline, work: Work) -> Mail:
    """The mail a ``mail`` or ``notify`` action sends, in the contract's language if offered."""
    action = work.action
    contract = state.contract
    name = mail_name(action)
    if action.mail is not None:
        spec = action.mail
        language, template = pipeline.template_for(spec.template, spec.language or contract.language)
        subject, body = template.subject, template.body
        recipient: Recipient = spec.to
    else:
        assert action.notify is not None, f"{action.kind} action sends no mail"
        language, recipient = pipeline.default_language, "team"
        subject, body = action.notify.subject, action.notify.text
    to = contract.main_user.email if recipient == "main_user" else pipeline.team.email
    return Mail(
        work=work,
        name=name,
        language=language,
        recipient=recipient,
        input=SendMailInput(
            onboarding_id=state.id,
            message_id=message_id(state, pipeline, work),
            to=to,
            subject_template=subject,
            body_template=body,
            context=template_context(state, pipeline, work, language),
            look=mail_look(pipeline, language),
            # The activity looks the customer's personal link up (it is made on first use, in
            # Kickoff's database: no place for a workflow). Only the customer gets it.
            customer_link=recipient == "main_user" and pipeline.customer_page is not None,
        ),
    )


def mail_look(pipeline: Pipeline, language: str) -> MailLook:
    """The pipeline's branding for a mail in ``language`` (the footer in that language, else
    the default language's)."""
    branding = pipeline.branding
    return MailLook(
        language=language,
        colour=branding.colour,
        accent=branding.accent,
        logo=branding.logo,
        logo_alt=branding.logo_alt,
        footer=localized(branding.footer, language, pipeline.default_language),
    )


def template_context(
    state: OnboardingState, pipeline: Pipeline, work: Work, language: str
) -> dict[str, object]:
    """The variables a template may use (the loader refuses any other)."""
    contract = state.contract
    meeting_at = state.anchors.get("meeting_at")
    tz = pipeline.timezone
    return {
        "event": work.event,
        "stage": {"id": state.stage, "label": state.stage_label},
        "modules": [pipeline.modules[m].label_in(language) for m in state.modules],
        "dates": {name: format_local(at, tz) for name, at in state.anchors.items()},
        "onboarding_id": state.id,
        "customer": {"name": contract.customer.name, "org_number": contract.customer.org_number},
        "main_user": {"name": contract.main_user.name},
        "links": dict(pipeline.links),
        "pipeline": {"id": pipeline.id, "name": pipeline.name},
        "team": {"name": pipeline.team.name or "", "email": pipeline.team.email},
        "meeting_at": format_local(meeting_at, tz) if meeting_at else None,
    }
