"""Server-rendered SVG charts of the reports (no chart library, no script).

Each chart is a horizontal bar chart, one row per stage: the stage label on the left, the bar,
and its figure next to it. The SVG is an image to assistive technology (``role="img"``) with a
``<title>`` and an ``aria-label`` that read out every figure, since the bars themselves cannot be
read. Text is XML-escaped (stage labels come from pipelines.yaml), fonts are the system's, and
there is no script, so the board can embed the string as it is (Jinja's ``|safe``). The markup is
also well-formed XML, with no XML declaration, so it can be inlined in HTML or served as a file.
"""

from __future__ import annotations

from html import escape

from kickoff.reports.compute import FunnelReport, StageTimesReport
from kickoff.reports.measures import ComplianceReport, RecordFigures, RecordsReport

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH = 720
"""The viewBox width; the chart scales down to narrower containers."""
_LABEL_WIDTH = 240
_VALUE_WIDTH = 220
_BAR_MAX = WIDTH - _LABEL_WIDTH - _VALUE_WIDTH - 20
_TOP = 36
_ROW = 30
_BAR = 18
_BOTTOM = 16
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_BAR_COLOUR = "#2b6cb0"
_P90_COLOUR = "#90cdf4"
_MAX_LABEL = 26
"""Characters of a stage label shown before it is shortened (the full label is in the tooltip)."""


def _text(value: str) -> str:
    """Escape for element content and double-quoted attributes alike."""
    return escape(value, quote=True)


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


def _number(value: float) -> str:
    """Human figures: one decimal at most, no trailing ``.0``."""
    return f"{value:.1f}".removesuffix(".0")


def format_hours(hours: float) -> str:
    """``0.4 h``, ``36 h``; two days and more in days (``12.5 d``)."""
    if hours >= 48:
        return f"{_number(hours / 24)} d"
    return f"{_number(hours)} h"


def _svg(title: str, summary: str, height: int, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="{SVG_NS}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
            f' role="img" aria-label="{_text(summary)}" font-family="{_FONT}" font-size="13"'
            ' style="max-width:100%;height:auto">',
            f"<title>{_text(title)}</title>",
            f"<desc>{_text(summary)}</desc>",
            f'<text x="0" y="18" font-size="15" font-weight="600" fill="currentColor">{_text(title)}</text>',
            *body,
            "</svg>",
        ]
    )


def _no_data(title: str, message: str) -> str:
    height = _TOP + _ROW + _BOTTOM
    body = [f'<text class="no-data" x="0" y="{_TOP + 18}" fill="currentColor">{_text(message)}</text>']
    return _svg(title, f"{title}: {message}", height, body)


def _row(index: int, label: str, tooltip: str) -> tuple[int, list[str]]:
    """The y of row ``index``'s bar and its label (with the full text as a tooltip)."""
    y = _TOP + index * _ROW
    return y, [
        f'<g class="stage"><title>{_text(tooltip)}</title>',
        f'<text x="{_LABEL_WIDTH - 8}" y="{y + _BAR - 4}" text-anchor="end" fill="currentColor">'
        f"{_text(_short(label))}</text>",
    ]


def _width(value: float, largest: float) -> float:
    return round(value / largest * _BAR_MAX, 1) if largest > 0 else 0.0


def funnel_svg(report: FunnelReport) -> str:
    """Onboardings per stage as bars, each labelled with its count."""
    title = f"Onboardings per stage – {report.pipeline}"
    if report.total == 0 or not report.stages:
        return _no_data(title, "No onboardings yet")
    largest = max(stage.count for stage in report.stages)
    body = []
    for index, stage in enumerate(report.stages):
        y, row = _row(index, stage.label, f"{stage.label}: {stage.count}")
        width = _width(stage.count, largest)
        body += [
            *row,
            f'<rect class="bar" x="{_LABEL_WIDTH}" y="{y}" width="{width}" height="{_BAR}"'
            f' fill="{_BAR_COLOUR}" rx="2"/>',
            f'<text class="value" x="{_LABEL_WIDTH + width + 6:.1f}" y="{y + _BAR - 4}"'
            f' fill="currentColor">{stage.count}</text>',
            "</g>",
        ]
    figures = ", ".join(f"{stage.label} {stage.count}" for stage in report.stages)
    summary = f"{title}, {report.total} in all: {figures}"
    return _svg(title, summary, _TOP + len(report.stages) * _ROW + _BOTTOM, body)


