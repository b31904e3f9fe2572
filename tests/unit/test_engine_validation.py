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
from tests.unit.test_pipeline_validation import (
    TEXT,
    Case,
    assert_reported,
    baseline_versions,
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
        "contacted_on: {type: date}",
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
        "unknown template 'golive' (templates: welcome, kickoff_reminder, live, feedback)",
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
        ("anchor: contract:renewal,", "anchor: contract:renewl,", "unknown anchor 'contract:renewl'"),
        (
            "entered:partnership], days: 90,",
            "entered:partnership], days: 0,",
            "a repeating step needs a positive offset",
        ),
    ],
    ids=["list-anchor", "contract-anchor", "repeat-days"],
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
