"""Validation of the engine's newer pipeline features, on the real pipelines.yaml.

Payload declarations, event actions and goals, checklists and gates, modules,
deadlines, recurring steps, list and contract anchors, calendar categories and
notify texts: each case makes one small edit inside one pipeline's block of the
shipped file and expects one problem naming the pipeline, the stage (where
there is one) and the line of the edited file to look at.
"""

from __future__ import annotations

import pytest

from kickoff.pipelines import parse_pipelines
from kickoff.pipelines.model import MAX_DAYS
from tests.unit.test_pipeline_validation import (
    TEXT,
    Case,
    assert_reported,
    baseline_versions,
    block,
    edit,
    line_of,
    problems_of,
)

PP = "pakkepilot-no"
KP = "kundprocess-se"
WN = "wisenetwork-fi"

FEEDBACK_EN = """        en:
          subject: "Three quick questions about your launch"
          body: |
            Hi {{ main_user.name }},

            {{ customer.name }} has now been live for a week. We would like to hear how the launch went:
            1. What worked well?
            2. What was unclear or took too long?
            3. What should we change before the next customer starts?

            Just reply to this mail.

            Best regards
            {{ team.name }}
"""

SECOND_PP_DEADLINE = """      - key: overdue-day-10
        at: {anchor: kickoff_held, days: 15, unit: business_days, time: "08:00"}
        in_stages: [testing, training]
        summary: still not live on business day 15
        do:
          - task: {kind: overdue, title: Eskaler til ledelsen, owner_role: customer_success}

    events:
"""

LAUNCH_READY_ITEMS = (
    "        items:\n"
    '          - {id: domain_dns, owner: customer, label: "Domain, välittäjävaihtoavain ja DNS-tietueet'
    ' toimitettu", modules: [cms]}\n'
    "          - {id: content_moved, label: Teksti- ja kuvasisältö siirretty, modules: [cms]}\n"
    "          - {id: settings_done, label: Asetukset tehty asiakkaan tietojen pohjalta}\n"
)

AUTO_LAUNCH = """      - id: training
        label: Koulutukset
        schedule:
          - key: auto-launch
            at: {anchor: entered, days: 10, unit: business_days, time: "08:00"}
            summary: launch after ten business days of training
            do:
              - move: live
"""

