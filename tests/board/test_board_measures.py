"""The board draws the measures a pipeline declares under the funnel and time in stage: record
sums per status and compliance shares as SVG, over real HTTP; a pipeline that declares none
shows neither. The charts themselves: well-formed, accessible, escaped, with a no-data state."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import Client

from kickoff.mailcatcher import MailCatcher
from kickoff.reports import ComplianceFigures, ComplianceReport, RecordFigures, RecordGroup, RecordsReport
from kickoff.reports.charts import compliance_svg, format_amount, records_svg
from tests.board.support import BoardServer, served_board, signed_in_client, text_of
from tests.reports.test_measures_api import CONTACT, PIPELINE, _pipelines_file, opportunity
from tests.support import eventually, local_today

NS = {"svg": "http://www.w3.org/2000/svg"}
NASTY = "Kund <A&B> – Pågår"


def _parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it is well-formed


@pytest.fixture
async def board_with_measures(
    dev_server: Client, smtp: MailCatcher, tmp_path: Path
) -> AsyncIterator[BoardServer]:
    """A board of its own, reading pipelines.yaml with kundprocess-se's measures open in onboarding."""
    async with served_board(
        dev_server, smtp, tmp_path, session_cookie_secure=False, pipelines_file=_pipelines_file(tmp_path)
    ) as server:
        yield server


def _figure(page: str, chart: str) -> str:
    start = page.index(f'data-chart="{chart}"')
    return page[start : page.index("</figure>", start)]


async def test_the_board_draws_the_declared_measures_under_the_other_charts(
    board_with_measures: BoardServer,
) -> None:
    """After an 85,000 SEK pipeline opportunity and a contact, the records chart shows the sum
    under its status and the compliance chart 100 % of 1; assist-se declares neither chart."""
    server = board_with_measures
    oid = await server.start(pipeline=PIPELINE, delivery_start=local_today().isoformat())
    for name, body in (("opportunity_logged", opportunity(85_000)), ("contact_logged", CONTACT)):
        response = await server.api.http.post(
            f"/onboardings/{oid}/events/{name}", json=body, headers=server.api.auth
        )
        assert response.status_code == 202, response.text
    await server.until(oid, lambda s: s["stage"] == "expansion" and s["records"].get("opportunities"))

    async with signed_in_client(server.base_url) as http:

        async def page() -> str:
            return (await http.get("/board", params={"pipeline": PIPELINE})).text

        shown = await eventually(page, lambda text: "100 % (1 of 1)" in text_of(_figure(text, "compliance")))
        other = (await http.get("/board", params={"pipeline": "assist-se"})).text
    charts = [
        chart
        for chart in ("funnel", "stage-times", "records", "compliance")
        if f'data-chart="{chart}"' in shown
    ]
    assert charts == ["funnel", "stage-times", "records", "compliance"]
    assert [shown.index(f'data-chart="{chart}"') for chart in charts] == sorted(
        shown.index(f'data-chart="{chart}"') for chart in charts
    )
    records = text_of(_figure(shown, "records"))
    assert "Möjligheter per status (SEK): 85 000 (n = 1)" in records
    assert "pipeline 85 000 (n = 1)" in records
    assert "invoiced 0 (n = 0)" in records
    assert "<svg" in _figure(shown, "records")
    assert 'data-chart="records"' not in other
    assert 'data-chart="compliance"' not in other


def _records(*groups: tuple[str, int, float]) -> RecordsReport:
    figures = RecordFigures(
        id="value",
        label=NASTY,
        record="opportunities",
        sum_of="value",
        by="status",
        records=sum(n for _, n, _ in groups),
        total=sum(s for _, _, s in groups),
        groups=[RecordGroup(key=key, label=key, records=n, sum=s) for key, n, s in groups],
    )
    return RecordsReport(pipeline="kundprocess-se", measures=[figures])


def _compliance(*shares: tuple[int, int, int]) -> ComplianceReport:
    measures = [
        ComplianceFigures(
            id=f"m{index}",
            label=NASTY,
            kind="recent",
            met=met,
            of=of,
            share=met / of if of else None,
            undecided=undecided,
        )
        for index, (met, of, undecided) in enumerate(shares)
    ]
    return ComplianceReport(
        pipeline="kundprocess-se", as_of=datetime(2027, 1, 1, tzinfo=UTC), measures=measures
    )


@pytest.mark.parametrize(
    "svg",
    [
        records_svg(_records(("invoiced", 2, 120_000.0), ("pipeline", 1, 85_000.5))),
        compliance_svg(_compliance((3, 4, 0), (0, 0, 2))),
    ],
    ids=["records", "compliance"],
)
def test_measure_charts_are_accessible_images_with_escaped_labels(svg: str) -> None:
    """Well-formed SVG with role img, a title and an aria-label reading every figure; the labels
    from pipelines.yaml are escaped, and there is no script."""
    root = _parsed(svg)
    assert root.get("role") == "img"
    assert root.find("svg:title", NS) is not None
    assert NASTY in (root.get("aria-label") or "")
    assert "<script" not in svg
    assert "<A&B>" not in svg


def test_a_record_chart_has_a_bar_per_group_with_its_sum_and_count() -> None:
    """Two groups, two bars; the larger sum gets the longer bar."""
    root = _parsed(records_svg(_records(("invoiced", 2, 120_000.0), ("pipeline", 1, 85_000.5))))
    bars = root.findall(".//svg:rect[@class='bar']", NS)
    assert len(bars) == 2
    assert float(bars[0].get("width", "0")) > float(bars[1].get("width", "0"))
    values = [element.text for element in root.findall(".//svg:text[@class='value']", NS)]
    assert values == ["120 000 (n = 2)", "85 000.50 (n = 1)"]


def test_a_compliance_chart_says_the_share_and_what_is_not_decided_yet() -> None:
    """75 % of 4; a measure nothing counts for yet says so, with its undecided onboardings."""
    root = _parsed(compliance_svg(_compliance((3, 4, 0), (0, 0, 2))))
    values = [element.text for element in root.findall(".//svg:text[@class='value']", NS)]
    assert values == ["75 % (3 of 4)", "no onboarding counts yet, 2 not decided yet"]


def test_a_pipeline_without_measures_gets_a_no_data_chart() -> None:
    """Neither chart is empty markup: each says what is missing."""
    empty = RecordsReport(pipeline="assist-se", measures=[])
    assert "declares no record reports" in records_svg(empty)
    none = ComplianceReport(pipeline="assist-se", as_of=datetime(2027, 1, 1, tzinfo=UTC), measures=[])
    assert "declares no compliance measures" in compliance_svg(none)


@pytest.mark.parametrize(
    ("value", "text"), [(0.0, "0"), (85_000.0, "85 000"), (1_200.5, "1 200.50"), (-3_000_000.0, "-3 000 000")]
)
def test_amounts_read_with_thousands_apart(value: float, text: str) -> None:
    """Whole amounts without decimals, others with two."""
    assert format_amount(value) == text
