"""The report charts: well-formed, accessible SVG with one bar per stage, escaped text and a no-data state."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from kickoff.reports import (
    FunnelReport,
    StageCount,
    StageTime,
    StageTimesReport,
    funnel_svg,
    stage_times_svg,
)
from kickoff.reports.charts import format_hours

NS = {"svg": "http://www.w3.org/2000/svg"}
NASTY = "Kund <A&B> – Pågår"


def funnel_report(counts: dict[str, int], labels: dict[str, str] | None = None) -> FunnelReport:
    labels = labels or {}
    stages = [StageCount(stage=s, label=labels.get(s, s.title()), count=c) for s, c in counts.items()]
    return FunnelReport(pipeline="assist-se", stages=stages, total=sum(counts.values()))


def times_report(
    rows: dict[str, tuple[int, float | None, float | None]], **fields: object
) -> StageTimesReport:
    stages = [
        StageTime(stage=s, label=s.title(), visits=n, median_hours=median, p90_hours=p90)
        for s, (n, median, p90) in rows.items()
    ]
    values: dict[str, object] = {
        "pipeline": "assist-se",
        "onboardings": 4,
        "goal_stages": ["closed"],
        "closed_within_30_days": 0.25,
        "closed_within_30_days_of": 4,
        **fields,
    }
    return StageTimesReport.model_validate({"stages": stages, **values})


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it is well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(element.itertext()) for element in root.iterfind(".//svg:text", NS)]


FUNNEL = funnel_report({"new": 0, "onboarding": 7, "manual_follow_up": 2, "closed": 3})
TIMES = times_report({"new": (4, 0.5, 2.0), "onboarding": (2, 30.0, 100.0), "closed": (0, None, None)})
CHARTS = [
    pytest.param(funnel_svg(FUNNEL), id="funnel"),
    pytest.param(stage_times_svg(TIMES), id="stage-times"),
]


@pytest.mark.parametrize("svg", CHARTS)
def test_chart_is_an_accessible_image_with_title_and_label(svg: str) -> None:
    """The SVG is role=img with a <title> first and an aria-label, and carries a fixed viewBox."""
    root = parse(svg)
    assert root.get("role") == "img"
    assert root[0].tag == "{http://www.w3.org/2000/svg}title"
    assert root[0].text
    assert root.get("aria-label")
    assert root.get("viewBox", "").startswith("0 0 ")
    assert not svg.startswith("<?xml")  # inlined into HTML as it is


@pytest.mark.parametrize("svg", CHARTS)
def test_chart_has_no_script_links_or_external_fonts(svg: str) -> None:
    """Nothing in the chart runs or loads anything: no script, event handler, link, image or web font."""
    elements = list(parse(svg).iter())
    tags = {element.tag.rsplit("}", 1)[-1].lower() for element in elements}
    assert not tags & {"script", "style", "image", "use", "a", "foreignobject"}
    for element in elements:
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert "href" not in name.lower(), name
            assert "url(" not in value.lower(), value


def test_funnel_has_one_bar_per_stage_labelled_with_its_count() -> None:
    """One bar per stage in report order, widths proportional to the counts, each count written out."""
    root = parse(funnel_svg(FUNNEL))
    bars = root.findall(".//svg:rect[@class='bar']", NS)
    assert len(bars) == len(FUNNEL.stages)
    widths = [float(bar.get("width", "nan")) for bar in bars]
    assert widths[0] == 0
    assert widths[1] == max(widths)
    assert widths[2] == pytest.approx(widths[1] * 2 / 7, abs=0.1)
    values = [v.text for v in root.findall(".//svg:text[@class='value']", NS)]
    assert values == ["0", "7", "2", "3"]
    assert "Onboarding" in texts(root)
    label = root.get("aria-label", "")
    assert "12 in all" in label
    assert "Onboarding 7" in label


def test_stage_times_has_one_bar_per_stage_with_median_p90_and_visits() -> None:
    """Per stage a median bar (over a p90 bar) and the figures in hours or days; the 30-day share below."""
    root = parse(stage_times_svg(TIMES))
    assert len(root.findall(".//svg:rect[@class='bar']", NS)) == 3
    assert len(root.findall(".//svg:rect[@class='p90']", NS)) == 3
    values = [v.text for v in root.findall(".//svg:text[@class='value']", NS)]
    assert values == [
        "median 0.5 h · p90 2 h (n = 4)",
        "median 30 h · p90 4.2 d (n = 2)",
        "no finished visits",
    ]
    [share] = root.findall(".//svg:text[@class='share']", NS)
    assert share.text == "Reached a goal stage (closed) within 30 days: 25 % of 4 onboardings"
    assert "median 30 h" in root.get("aria-label", "")


@pytest.mark.parametrize("chart", ["funnel", "stage-times"])
def test_stage_labels_are_escaped(chart: str) -> None:
    """Labels with < & > and non-ASCII letters come out escaped and read back unchanged."""
    if chart == "funnel":
        svg = funnel_svg(funnel_report({"x": 2}, labels={"x": NASTY}))
    else:
        report = times_report({"x": (1, 1.0, 1.0)})
        report.stages[0].label = NASTY
        svg = stage_times_svg(report)
    assert NASTY not in svg
    assert "Kund &lt;A&amp;B&gt; – Pågår" in svg
    root = parse(svg)
    assert NASTY in texts(root)
    assert NASTY in root.get("aria-label", "")


def test_pipeline_name_in_title_is_escaped() -> None:
    """The title text is escaped too (it names the pipeline)."""
    report = funnel_report({"new": 1})
    report.pipeline = 'a"<b>'
    root = parse(funnel_svg(report))
    assert root[0].text is not None
    assert 'a"<b>' in root[0].text


def test_long_labels_are_shortened_with_the_full_label_in_the_tooltip() -> None:
    """A label too long for the label column is cut with an ellipsis; the row's tooltip has it whole."""
    long = "Onboarding – väntar på kundens underlag och signerad bilaga"
    root = parse(funnel_svg(funnel_report({"x": 1}, labels={"x": long})))
    assert long not in texts(root)
    assert any(t.endswith("…") and long.startswith(t[:-1]) for t in texts(root))
    tooltips = ["".join(t.itertext()) for t in root.iterfind(".//svg:g/svg:title", NS)]
    assert tooltips == [f"{long}: 1"]