CASES = {
    # ---- events: park_event, payload declarations, anchors, outcome labels
    "unknown-park-event-in-a-new-pipeline": Case(
        "    team:\n",
        "    park_event: pause\n    team:\n",
        "park_event: pause",
        None,
        "unknown event 'pause' (events: start_delivery, contact_logged, opportunity_logged,",
        KP,
    ),
    "choice-field-without-choices": Case(
        "channel: {type: choice, choices: [meeting, phone, email, other], required: true}",
        "channel: {type: choice, required: true}",
        "channel: {type: choice, required: true}",
        None,
        "needs its choices",
        KP,
    ),
    "choice-field-with-empty-choices": Case(
        "outcome: {type: choice, choices: [answered, no_answer], required: true}",
        "outcome: {type: choice, choices: [], required: true}",
        "choices: []",
        None,
        "needs its choices",
        WN,
    ),
    "choices-on-a-text-field": Case(
        "status: {type: choice, choices:",
        "status: {type: text, choices:",
        "status: {type: text",
        None,
        "choices only apply to type choice, not text",
        KP,
    ),
    "choices-on-a-date-field": Case(
        "until: {type: date}",
        "until: {type: date, choices: [tomorrow]}",
        "choices: [tomorrow]",
        None,
        "choices only apply to type choice, not date",
    ),
    "event-anchor-from-an-undeclared-field": Case(
        "anchors: {kickoff_held: held_at}",
        "anchors: {kickoff_held: held_on}",
        "held_on",
        None,
        "anchor 'kickoff_held' is set from payload field 'held_on', "
        "which the event must declare as a date or datetime",
        WN,
    ),
    "event-anchor-from-a-text-field": Case(
        "held_at: {type: datetime",
        "held_at: {type: text",
        "anchors: {kickoff_held: held_at}",
        None,
        "anchor 'kickoff_held' is set from payload field 'held_at'",
        PP,
    ),
    "event-anchor-from-a-number-field": Case(
        "contacted_on: {type: date, past: true}",
        "contacted_on: {type: number}",
        "anchors: {last_contact: contacted_on}",
        None,
        "which the event must declare as a date or datetime",
        KP,
    ),
    "outcome-label-not-a-choice": Case(
        "          no_answer: Ei vastausta\n",
        "          no_answer: Ei vastausta\n          voicemail: Vastaaja\n",
        "voicemail",
        None,
        "outcome 'voicemail' is not a choice of the payload field 'outcome'",
        WN,
    ),
    "outcome-labels-without-an-outcome-field": Case(
        "        completes_task_kind: call\n      opportunity_logged:",
        "        completes_task_kind: call\n        outcome_labels: {meeting: Möte hållet}\n"
        "      opportunity_logged:",
        "meeting: Möte hållet",
        None,
        "outcome 'meeting' is not a choice of the payload field 'outcome'",
        KP,
    ),
    "payload-field-of-unknown-type": Case(
        "web_address: {type: text,",
        "web_address: {type: url,",
        "type: url",
        None,
        "Input should be 'text', 'date', 'datetime', 'choice', 'number' or 'boolean'",
        WN,
    ),
    "payload-max-length-zero": Case(
        "title: {type: text, required: true, max_length: 200}",
        "title: {type: text, required: true, max_length: 0}",
        "max_length: 0",
        None,
        "greater than or equal to 1",
        KP,
    ),
    # ---- templates: mail actions, event do, languages
    "unknown-template-in-a-new-pipeline": Case(
        "- mail: {template: live, to: main_user}",
        "- mail: {template: golive, to: main_user}",
        "golive",
        "hypercare",
        "unknown template 'golive' (templates: welcome, kickoff_reminder, live, feedback, "
        "booking_confirmed, booking_updated, booking_cancelled)",
        PP,
    ),
    "unknown-template-in-an-event-do": Case(
        '          - task: {title: "Følg opp meldt avvik i hypercare"',
        "          - mail: {template: issue_received, to: main_user}\n"
        '          - task: {title: "Følg opp meldt avvik i hypercare"',
        "issue_received",
        None,
        "unknown template 'issue_received'",
        PP,
    ),
    "mail-language-not-offered": Case(
        "- mail: {template: live, to: main_user}",
        "- mail: {template: live, to: main_user, language: sv}",
        "language: sv",
        "hypercare",
        "language 'sv' is not among languages ['nb', 'en']",
        PP,
    ),
    "mail-language-not-offered-in-an-event-do": Case(
        "        to: system_opening\n",
        "        to: system_opening\n"
        "        do:\n"
        "          - mail: {template: welcome, to: team, language: sv}\n",
        "language: sv",
        None,
        "language 'sv' is not among languages ['fi', 'en']",
        WN,
    ),
    "template-missing-a-language-in-a-new-pipeline": Case(
        FEEDBACK_EN,
        "",
        "      feedback:\n",
        None,
        "template 'feedback' has no 'en' version (the pipeline offers ['nb', 'en'])",
        PP,
    ),
    "template-missing-the-default-language": Case(
        "      kickoff_again:\n        fi:\n",
        "      kickoff_again:\n        sv:\n",
        "      kickoff_again:\n",
        None,
        "template 'kickoff_again' has no 'fi' version",
        WN,
    ),
    "unknown-variable-in-a-stage-notify": Case(
        "Hypercare varer en uke.",
        "Hypercare varer {{ hypercare_days }} dager.",
        "hypercare_days",
        "hypercare",
        "unknown variable(s) ['hypercare_days']",
        PP,
    ),
    "unknown-variable-in-a-deadline-notify": Case(
        "(vaihe: {{ stage.label }})",
        "(vaihe: {{ phase.label }})",
        "phase.label",
        None,
        "unknown variable(s) ['phase']",
        WN,
    ),
    "unknown-variable-in-an-event-notify": Case(
        'text: "{{ event.payload.reason }}"',
        'text: "{{ payload.reason }}"',
        "{{ payload.reason }}",
        None,
        "unknown variable(s) ['payload']",
        KP,
    ),
    "notify-subject-syntax-error": Case(
        'subject: "Live: {{ customer.name }} ({{ onboarding_id }})"',
        'subject: "Live: {{ customer.name } ({{ onboarding_id }})"',
        "{{ customer.name } (",
        "hypercare",
        "template syntax error",
        PP,
    ),
    # ---- checklists and gates
    "unknown-checklist-in-requires": Case(
        "requires: [trainings, launch_ready]",
        "requires: [trainings, launch_redy]",
        "launch_redy",
        "live",
        "unknown checklist 'launch_redy' (checklists: trainings, launch_ready)",
        WN,
    ),
    "requires-in-a-pipeline-without-checklists": Case(
        "      - id: inactive\n        label: Inaktiva kunder\n",
        "      - id: inactive\n        label: Inaktiva kunder\n        requires: [contact_made]\n",
        "requires: [contact_made]",
        "inactive",
        "unknown checklist 'contact_made' (checklists: none)",
    ),
    "checklist-item-id-used-twice-across-checklists": Case(
        "{id: settings_done,",
        "{id: training_sales,",
        "{id: training_sales, label: Asetukset",
        None,
        "checklist item id 'training_sales' is used twice in this pipeline",
        WN,
    ),
    "checklist-item-id-used-twice-in-one-checklist": Case(
        "{id: email_details,",
        "{id: enrich_data,",
        "{id: enrich_data, label: Dokumentera",
        None,
        "checklist item id 'enrich_data' is used twice in this pipeline",
        KP,
    ),
    "move-from-a-step-into-a-gated-stage": Case(
        "      - id: training\n        label: Koulutukset\n",
        AUTO_LAUNCH,
        "move: live",
        "training",
        "a move into 'live' would bypass the checklist it requires: let an event move the run there",
        WN,
    ),
    "move-on-enter-into-a-gated-stage": Case(
        "          - task: {title: Delta i opplæring og sett go-live-dato",
        "          - move: hypercare\n          - task: {title: Delta i opplæring og sett go-live-dato",
        "move: hypercare",
        "training",
        "a move into 'hypercare' would bypass the checklist it requires",
        PP,
    ),
    "move-from-an-event-do-into-a-gated-stage": Case(
        "        allowed_in: [onboarding]\n        to: delivery\n",
        "        allowed_in: [onboarding]\n        do:\n          - move: delivery\n",
        "move: delivery",
        None,
        "a move into 'delivery' would bypass the checklist it requires",
        KP,
    ),
    "move-from-a-deadline-into-a-gated-stage": Case(
        '          - task: {kind: overdue, title: "Forsinket:',
        '          - move: hypercare\n          - task: {kind: overdue, title: "Forsinket:',
        "move: hypercare",
        None,
        "a move into 'hypercare' would bypass the checklist it requires",
        PP,
    ),
    "checklist-without-items": Case(
        LAUNCH_READY_ITEMS,
        "        items: []\n",
        "items: []",
        None,
        "Tuple should have at least 1 item",
        WN,
    ),
    "checklist-item-owner-unknown": Case(
        "{id: returns_agreed, owner: customer,",
        "{id: returns_agreed, owner: client,",
        "owner: client",
        None,
        "Input should be 'customer' or 'vendor'",
        PP,
    ),
    # ---- modules
    "unknown-module-in-an-action": Case(
        "Test etikett og fraktflyt, owner_role: customer_success, "
        'due: {days: 2, unit: business_days, time: "16:00"}}\n            modules: [shipping]',
        "Test etikett og fraktflyt, owner_role: customer_success, "
        'due: {days: 2, unit: business_days, time: "16:00"}}\n            modules: [labels]',
        "modules: [labels]",
        "testing",
        "unknown module 'labels' (modules: fulfilment, shipping)",
        PP,
    ),
    "unknown-module-in-a-pipeline-without-modules": Case(
        "            when: [first_entry]\n            summary: welcome mail\n",
        "            when: [first_entry]\n            modules: [crm]\n            summary: welcome mail\n",
        "modules: [crm]",
        "onboarding",
        "unknown module 'crm' (modules: none declared)",
        KP,
    ),
    "unknown-module-in-a-checklist-item": Case(
        "modules: [accounting]}",
        "modules: [bookkeeping]}",
        "bookkeeping",
        None,
        "unknown module 'bookkeeping' (modules: cms, crm, sales, marketing, booking, finance,"
        " customer_service, accounting)",
        WN,
    ),
    "unknown-module-in-a-step": Case(
        "            summary: no kick-off after 3 business days – call\n",
        "            summary: no kick-off after 3 business days – call\n            modules: [returns]\n",
        "modules: [returns]",
        "kickoff",
        "unknown module 'returns'",
        PP,
    ),
    "unknown-module-in-a-deadline": Case(
        "        in_stages: [system_opening, training]\n",
        "        in_stages: [system_opening, training]\n        modules: [hr]\n",
        "modules: [hr]",
        None,
        "unknown module 'hr'",
        WN,
    ),
    # ---- anchors
    "unknown-anchor-in-a-list": Case(
        "at: {anchor: kickoff_held, days: 2,",
        "at: {anchor: [kickoff_held, kickoff_hold], days: 2,",
        "kickoff_hold]",
        "access",
        "unknown anchor 'kickoff_hold' (known: delivery_start, entered, entered:access,",
        PP,
    ),
    "undeclared-contract-anchor": Case(
        "at: {anchor: kickoff_held, days: 4,",
        "at: {anchor: contract:go_live, days: 4,",
        "contract:go_live",
        "integration",
        "unknown anchor 'contract:go_live'",
        PP,
    ),
    "unknown-anchor-in-a-deadline": Case(
        "at: {anchor: kickoff_held, days: 20,",
        "at: {anchor: kickoff_hold, days: 20,",
        "kickoff_hold",
        None,
        "unknown anchor 'kickoff_hold'",
        WN,
    ),
    "anchor-of-an-unknown-stage": Case(
        "at: {anchor: entered, days: 1, unit: weeks,",
        "at: {anchor: entered:hypercar, days: 1, unit: weeks,",
        "entered:hypercar",
        "hypercare",
        "unknown anchor 'entered:hypercar'",
        PP,
    ),
    "empty-anchor-list": Case(
        "at: {anchor: kickoff_held, days: 6,",
        "at: {anchor: [], days: 6,",
        "anchor: []",
        "testing",
        "anchor list is empty",
        PP,
    ),
    "badly-named-anchor-in-a-list": Case(
        "at: {anchor: kickoff_held, days: 6,",
        "at: {anchor: [kickoff_held, Kickoff Held], days: 6,",
        "Kickoff Held",
        "testing",
        "anchor 'Kickoff Held' is not a name like 'delivery_start' or 'entered:onboarding'",
        PP,
    ),
    # ---- recurring steps and deadlines
    "repeating-step-with-zero-days": Case(
        'at: {anchor: entered, days: 5, unit: business_days, time: "09:00"}\n',
        'at: {anchor: entered, days: 0, unit: business_days, time: "09:00"}\n            repeat: true\n',
        "days: 0, unit: business_days",
        "onboarding",
        "a repeating step needs a positive offset, or it would never rest",
        KP,
    ),
    "repeating-step-with-negative-days": Case(
        'at: {anchor: entered, days: 1, unit: weeks, time: "09:00"}\n',
        'at: {anchor: entered, days: -1, unit: weeks, time: "09:00"}\n            repeat: true\n',
        "days: -1",
        "hypercare",
        "a repeating step needs a positive offset",
        PP,
    ),
    "deadline-with-repeat": Case(
        "        in_stages: [access, integration, testing, training]\n",
        "        repeat: true\n        in_stages: [access, integration, testing, training]\n",
        "repeat: true\n        in_stages",
        None,
        "a deadline fires once per run; put a repeating step in a stage",
        PP,
    ),
    "deadline-in-unknown-stage": Case(
        "in_stages: [system_opening, training]",
        "in_stages: [system_opening, trainig]",
        "trainig",
        None,
        "in_stages refers to unknown stage 'trainig' (stages: kickoff, system_opening, training, live)",
        WN,
    ),
    "deadline-key-used-twice": Case(
        "\n    events:\n",
        "\n" + SECOND_PP_DEADLINE,
        "key: overdue-day-10\n        at: {anchor: kickoff_held, days: 15",
        None,
        "deadline key 'overdue-day-10' is used twice",
        PP,
    ),
    "deadline-without-in-stages": Case(
        "in_stages: [system_opening, training]",
        "in_stages: []",
        "in_stages: []",
        None,
        "Tuple should have at least 1 item",
        WN,
    ),
    # ---- stages, goals and calendars in the new pipelines
    "unreachable-stage-in-a-new-pipeline": Case(
        "        allowed_in: [system_opening]\n        to: training\n",
        "        allowed_in: [system_opening]\n        to: live\n",
        "      - id: training\n",
        "training",
        "stage 'training' is unreachable: no move or event leads to it",
        WN,
    ),
    "no-goal-stage-and-no-goal-event": Case(
        "        goal: true\n",
        "",
        "    stages:\n",
        None,
        "no stage or event is a goal: a run could never complete",
        PP,
    ),
    "goal-stage-with-schedule-in-a-new-pipeline": Case(
        "        goal: true\n        on_enter:\n          - notify:\n",
        "        goal: true\n        schedule:\n          - key: goodbye\n"
        "            at: {anchor: entered, days: 30}\n            summary: goodbye call\n"
        "            do:\n              - task: {kind: call, title: Avslutningssamtal}\n"
        "        on_enter:\n          - notify:\n",
        "schedule:\n          - key: goodbye",
        "ended",
        "a goal stage completes the run at once, so it has no schedule",
        KP,
    ),
    "unknown-calendar-category": Case(
        "categories: [public, de_facto]",
        "categories: [public, nonsense]",
        "categories: [public, nonsense]",
        None,
        "holiday categories not available: Category is not supported: nonsense",
        KP,
    ),
    "unknown-calendar-country": Case(
        "calendar: {country: FI}",
        "calendar: {country: XX}",
        "calendar: {country: XX}",
        None,
        "no public-holiday calendar for country 'XX'",
        WN,
    ),
    "unknown-calendar-subdivision": Case(
        "calendar: {country: 'NO'}",
        "calendar: {country: 'NO', subdivision: '99'}",
        "calendar: {country: 'NO', subdivision: '99'}",
        None,
        "no public-holiday calendar for country 'NO' and subdivision '99'",
        PP,
    ),
    "unquoted-norway-is-yaml-false": Case(
        "calendar: {country: 'NO'}",
        "calendar: {country: NO}",
        "calendar: {country: NO}",
        None,
        "YAML reads a bare NO as false: write country: 'NO' in quotes",
        PP,
    ),
    "business-days-without-a-calendar": Case(
        "    calendar: {country: FI}\n",
        "",
        "    name: WiseNetwork käyttöönotto\n",
        None,
        "business_days offsets need a calendar",
        WN,
    ),
    "unknown-day-unit": Case(
        "at: {anchor: kickoff_held, days: 20, unit: business_days,",
        "at: {anchor: kickoff_held, days: 20, unit: workdays,",
        "unit: workdays",
        None,
        "Input should be",
        WN,
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_each_new_problem_names_pipeline_stage_and_line(case: Case) -> None:
    """One small edit in one pipeline's block yields one problem naming that pipeline, stage and line."""
    assert_reported(case)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "anchor: [last_contact, entered:partnership]",
            "anchor: [last_contakt, entered:partnership]",
            "unknown anchor 'last_contakt'",
        ),
        (
            "anchor: entered:partnership, days: 13,",
            "anchor: contract:renewl, days: 13,",
            "unknown anchor 'contract:renewl'",
        ),
        (
            "entered:partnership], days: 90,",
            "entered:partnership], days: 0,",
            "a repeating step needs a positive offset",
        ),
        (
            "entered:partnership], days: 90,",
            "entered:partnership], days: -90, unit: business_days,",
            "business days count forwards only",
        ),
    ],
    ids=["list-anchor", "contract-anchor", "repeat-days", "negative-business-days"],
)
def test_a_problem_in_a_shared_yaml_schedule_is_reported_for_each_stage_at_its_one_line(
    old: str, new: str, message: str
) -> None:
    """kundprocess-se shares one schedule (&ongoing_contact) between partnership and expansion: a
    problem in it is reported once per stage, both at the line where the schedule is written."""
    text = edit(old, new, KP)
    matching = [p for p in problems_of(text) if message in p.message]
    line = line_of(text, new, KP)
    assert sorted((p.pipeline, p.stage, p.line) for p in matching) == [
        (KP, "expansion", line),
        (KP, "partnership", line),
    ], [str(p) for p in matching]


