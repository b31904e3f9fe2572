"""A ``Simulation`` drawn as an SVG timeline (no chart library, no script), for the board.

One band of stage visits along a time axis in the pipeline's local time, and below it one lane
each for the steps that fired, the tasks created, the mails sent and the script's actions
(refused ones crossed out in red). Every mark carries its text as a ``<title>`` (the browser's
tooltip); the SVG is an image to assistive technology with a summary, and the board lists the
same plan as text beside it. Text is XML-escaped, as in ``kickoff.reports.charts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from html import escape

from kickoff.schedule import start_of_day, zone
from kickoff.simulate.plan import Simulation

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH = 960
_LEFT = 92
_RIGHT = 16
_BAND_TOP, _BAND = 28, 30
_LANES = ("Steps", "Tasks", "Mails", "Script")
_LANE_TOP, _LANE = 78, 26
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
STAGE_COLOURS = ("#2b6cb0", "#2f855a", "#b7791f", "#6b46c1", "#c05621", "#2c7a7b", "#97266d", "#4a5568")
_REFUSED = "#c53030"
_MARK = "#1a202c"


def _text(value: str) -> str:
    return escape(value, quote=True)


def _short(label: str, room: float) -> str:
    """As much of ``label`` as fits in ``room`` pixels (about 7 a character at 12 px)."""
    fits = int(room // 7)
    return label if len(label) <= fits else label[: max(fits - 1, 0)] + "…"


class _Scale:
    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.seconds = max((end - start).total_seconds(), 3600.0)

    def x(self, moment: datetime) -> float:
        share = min(max((moment - self.start).total_seconds() / self.seconds, 0.0), 1.0)
        return _LEFT + share * (WIDTH - _LEFT - _RIGHT)


def _end(sim: Simulation) -> datetime:
    """Where the axis ends: at the last thing that happened when the run completed, else at the
    preview's end."""
    if sim.ended == "goal" and sim.entries:
        last = max(entry.at for entry in sim.entries)
        # A little room after the end, so that the goal stage shows as a band.
        return last + max((last - sim.start.at) / 25, timedelta(hours=12))
    return sim.until.at


def _ticks(sim: Simulation, start: datetime, end: datetime) -> Iterator[datetime]:
    """Local midnights for the axis: every day up to a month, Mondays up to half a year, else
    the first of each month."""
    tz = sim.timezone
    span = end - start
    day = start.astimezone(zone(tz)).date() + timedelta(days=1)
    while (moment := start_of_day(day, tz)) <= end:
        if span <= timedelta(days=31) or (
            day.weekday() == 0 if span <= timedelta(days=183) else day.day == 1
        ):
            yield moment
        day += timedelta(days=1)