@pytest.mark.parametrize(
    ("svg", "message"),
    [
        pytest.param(funnel_svg(funnel_report({"new": 0, "closed": 0})), "No onboardings yet", id="funnel"),
        pytest.param(funnel_svg(funnel_report({})), "No onboardings yet", id="funnel-no-stages"),
        pytest.param(
            stage_times_svg(
                times_report(
                    {"new": (0, None, None)},
                    onboardings=0,
                    closed_within_30_days=None,
                    closed_within_30_days_of=0,
                )
            ),
            "No finished stage visits yet",
            id="stage-times",
        ),
        pytest.param(
            stage_times_svg(times_report({}, onboardings=0, closed_within_30_days=None)),
            "No finished stage visits yet",
            id="stage-times-no-stages",
        ),
    ],
)
def test_empty_report_says_there_is_no_data(svg: str, message: str) -> None:
    """A report without onboardings renders a titled chart with a no-data text and no bars."""
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.findall(".//svg:rect", NS) == []
    [no_data] = root.findall(".//svg:text[@class='no-data']", NS)
    assert no_data.text == message
    assert message in root.get("aria-label", "")


def test_share_without_decided_onboardings_says_so() -> None:
    """No decided onboarding yet: the share line says so instead of showing 0 %."""
    root = parse(stage_times_svg(times_report({"new": (1, 0.1, 0.1)}, closed_within_30_days=None)))
    [share] = root.findall(".//svg:text[@class='share']", NS)
    assert share.text == "Reached a goal stage (closed) within 30 days: no onboarding decided yet"


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (0.0, "0 h"),
        (0.04, "0 h"),
        (0.25, "0.2 h"),
        (1.0, "1 h"),
        (36.0, "36 h"),
        (47.9, "47.9 h"),
        (48.0, "2 d"),
        (300.0, "12.5 d"),
    ],
)
def test_hours_read_as_hours_below_two_days_and_days_above(hours: float, text: str) -> None:
    """Figures keep at most one decimal; two days and longer are shown in days."""
    assert format_hours(hours) == text