def test_problems_in_several_pipelines_are_all_reported_in_file_order() -> None:
    """Reference problems in three pipelines are reported together, each under its own pipeline."""
    text = edit("requires: [trainings, launch_ready]", "requires: [trainings, launch_redy]", WN)
    text = edit(
        "- mail: {template: live, to: main_user}", "- mail: {template: golive, to: main_user}", PP, text
    )
    text = edit("categories: [public, de_facto]", "categories: [public, nonsense]", KP, text)
    problems = problems_of(text)
    assert [(p.pipeline, p.stage, p.line) for p in problems] == [
        (PP, "hypercare", line_of(text, "golive", PP)),
        (KP, None, line_of(text, "nonsense", KP)),
        (WN, "live", line_of(text, "launch_redy", WN)),
    ], [str(p) for p in problems]


# --------------------------------------------------------------------------
# Edits the loader must accept


@pytest.mark.parametrize(
    ("pipeline", "old", "new", "event"),
    [
        (WN, "        to: live\n", "        to: live\n        goal: true\n", "launched"),
        (
            KP,
            "          reason: {type: text, required: true}\n        to: ended\n",
            "          reason: {type: text, required: true}\n        to: ended\n        goal: true\n",
            "partnership_ended",
        ),
    ],
    ids=[WN, KP],
)
def test_a_goal_event_without_a_goal_stage_is_accepted(pipeline: str, old: str, new: str, event: str) -> None:
    """A pipeline whose run completes when an event is applied (goal: true on the event) needs no
    goal stage: the stage the event leads to is then an ordinary one."""
    text = edit("        goal: true\n", "", pipeline)
    text = edit(old, new, pipeline, text)
    catalog = parse_pipelines(text)
    found = catalog.pipelines[pipeline]
    assert not any(stage.goal for stage in found.stages)
    assert [name for name, spec in found.events.items() if spec.goal] == [event]
    assert catalog.version(pipeline) != baseline_versions()[pipeline]


