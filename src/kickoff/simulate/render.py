"""A ``Simulation`` as text for a terminal: the plan in time order, the script's outcomes, the tasks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kickoff.simulate.plan import Changes, ScriptOutcome, Simulation

WHAT = {
    "contract": "contract",
    "stage": "stage",
    "task": "task",
    "task_done": "task done",
    "mail": "mail",
    "step": "step",
    "deadline": "deadline",
    "skipped": "skipped",
    "action": "script",
    "refused": "refused",
    "completed": "completed",
}
ENDED = {
    "goal": "the onboarding completed",
    "until": "the preview's end came first",
    "waiting": "nothing more is scheduled: the run waits for staff",
    "limit": "the preview's step limit was reached",
}


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    """Rows in columns as wide as their widest cell (the last column runs on)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in [header, *rows]
    ]


def render(sim: Simulation) -> str:
    lines = [
        f"{sim.pipeline} · {sim.pipeline_name} · version {sim.version} · times in {sim.timezone}",
        f"{sim.onboarding_id}: from {sim.start.local} until {sim.until.local}",
        "",
    ]
    rows: list[list[str]] = []
    last = ""
    for entry in sim.entries:
        when = entry.local if entry.local != last else ""
        last = entry.local
        rows.append([when, WHAT[entry.kind], entry.stage, entry.text])
    lines += table(rows, ["WHEN", "WHAT", "STAGE", "DETAIL"])
    lines += ["", f"Ended: {ENDED[sim.ended]} · {sim.stage_label} ({sim.stage}), {sim.status}"]
    if sim.next_step is not None:
        lines.append(f"Next: {sim.next_step.summary} at {sim.next_step.local}")
    if sim.script:
        lines += ["", "Script", *(f"  {line}" for line in _outcomes(sim.script))]
    if sim.tasks:
        task_rows = [
            [task.status, task.due.local, task.role or task.owner_role or task.owner, task.title]
            for task in sim.tasks
        ]
        lines += ["", f"Tasks ({len(sim.tasks)})"]
        lines += [f"  {line}" for line in table(task_rows, ["STATUS", "DUE", "WHO", "TITLE"])]
    for warning in sim.warnings:
        lines += ["", f"Note: {warning}"]
    return "\n".join(lines) + "\n"


def _outcomes(outcomes: Iterable[ScriptOutcome]) -> list[str]:
    lines = []
    for outcome in outcomes:
        head = f"#{outcome.index} {outcome.local}  {outcome.action} {outcome.name}: "
        if not outcome.accepted:
            kind = (outcome.refusal_kind or "").replace("_", " ")
            lines.append(f"{head}refused ({kind}): {outcome.refusal}")
            continue
        stage = (
            f"{outcome.stage_before} → {outcome.stage_after}"
            if outcome.stage_before != outcome.stage_after
            else f"stays in {outcome.stage_after}"
        )
        lines.append(head + "; ".join([f"accepted, {stage}", *_changed(outcome.changes)]))
    return lines


def _changed(changes: Changes) -> list[str]:
    parts = []
    if changes.tasks_closed:
        parts.append("closes " + ", ".join(repr(t.title) for t in changes.tasks_closed))
    if changes.tasks_created:
        parts.append("creates " + ", ".join(repr(t.title) for t in changes.tasks_created))
    if changes.mails:
        parts.append("mails " + ", ".join(mail.template for mail in changes.mails))
    for name, value in changes.anchors.items():
        parts.append(f"{name} = {value}" if value else f"{name} cleared")
    return parts
