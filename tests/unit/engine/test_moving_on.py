"""When the run moves on: its state is never dropped, the mail of the visit it left is."""

from __future__ import annotations

from datetime import date, timedelta

from kickoff.domain import OnboardingInput
from kickoff.engine import Run
from kickoff.engine.drive import advance, flush_mail
from kickoff.pipelines import parse_pipelines, pipeline_version
from tests.support import make_contract
from tests.unit.engine.support import OSLO, STOCKHOLM, event, local, start, tick_all

SIGNED = local(OSLO, date(2031, 3, 4), 9)  # a Tuesday
CUSTOMER_TODOS = 6  # "Hva vi trenger fra dere", both modules
KICKOFF_TASK = "Hold oppstartsmøte (30 min)"


def test_a_kickoff_reported_at_once_keeps_every_task_the_kickoff_stage_owed() -> None:
    """The defect: a pakkepilot-no contract whose kick-off is reported before the run got to its
    entry actions. The customer's to-dos and the kick-off task exist (the kick-off task done by
    the event), only the welcome mail of the stage the run has left is dropped."""
    run = start("pakkepilot-no", SIGNED, language="nb")
    assert [w.action.kind for w in run.queue] == ["mail"]  # the welcome mail, not yet sent

    assert event(run, "kickoff_held", SIGNED + timedelta(minutes=1)) == "access"

    customer = [t for t in run.state.tasks if t.owner == "customer" and t.stage == "kickoff"]
    assert len(customer) == CUSTOMER_TODOS
    assert all(t.status == "open" for t in customer)
    [kickoff] = [t for t in run.state.tasks if t.title.startswith(KICKOFF_TASK)]
    assert (kickoff.status, kickoff.resolution) == ("done", "done_by_staff")
    assert flush_mail(run, SIGNED + timedelta(minutes=1)) == []  # the welcome mail no longer applies
    assert run.state.emails == []


def test_queued_runs_lose_the_tasks_they_had_not_reached_the_old_defect() -> None:
    """The same quick report on a run replayed the old way: the old behaviour stays for them."""
    run = start("pakkepilot-no", SIGNED, state_first=False, language="nb")
    event(run, "kickoff_held", SIGNED + timedelta(minutes=1))
    flush_mail(run, SIGNED + timedelta(minutes=1))
    assert [t for t in run.state.tasks if t.stage == "kickoff"] == []


def test_a_booking_drops_the_reminder_still_queued_but_not_the_call_tasks() -> None:
    """A day-10 reminder queued (SMTP slow) when the meeting is booked is never sent; the tasks
    created before the booking stay, closed with the onboarding."""
    signed = local(STOCKHOLM, date(2031, 5, 5), 10)
    run = start("assist-se", signed, signed.date() - timedelta(days=2))
    advance(run, signed + timedelta(days=9))
    step, due = run.next_step()
    assert step is not None
    assert due is not None
    assert step.key == "day-10-reminder"
    run.fire(step, due, due)
    assert [w.action.mail.template for w in run.queue if w.action.mail] == ["booking_reminder"]

    event(run, "meeting_booked", due + timedelta(minutes=5), meeting_at=(due + timedelta(days=2)).isoformat())
    sent = flush_mail(run, due + timedelta(minutes=5))

    assert [m.name for m in sent] == ["kickoff_booked"]  # the closing stage's own mail to the team
    assert run.state.stage == "closed"
    assert len([t for t in run.state.tasks if t.kind == "call"]) == 3  # welcome, day 3, day 7


def test_an_events_own_mail_belongs_to_the_run_and_survives_a_stage_move() -> None:
    """kundprocess-se's churn escalation notifies the team; delivery starting before the mail went
    out does not drop it (an event's actions are run-wide), unlike the stage's own leftovers."""
    signed = local(STOCKHOLM, date(2031, 5, 5), 10)
    run = start("kundprocess-se", signed)
    flush_mail(run, signed)
    tick_all(run, "customer_card", signed)
    event(run, "churn_risk", signed, reason="New CEO")
    event(run, "start_delivery", signed)
    sent = flush_mail(run, signed)
    assert [m.name for m in sent] == ["notify", "delivery_plan"]
    assert "New CEO" in str(sent[0].input.context["event"])


MAIL_THEN_MOVE = """
pipelines:
  tiny:
    name: Tiny
    id_prefix: TI
    timezone: Europe/Stockholm
    languages: [sv]
    default_language: sv
    start_stage: first
    restart: {stage: first}
    team: {email: team@tiny.example}
    stages:
      - id: first
        label: Först
        on_enter:
          - mail: {template: hello}
          - move: second
          - task: {title: Efter flytten}
      - id: second
        label: Sedan
        on_enter:
          - mail: {template: hello}
      - id: done
        label: Klar
        goal: true
    events:
      finish: {label: Klar, to: done}
    templates:
      hello: {sv: {subject: Hej, body: Hej}}
"""


def test_mail_owed_before_a_move_in_the_same_action_list_still_goes_out() -> None:
    """on_enter [mail, move, task]: the move happens at once, the task after it is still created,
    and the first stage's mail goes out too: it was owed before the run moved on."""
    catalog = parse_pipelines(MAIL_THEN_MOVE)
    pipeline = catalog.pipelines["tiny"]
    contract = make_contract(pipeline="tiny", contract_id="C-1")
    inp = OnboardingInput(
        onboarding_id="TI-C-1",
        contract=contract,
        pipeline=pipeline,
        pipeline_version=pipeline_version(pipeline),
    )
    now = contract.signed_at
    run = Run.start(inp, now)
    assert run.state.stage == "second"
    assert [t.title for t in run.state.tasks] == ["Efter flytten"]
    sent = flush_mail(run, now)
    assert [m.input.message_id for m in sent] == [
        "<TI-C-1.1.first.1.enter-0@tiny.example>",
        "<TI-C-1.1.second.1.enter-0@tiny.example>",
    ]


def test_a_restart_drops_everything_queued() -> None:
    """A no-show restart ends the cycle's pending work: nothing queued is sent any more."""
    signed = local(STOCKHOLM, date(2031, 5, 5), 10)
    run = start("assist-se", signed, signed.date() - timedelta(days=2))
    advance(run, signed)
    run.queue.extend(run.queue)  # whatever is still owed
    catalog_pipeline = run.pipeline
    from kickoff.domain import RestartInput

    assert (
        run.request_restart(RestartInput(reason="no_show", pipeline=catalog_pipeline, pipeline_version="x"))
        == 2
    )
    assert run.queue == []
    assert flush_mail(run, signed) == []