def test_an_event_to_a_gated_stage_is_accepted() -> None:
    """Events move into gated stages (the run checks the checklist then); the real file does so."""
    pipelines = parse_pipelines(TEXT).pipelines
    for pid, event, stage in [
        (PP, "go_live", "hypercare"),
        (KP, "start_delivery", "delivery"),
        (WN, "launched", "live"),
    ]:
        assert pipelines[pid].events[event].to == stage
        assert pipelines[pid].stage(stage).requires


def test_a_contract_anchor_declared_in_contract_dates_is_accepted() -> None:
    """A step anchored on contract:<name> loads once the name is among contract_dates."""
    text = edit("    roles:\n", "    contract_dates:\n      go_live: Avtalt go-live-dato\n    roles:\n", PP)
    text = edit(
        "at: {anchor: kickoff_held, days: 4,",
        "at: {anchor: [kickoff_held, contract:go_live], days: 4,",
        PP,
        text,
    )
    catalog = parse_pipelines(text)
    step = catalog.pipelines[PP].stage("integration").schedule[0]
    assert step.at.anchor_names() == ("kickoff_held", "contract:go_live")
    assert catalog.version(PP) != baseline_versions()[PP]


# --------------------------------------------------------------------------
# Loader defects found while writing these tests, and fixed: they stay as regressions.