def timeline_svg(sim: Simulation) -> str:
    start, end = sim.start.at, _end(sim)
    scale = _Scale(start, end)
    tz = zone(sim.timezone)
    axis_y = _LANE_TOP + len(_LANES) * _LANE + 6
    height = axis_y + 34
    body: list[str] = []
    order: dict[str, int] = {}
    for change in sim.stages:  # a stage keeps the colour of its first visit
        order.setdefault(change.stage, len(order))
    for index, change in enumerate(sim.stages):
        until = sim.stages[index + 1].at if index + 1 < len(sim.stages) else end
        x0, x1 = scale.x(change.at), scale.x(until)
        colour = STAGE_COLOURS[order[change.stage] % len(STAGE_COLOURS)]
        tip = f"{change.label} ({change.stage}) from {change.local}: {change.cause}"
        body += [
            f'<g class="stage" data-stage="{_text(change.stage)}"><title>{_text(tip)}</title>',
            f'<rect x="{x0:.1f}" y="{_BAND_TOP}" width="{max(x1 - x0, 2):.1f}" height="{_BAND}"'
            f' fill="{colour}" rx="3"/>',
        ]
        if x1 - x0 > 24:
            body.append(
                f'<text x="{x0 + 5:.1f}" y="{_BAND_TOP + 19}" fill="#fff" font-size="12">'
                f"{_text(_short(change.label, x1 - x0 - 8))}</text>"
            )
        body.append("</g>")
    for lane, name in enumerate(_LANES):
        y = _LANE_TOP + lane * _LANE
        body += [
            f'<text x="0" y="{y + 4}" font-size="12" fill="currentColor">{name}</text>',
            f'<line x1="{_LEFT}" y1="{y}" x2="{WIDTH - _RIGHT}" y2="{y}" stroke="#d8dde3"/>',
        ]
    steps, tasks, mails, script = (_LANE_TOP + lane * _LANE for lane in range(len(_LANES)))
    for firing in sim.firings:
        x, colour = scale.x(firing.at), "#a0aec0" if firing.skipped else _MARK
        skipped = " (skipped)" if firing.skipped else ""
        tip = f"{firing.local}: {firing.kind} {firing.summary}{skipped}"
        body.append(
            f'<g class="mark step"><title>{_text(tip)}</title><rect x="{x - 1.5:.1f}" y="{steps - 8}"'
            f' width="3" height="16" fill="{colour}"/></g>'
        )
    for task in sim.tasks:
        x = scale.x(task.created.at)
        who = task.role or task.owner_role or task.owner
        tip = f"{task.created.local}: task {task.title} ({who}), due {task.due.local}"
        body.append(
            f'<g class="mark task"><title>{_text(tip)}</title><rect x="{x - 4:.1f}" y="{tasks - 4}"'
            f' width="8" height="8" fill="none" stroke="{_MARK}" stroke-width="1.5"/></g>'
        )
    for mail in sim.mails:
        x = scale.x(mail.at)
        tip = f"{mail.local}: mail {mail.template} to {mail.recipient} in {mail.language}"
        body.append(
            f'<g class="mark mail"><title>{_text(tip)}</title>'
            f'<circle cx="{x:.1f}" cy="{mails}" r="4.5" fill="{_MARK}"/></g>'
        )
    for outcome in sim.script:
        x = scale.x(outcome.at)
        if outcome.accepted:
            tip = f"{outcome.local}: {outcome.action} {outcome.name}"
            shape = (
                f'<path d="M{x:.1f} {script - 6} l6 6 l-6 6 l-6 -6 z" fill="#fff" stroke="{_MARK}"'
                ' stroke-width="1.5"/>'
            )
        else:
            tip = f"{outcome.local}: {outcome.action} {outcome.name} refused: {outcome.refusal}"
            shape = (
                f'<path d="M{x - 5:.1f} {script - 5} l10 10 m0 -10 l-10 10" stroke="{_REFUSED}"'
                ' stroke-width="2.5"/>'
            )
        state = "accepted" if outcome.accepted else "refused"
        body.append(f'<g class="mark action {state}"><title>{_text(tip)}</title>{shape}</g>')
    body.append(
        f'<line x1="{_LEFT}" y1="{axis_y}" x2="{WIDTH - _RIGHT}" y2="{axis_y}" stroke="currentColor"/>'
    )
    shown = 0.0
    for tick in _ticks(sim, start, end):
        x = scale.x(tick)
        body.append(
            f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="currentColor"/>'
        )
        near_end = x > WIDTH - _RIGHT - 20  # a label there ends at its tick, inside the picture
        if (x - 20 if near_end else x) - shown >= 44:  # labels never overlap; the ticks stay
            label = tick.astimezone(tz).strftime("%d %b")
            anchor = "end" if near_end else "middle"
            body.append(
                f'<text x="{x:.1f}" y="{axis_y + 17}" font-size="11" text-anchor="{anchor}"'
                f' fill="currentColor">{label}</text>'
            )
            shown = x
    refused = sum(not outcome.accepted for outcome in sim.script)
    summary = (
        f"Preview of {sim.pipeline} from {sim.start.local} to {_local(end, sim.timezone)}: "
        f"{len(sim.stages)} stage entries ({', '.join(c.label for c in sim.stages)}), "
        f"{len(sim.firings)} steps, {len(sim.tasks)} tasks, {len(sim.mails)} mails, "
        f"{len(sim.script)} scripted actions ({refused} refused)"
    )
    title = f"{sim.pipeline_name}: the plan in {sim.timezone} time"
    return "\n".join(
        [
            f'<svg xmlns="{SVG_NS}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
            f' role="img" aria-label="{_text(summary)}" font-family="{_FONT}" font-size="13"'
            ' style="max-width:100%;height:auto">',
            f"<title>{_text(title)}</title>",
            f"<desc>{_text(summary)}</desc>",
            f'<text x="0" y="{_BAND_TOP + 19}" font-size="12" fill="currentColor">Stages</text>',
            *body,
            "</svg>",
        ]
    )


def _local(moment: datetime, tz: str) -> str:
    return moment.astimezone(zone(tz)).strftime("%a %Y-%m-%d %H:%M %Z")