def _stage_time_text(median: float | None, p90: float | None, visits: int) -> str:
    if median is None or p90 is None:
        return "no finished visits"
    return f"median {format_hours(median)} · p90 {format_hours(p90)} (n = {visits})"


def stage_times_svg(report: StageTimesReport) -> str:
    """Time in stage: per stage a light bar for the 90th percentile with the median bar over it,
    labelled with both figures and the number of visits; the 30-day goal share underneath."""
    title = f"Time in stage – {report.pipeline}"
    if not any(stage.visits for stage in report.stages):
        return _no_data(title, "No finished stage visits yet")
    largest = max(stage.p90_hours or 0.0 for stage in report.stages)
    legend = WIDTH - 250
    body = [
        '<g class="legend" aria-hidden="true">',
        f'<rect x="{legend}" y="7" width="12" height="12" fill="{_BAR_COLOUR}"/>',
        f'<text x="{legend + 17}" y="17" fill="currentColor">median</text>',
        f'<rect x="{legend + 85}" y="7" width="12" height="12" fill="{_P90_COLOUR}"/>',
        f'<text x="{legend + 102}" y="17" fill="currentColor">90th percentile</text>',
        "</g>",
    ]
    for index, stage in enumerate(report.stages):
        figures = _stage_time_text(stage.median_hours, stage.p90_hours, stage.visits)
        y, row = _row(index, stage.label, f"{stage.label}: {figures}")
        p90 = _width(stage.p90_hours or 0.0, largest)
        median = _width(stage.median_hours or 0.0, largest)
        body += [
            *row,
            f'<rect class="p90" x="{_LABEL_WIDTH}" y="{y}" width="{p90}" height="{_BAR}"'
            f' fill="{_P90_COLOUR}" rx="2"/>',
            f'<rect class="bar" x="{_LABEL_WIDTH}" y="{y + 4}" width="{median}" height="{_BAR - 8}"'
            f' fill="{_BAR_COLOUR}"/>',
            f'<text class="value" x="{_LABEL_WIDTH + p90 + 6:.1f}" y="{y + _BAR - 4}"'
            f' fill="currentColor">{_text(figures)}</text>',
            "</g>",
        ]
    rows = len(report.stages)
    share = _share_text(report)
    body.append(
        f'<text class="share" x="0" y="{_TOP + rows * _ROW + 14}" fill="currentColor">{_text(share)}</text>'
    )
    per_stage = "; ".join(
        f"{s.label}: {_stage_time_text(s.median_hours, s.p90_hours, s.visits)}" for s in report.stages
    )
    summary = f"{title}. {per_stage}. {share}"
    return _svg(title, summary, _TOP + rows * _ROW + 24 + _BOTTOM, body)


def _share_text(report: StageTimesReport) -> str:
    goals = ", ".join(report.goal_stages) or "none"
    if report.closed_within_30_days is None:
        return f"Reached a goal stage ({goals}) within 30 days: no onboarding decided yet"
    percent = round(report.closed_within_30_days * 100)
    return (
        f"Reached a goal stage ({goals}) within 30 days: {percent} %"
        f" of {report.closed_within_30_days_of} onboardings"
    )


# ---------------------------------------------------------------- the declared measures

_TRACK_COLOUR = "#e2e8f0"
_HEADING = 26
"""Height of a record measure's heading line."""


def format_amount(value: float) -> str:
    """``85 000``, ``1 200.50``: thousands apart with a space, decimals only when there are any."""
    whole = abs(value - round(value)) < 0.005
    text = f"{round(value):,}" if whole else f"{value:,.2f}"
    return text.replace(",", " ")


def _group_text(figure: float, records: int, summed: bool) -> str:
    return f"{format_amount(figure)} (n = {records})" if summed else str(records)