def test_a_stage_reached_only_by_an_event_do_move_is_reachable() -> None:
    """The engine performs an event's `do: - move: X` (it queues the event's actions), so X is
    reachable; the loader calls it unreachable and refuses the file."""
    text = edit(
        "        allowed_in: [system_opening]\n        to: training\n",
        "        allowed_in: [system_opening]\n        do:\n          - move: training\n",
        WN,
    )
    assert parse_pipelines(text).pipelines[WN].events["system_opened"].do[0].move == "training"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("start_stage: kickoff", "start_stage: live"),
        ("    restart:\n      stage: kickoff", "    restart:\n      stage: live"),
    ],
    ids=["start-stage", "restart-stage"],
)
def test_a_run_cannot_start_in_a_gated_stage(old: str, new: str) -> None:
    """A run that starts (or restarts) in a stage with `requires` is there with nothing ticked, which
    the gate exists to prevent; the loader refuses a move into such a stage but not a start in it."""
    problems = problems_of(edit(old, new, WN))
    assert any("checklist" in p.message for p in problems), [str(p) for p in problems]


def test_an_instant_loop_through_a_list_anchor_is_refused() -> None:
    """`anchor: [entered]` with no offset moves at once, exactly like `anchor: entered` (the
    instant-move-loop case), but `step.at.anchor in ("entered", ...)` is False for a tuple."""
    text = edit(
        "      - id: inactive\n        label: Inaktiva kunder\n",
        "      - id: inactive\n        label: Inaktiva kunder\n        schedule:\n          - key: again\n"
        "            at: {anchor: [entered]}\n            summary: again\n            do:\n"
        "              - move: inactive\n",
    )
    problems = problems_of(text)
    assert any("moves on at once in a loop (inactive -> inactive)" in p.message for p in problems)


def test_the_choice_message_reads_as_english() -> None:
    """A rename left ``field_name`` inside the text a process owner reads."""
    text = edit(
        "channel: {type: choice, choices: [meeting, phone, email, other], required: true}",
        "channel: {type: choice}",
        KP,
    )
    (problem,) = problems_of(text)
    assert problem.message == "a choice field needs its choices"


@pytest.mark.parametrize(
    ("old", "new", "anchor"),
    [
        ("stamps: [last_contact]", "stamps: [last_contact, signed_at]", "signed_at"),
        (
            "anchors: {last_contact: contacted_on}",
            "anchors: {last_contact: contacted_on, delivery_start: contacted_on}",
            "delivery_start",
        ),
        ("anchors: {last_contact: contacted_on}", "anchors: {entered: contacted_on}", "entered"),
    ],
    ids=["stamp-signed-at", "set-delivery-start", "set-entered"],
)
def test_an_event_cannot_set_a_fixed_anchor(old: str, new: str, anchor: str) -> None:
    """The run keeps signed_at and delivery_start in the map events write to, so an event declaring
    them silently replaces the contract's dates (or drops them when the field is empty); one declaring
    `entered` is silently ignored (the stage's entry time wins)."""
    problems = problems_of(edit(old, new, KP))
    assert any(anchor in p.message for p in problems), [str(p) for p in problems]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("note: {type: text}\n        stamps:", "note: {type: text, past: true}\n        stamps:"),
        ("outcome: {type: choice,", "outcome: {type: choice, past: true,"),
    ],
    ids=["text", "choice"],
)
def test_past_on_a_field_that_is_no_date_is_refused(old: str, new: str) -> None:
    """`past` only applies to dates and datetimes (check_payload ignores it elsewhere), just as
    `choices` only applies to choice fields, which the loader does refuse."""
    problems = problems_of(edit(old, new, WN))
    assert any("past" in p.message for p in problems), [str(p) for p in problems]


def test_a_shape_error_does_not_hide_problems_in_other_pipelines() -> None:
    """load_pipelines promises every problem, but pydantic's pass stops before any reference check,
    so with four pipelines a process owner learns of wisenetwork-fi's problem only after fixing
    pakkepilot-no's quoting."""
    text = edit("calendar: {country: 'NO'}", "calendar: {country: NO}", PP)
    text = edit("requires: [trainings, launch_ready]", "requires: [trainings, launch_redy]", WN, text)
    assert {p.pipeline for p in problems_of(text)} == {PP, WN}


# --------------------------------------------------------------------------
# Offsets bounded to ten years, business days forwards only, repeating keys,
# unless_ticked and advance_only: the same one-edit table as CASES above.

OWN_EXPANSION_SCHEDULE = """        schedule:
          - key: contact-reminder
            at: {anchor: [last_contact, entered:partnership], days: 60, time: "08:00"}
            repeat: true
            summary: 60 days without a logged contact
            do:
              - task: {kind: call, title: "60 dagar utan loggad kontakt", owner_role: customer_success}
"""

LIMIT_CASES = {
    # ---- day offsets: at most MAX_DAYS (3660) either way
    "step-days-beyond-ten-years": Case(
        "at: {anchor: signed_at, days: 3,",
        "at: {anchor: signed_at, days: 3661,",
        "days: 3661",
        "kickoff",
        "Input should be less than or equal to 3660",
        PP,
    ),
    "deadline-days-beyond-ten-years-before": Case(
        "at: {anchor: contract:renewal, days: -60,",
        "at: {anchor: contract:renewal, days: -3661,",
        "days: -3661",
        None,
        "Input should be greater than or equal to -3660",
        KP,
    ),
    "task-due-beyond-ten-years": Case(
        "owner_role: designer, due: {days: 5,",
        "owner_role: designer, due: {days: 3661,",
        "days: 3661",
        "system_opening",
        "Input should be less than or equal to 3660",
        WN,
    ),
    "event-task-due-beyond-ten-years": Case(
        'owner_role: cto, due: {days: 1, unit: business_days, time: "17:00"}',
        'owner_role: cto, due: {days: 3661, unit: business_days, time: "17:00"}',
        "days: 3661",
        None,
        "Input should be less than or equal to 3660",
        KP,
    ),
    # ---- business days count forwards only
    "negative-business-days-in-a-step": Case(
        "at: {anchor: kickoff_held, days: 4, unit: business_days,",
        "at: {anchor: kickoff_held, days: -4, unit: business_days,",
        "days: -4",
        "integration",
        "business days count forwards only: use unit days or weeks for a moment before",
        PP,
    ),
    "negative-business-days-in-a-deadline": Case(
        "at: {anchor: kickoff_held, days: 20, unit: business_days,",
        "at: {anchor: kickoff_held, days: -20, unit: business_days,",
        "days: -20",
        None,
        "business days count forwards only",
        WN,
    ),
    # ---- a repeating step's key is its recurrence: one plan per key across stages
    "repeating-key-planned-differently-in-another-stage": Case(
        "        schedule: *ongoing_contact\n",
        OWN_EXPANSION_SCHEDULE,
        "key: contact-reminder\n            at: {anchor: [last_contact, entered:partnership], days: 60",
        "expansion",
        "repeating step 'contact-reminder' shares its key (and so its recurrence) with a step of "
        "another stage that is planned differently: give it its own key",
        KP,
    ),
    "repeating-key-of-a-one-off-step-in-another-stage": Case(
        'key: day-33-call\n            at: {anchor: entered:onboarding, days: 33, time: "08:00"}\n'
        "            summary: day 33 call task\n",
        'key: day-3-call\n            at: {anchor: entered:onboarding, days: 33, time: "08:00"}\n'
        "            summary: day 33 call task\n            repeat: true\n",
        "key: day-3-call\n            at: {anchor: entered:onboarding, days: 33",
        "follow_up",
        "repeating step 'day-3-call' shares its key",
    ),
    # ---- unless_ticked names a checklist of the pipeline
    "unknown-checklist-in-unless-ticked": Case(
        "unless_ticked: [customer_card]",
        "unless_ticked: [customer_crd]",
        "unless_ticked: [customer_crd]",
        "onboarding",
        "unknown checklist 'customer_crd' (checklists: customer_card)",
        KP,
    ),
    "unless-ticked-in-a-pipeline-without-checklists": Case(
        "            summary: day 3 call task\n",
        "            summary: day 3 call task\n            unless_ticked: [contact_made]\n",
        "unless_ticked: [contact_made]",
        "onboarding",
        "unknown checklist 'contact_made' (checklists: none)",
    ),
    "unknown-checklist-in-a-deadline-unless-ticked": Case(
        "        in_stages: [system_opening, training]\n",
        "        in_stages: [system_opening, training]\n        unless_ticked: [trainings, launch_redy]\n",
        "unless_ticked: [trainings, launch_redy]",
        None,
        "unknown checklist 'launch_redy' (checklists: trainings, launch_ready)",
        WN,
    ),
    "checklist-item-in-unless-ticked": Case(
        "            summary: no kick-off after 3 business days – call\n",
        "            summary: no kick-off after 3 business days – call\n"
        "            unless_ticked: [portal_access]\n",
        "unless_ticked: [portal_access]",
        "kickoff",
        "unknown checklist 'portal_access' (checklists: before_go_live)",
        PP,
    ),
    # ---- advance_only names an anchor the event itself sets
    "advance-only-anchor-misspelt": Case(
        "advance_only: [last_contact]",
        "advance_only: [last_contakt]",
        "advance_only: [last_contakt]",
        None,
        "anchor 'last_contakt' is not one this event sets (anchors or stamps)",
        KP,
    ),
    "advance-only-anchor-another-event-sets": Case(
        "        completes_task_kind: call\n",
        "        completes_task_kind: call\n        advance_only: [kickoff_held]\n",
        "advance_only: [kickoff_held]",
        None,
        "anchor 'kickoff_held' is not one this event sets (anchors or stamps)",
        WN,
    ),
    "advance-only-a-contract-anchor": Case(
        "        completes_task_kind: kickoff\n",
        "        completes_task_kind: kickoff\n        advance_only: [kickoff_held, signed_at]\n",
        "advance_only: [kickoff_held, signed_at]",
        None,
        "anchor 'signed_at' is not one this event sets (anchors or stamps)",
        PP,
    ),
    "advance-only-on-an-event-without-anchors": Case(
        "        allowed_in: [manual_follow_up]\n",
        "        allowed_in: [manual_follow_up]\n        advance_only: [park_until]\n",
        "advance_only: [park_until]",
        None,
        "anchor 'park_until' is not one this event sets (anchors or stamps)",
    ),
}