def _measure_rows(measure: RecordFigures, top: int) -> tuple[int, list[str], list[str]]:
    """A record measure's heading and a bar per group (one for all when it is not grouped),
    from ``top``; the height used, the SVG body and the figures read out."""
    summed = measure.sum_of is not None
    total = measure.total if summed and measure.total is not None else float(measure.records)
    heading = f"{measure.label}: {_group_text(total, measure.records, summed)}"
    body = [
        f'<text class="measure" x="0" y="{top + 17}" font-weight="600" fill="currentColor">'
        f"{_text(heading)}</text>"
    ]
    rows = [
        (group.label, group.sum if summed and group.sum is not None else float(group.records), group.records)
        for group in measure.groups
    ] or [("all", total, measure.records)]
    largest = max(max(figure for _, figure, _ in rows), 0.0)
    read = []
    for index, (label, figure, records) in enumerate(rows):
        y = top + _HEADING + index * _ROW
        text = _group_text(figure, records, summed)
        width = _width(max(figure, 0.0), largest)
        body += [
            f'<g class="group"><title>{_text(f"{label}: {text}")}</title>',
            f'<text x="{_LABEL_WIDTH - 8}" y="{y + _BAR - 4}" text-anchor="end" fill="currentColor">'
            f"{_text(_short(label))}</text>",
            f'<rect class="bar" x="{_LABEL_WIDTH}" y="{y}" width="{width}" height="{_BAR}"'
            f' fill="{_BAR_COLOUR}" rx="2"/>',
            f'<text class="value" x="{_LABEL_WIDTH + width + 6:.1f}" y="{y + _BAR - 4}"'
            f' fill="currentColor">{_text(text)}</text>',
            "</g>",
        ]
        read.append(f"{label} {text}")
    return _HEADING + len(rows) * _ROW + 8, body, [f"{heading} ({', '.join(read)})"]


def records_svg(report: RecordsReport) -> str:
    """The pipeline's record measures: per measure its total, then a bar per group (the sum of
    its field, or its count) labelled with the figure and the number of records."""
    title = f"Records – {report.pipeline}"
    if not report.measures:
        return _no_data(title, "The pipeline declares no record reports")
    top, body, read = _TOP - 8, list[str](), list[str]()
    for measure in report.measures:
        height, rows, figures = _measure_rows(measure, top)
        top, body, read = top + height, body + rows, read + figures
    return _svg(title, f"{title}. {'; '.join(read)}", top + _BOTTOM, body)


def _compliance_text(met: int, of: int, share: float | None, undecided: int) -> str:
    later = f", {undecided} not decided yet" if undecided else ""
    if share is None:
        return f"no onboarding counts yet{later}"
    return f"{round(share * 100)} % ({met} of {of}){later}"


def compliance_svg(report: ComplianceReport) -> str:
    """The pipeline's compliance shares: per measure a bar out of 100 %, with the share and
    how many onboardings it is of (and those not decided yet)."""
    title = f"Compliance – {report.pipeline}"
    if not report.measures:
        return _no_data(title, "The pipeline declares no compliance measures")
    body: list[str] = []
    read: list[str] = []
    for index, measure in enumerate(report.measures):
        text = _compliance_text(measure.met, measure.of, measure.share, measure.undecided)
        y, row = _row(index, measure.label, f"{measure.label}: {text}")
        width = _width(measure.share or 0.0, 1.0)
        body += [
            *row,
            f'<rect class="track" x="{_LABEL_WIDTH}" y="{y}" width="{_BAR_MAX}" height="{_BAR}"'
            f' fill="{_TRACK_COLOUR}" rx="2"/>',
            f'<rect class="bar" x="{_LABEL_WIDTH}" y="{y}" width="{width}" height="{_BAR}"'
            f' fill="{_BAR_COLOUR}" rx="2"/>',
            f'<text class="value" x="{_LABEL_WIDTH + _BAR_MAX + 6}" y="{y + _BAR - 4}"'
            f' fill="currentColor">{_text(text)}</text>',
            "</g>",
        ]
        read.append(f"{measure.label}: {text}")
    summary = f"{title}. {'; '.join(read)}"
    return _svg(title, summary, _TOP + len(report.measures) * _ROW + _BOTTOM, body)