@pytest.mark.parametrize("case", list(LIMIT_CASES.values()), ids=list(LIMIT_CASES))
def test_each_limit_problem_names_pipeline_stage_and_line(case: Case) -> None:
    """Offsets beyond ten years, negative business days, a repeating key planned twice, an unknown
    unless_ticked checklist or an advance_only anchor the event does not set: one edit, one problem
    naming the pipeline, the stage (where there is one) and the line."""
    assert_reported(case)


def test_a_one_off_step_sharing_a_repeating_steps_key_is_reported_for_each_stage() -> None:
    """A one-off step in delivery keyed like the shared repeating contact reminder makes the reminder
    of both partnership and expansion a problem, reported at the one line the schedule is written."""
    text = edit("key: programme-week-3", "key: contact-reminder", KP)
    matching = [p for p in problems_of(text) if "shares its key" in p.message]
    line = line_of(text, "key: contact-reminder\n            at: {anchor: [last_contact", KP)
    assert sorted((p.pipeline, p.stage, p.line) for p in matching) == [
        (KP, "expansion", line),
        (KP, "partnership", line),
    ], [str(p) for p in matching]
    assert all("'contact-reminder'" in p.message for p in matching)


def test_offsets_of_exactly_ten_years_are_accepted() -> None:
    """MAX_DAYS itself is allowed either way, for a step's moment and a task's due date."""
    text = edit("at: {anchor: signed_at, days: 3,", "at: {anchor: signed_at, days: 3660,", PP)
    text = edit(
        "at: {anchor: contract:renewal, days: -60,", "at: {anchor: contract:renewal, days: -3660,", KP, text
    )
    text = edit("owner_role: designer, due: {days: 5,", "owner_role: designer, due: {days: 3660,", WN, text)
    pipelines = parse_pipelines(text).pipelines
    assert pipelines[PP].stage("kickoff").schedule[0].at.days == MAX_DAYS
    assert pipelines[KP].deadlines[0].at.days == -MAX_DAYS
    task = pipelines[WN].stage("system_opening").on_enter[0].task
    assert task is not None
    assert task.due.days == MAX_DAYS


@pytest.mark.parametrize(
    ("old", "new", "unit"),
    [
        ("days: 4, unit: business_days,", "days: -4, unit: days,", "days"),
        ("days: 4, unit: business_days,", "days: -1, unit: weeks,", "weeks"),
        ("days: 4, unit: business_days,", "days: 0, unit: business_days,", "business_days"),
    ],
    ids=["days-before", "weeks-before", "zero-business-days"],
)
def test_a_moment_before_its_anchor_in_days_or_weeks_is_accepted(old: str, new: str, unit: str) -> None:
    """Only business days must count forwards; calendar days and weeks may point before the anchor,
    and zero business days is the anchor itself."""
    text = edit(f"at: {{anchor: kickoff_held, {old}", f"at: {{anchor: kickoff_held, {new}", PP)
    step = parse_pipelines(text).pipelines[PP].stage("integration").schedule[0]
    assert step.at.unit == unit


def test_a_repeating_step_planned_alike_in_two_stages_may_share_its_key() -> None:
    """The shipped kundprocess-se shares its repeating steps between partnership and expansion (a
    YAML alias); written out twice with the same plan, they load the same way."""
    pipelines = parse_pipelines(TEXT).pipelines
    partnership, expansion = pipelines[KP].stage("partnership"), pipelines[KP].stage("expansion")
    assert [s.key for s in partnership.schedule] == [s.key for s in expansion.schedule]
    assert all(s.repeat for s in partnership.schedule)

    start, end = block(TEXT, KP)
    shared = TEXT[start:end].split("schedule: &ongoing_contact\n", 1)[1].split("\n\n", 1)[0]
    text = edit("        schedule: *ongoing_contact\n", f"        schedule:\n{shared}\n", KP)
    written_out = parse_pipelines(text)
    assert written_out.pipelines[KP].stage("expansion").schedule == expansion.schedule
    assert written_out.version(KP) == baseline_versions()[KP]


def test_unless_ticked_and_advance_only_naming_their_own_things_are_accepted() -> None:
    """unless_ticked on a deadline with a known checklist, and advance_only on an anchor the event only
    stamps (no payload field), load with the values given."""
    text = edit(
        "        in_stages: [system_opening, training]\n",
        "        in_stages: [system_opening, training]\n        unless_ticked: [launch_ready]\n",
        WN,
    )
    text = edit("        anchors: {last_contact: contacted_on}\n", "", KP, text)
    text = edit(
        "        completes_task_kind: kickoff\n",
        "        completes_task_kind: kickoff\n        advance_only: [kickoff_held]\n",
        PP,
        text,
    )
    pipelines = parse_pipelines(text).pipelines
    [overdue] = [d for d in pipelines[WN].deadlines if d.key == "overdue-day-20"]
    assert overdue.unless_ticked == ("launch_ready",)
    contact = pipelines[KP].events["contact_logged"]
    assert (contact.stamps, dict(contact.anchors), contact.advance_only) == (
        ("last_contact",),
        {},
        ("last_contact",),
    )
    assert pipelines[PP].events["kickoff_held"].advance_only == ("kickoff_held",)


def test_the_shipped_file_uses_unless_ticked_and_advance_only() -> None:
    """kundprocess-se's week-1 warning is skipped once the customer card is complete, and a late
    contact report never moves the contact clock back."""
    kp = parse_pipelines(TEXT).pipelines[KP]
    [warning] = kp.stage("onboarding").schedule
    assert (warning.key, warning.unless_ticked) == ("customer-card-overdue", ("customer_card",))
    assert kp.events["contact_logged"].advance_only == ("last_contact",)


def test_a_problem_in_the_renewal_deadline_is_reported_once_without_a_stage() -> None:
    """kundprocess-se's renewal reminder moved from the shared schedule to a once-per-run deadline:
    a misspelt contract anchor in it is now one problem, under no stage."""
    assert_reported(
        Case(
            "anchor: contract:renewal,",
            "anchor: contract:renewl,",
            "contract:renewl",
            None,
            "unknown anchor 'contract:renewl'",
            KP,
        )
    )


def test_a_module_label_in_a_language_the_pipeline_does_not_offer_is_refused() -> None:
    """Module labels translate into the pipeline's languages only (a typo would never be used)."""
    text = edit("labels: {en: warehouse/fulfilment}", "labels: {sv: lager}", PP)
    (problem,) = problems_of(text)
    assert problem.pipeline == PP
    assert problem.line == line_of(text, "labels: {sv: lager}", PP)
    assert problem.message == "language 'sv' is not among languages ['nb', 'en']"


ASSIST_CALENDAR = "    calendar: {country: SE, categories: [public, de_facto]}\n"


def test_a_business_day_due_date_of_the_kickoff_outcome_task_needs_a_calendar() -> None:
    """assist-se without its calendar: the outcome task's due date in business days is refused, as
    any other business-day offset is (it was let through)."""
    text = edit(
        "due: {anchor: meeting_at, days: 1,",
        "due: {anchor: meeting_at, days: 1, unit: business_days,",
        "assist-se",
    ).replace(ASSIST_CALENDAR, "", 1)
    found = [p for p in problems_of(text) if "need a calendar" in p.message]
    assert found, "the business-day offset was let through"
    assert {(p.pipeline, p.path) for p in found} == {("assist-se", "calendar")}


def test_two_anchors_an_event_may_not_set_are_reported_in_file_order_every_time() -> None:
    """stamps naming signed_at and delivery_start: two problems, signed_at's first (the order no
    longer depends on the interpreter's hash seed)."""
    text = edit("stamps: [kickoff_held]", "stamps: [kickoff_held, signed_at, delivery_start]", PP)
    messages = [p.message for p in problems_of(text) if "comes from the contract" in p.message]
    assert [m.split("'")[1] for m in messages] == ["signed_at", "delivery_start"]
