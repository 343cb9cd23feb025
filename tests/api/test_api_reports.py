"""Shift reports over the API: the numbers are the MES numbers, in HTML, PDF and JSON."""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from andon import mes
from andon.api import create_app
from andon.config import Settings
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.signals import CountUpdate, StateChange

T6 = 1_763_704_800_000  # 2025-11-21T06:00:00Z, the early shift starts
MIN = 60_000
LINE = "acme/p1/mach/l1"
M1, M2 = f"{LINE}/m1", f"{LINE}/m2"
CALENDAR = {
    "timezone": "UTC",
    "shifts": [
        {
            "name": "early",
            "start": "06:00",
            "hours": 8,
            "breaks": [{"start": "09:45", "minutes": 30}],
        },
        {"name": "late", "start": "14:00", "hours": 8},
    ],
}


def plant(path: Path) -> DuckDBHistorian:
    """Two machines through the early shift: m1 fails 07:00-07:30 (bearing), m2 runs."""
    historian = DuckDBHistorian(path)
    batch = WriteBatch.empty()
    batch.states += [
        StateChange(M1, T6 - 10 * MIN, 10000),
        StateChange(M1, T6 + 60 * MIN, 180000, "bearing"),
        StateChange(M1, T6 + 90 * MIN, 10000),
        StateChange(M2, T6 - 10 * MIN, 10000),
        StateChange(M2, T6 + 200 * MIN, 60000, "starved"),
        StateChange(M2, T6 + 212 * MIN, 10000),
    ]
    batch.counts += [
        CountUpdate(M1, T6 - MIN, 0, 0, 0),
        CountUpdate(M1, T6 + 479 * MIN, 1000, 980, 20),
        CountUpdate(M2, T6 - MIN, 0, 0, 0),
        CountUpdate(M2, T6 + 479 * MIN, 1300, 1290, 10),
    ]
    historian.write(batch)
    historian.upsert_assets([AssetInfo(M1, 20.0), AssetInfo(M2, 20.0)])
    mes.save_calendar(historian, mes.Calendar.from_mapping(CALENDAR), "test")
    return historian


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    historian = plant(tmp_path_factory.mktemp("reports") / "plant.duckdb")
    with TestClient(create_app(Settings(), historian=historian)) as c:
        yield c
    historian.close()


def _report(client: TestClient, fmt: str, asset: str = LINE, shift: str = "2025-11-21/early"):
    return client.get(
        "/api/v1/reports/shift", params={"asset": asset, "shift": shift, "format": fmt}
    )


def test_json_report_has_the_mes_numbers_of_the_shift(client: TestClient) -> None:
    report = _report(client, "json").json()
    assert report["shift"] == "2025-11-21/early"
    assert (report["from"], report["to"]) == (T6, T6 + 480 * MIN)
    kpis = client.get(
        "/api/v1/kpis", params={"asset": LINE, "from": T6, "to": T6 + 480 * MIN}
    ).json()["total"]
    for key in ("oee", "availability", "performance", "quality", "produced", "scrap", "pbt_s"):
        assert report["total"][key] == kpis[key], key
    assert report["total"]["planned_downtime_s"] == 2 * 30 * 60  # one break per machine
    assert [m["asset"] for m in report["machines"]] == [M1, M2]
    longest = report["top_stops"][0]
    assert (longest["asset"], longest["from"], longest["to"]) == (M1, T6 + 60 * MIN, T6 + 90 * MIN)
    assert longest["seconds"] == 1800.0
    assert longest["reasons"] == "bearing"
    assert report["pareto"][0] == {"reason": "bearing", "stops": 1, "seconds": 1800.0}
    assert report["stops"] == 2
    assert report["notes"] == []


def test_html_report_is_self_contained_and_shows_the_figures(client: TestClient) -> None:
    response = _report(client, "html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    html = response.text
    total = _report(client, "json").json()["total"]
    assert f"{total['oee'] * 100:.1f} %" in html
    assert "Shift 2025-11-21/early" in html
    assert "bearing" in html
    assert "<script" not in html
    assert "src=" not in html  # nothing to fetch
    assert "href=" not in html


def test_pdf_report_is_a_pdf(client: TestClient) -> None:
    response = _report(client, "pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert "shift-report-l1-2025-11-21-early.pdf" in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF-")
    assert response.content.rstrip().endswith(b"%%EOF")
    assert _pdf_pages(response.content) >= 1


def _pdf_pages(pdf: bytes) -> int:
    """Page objects in a PDF whose objects may sit in compressed object streams."""
    found = pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page>")
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        with contextlib.suppress(zlib.error):
            found += len(re.findall(rb"/Type\s*/Page(?!s)", zlib.decompress(stream)))
    return found


def test_a_machine_report_rolls_up_nothing(client: TestClient) -> None:
    report = _report(client, "json", asset=M2).json()
    assert [m["asset"] for m in report["machines"]] == [M2]
    assert report["top_stops"][0]["reasons"] == "starved"


@pytest.mark.parametrize(
    ("shift", "status", "words"),
    [
        ("2025-11-21/night", 404, "shifts: early, late"),
        ("2025-13-40/early", 400, "YYYY-MM-DD/NAME"),
        ("yesterday", 422, ""),
    ],
)
def test_unknown_or_malformed_shifts_are_clear_errors(
    client: TestClient, shift: str, status: int, words: str
) -> None:
    response = _report(client, "json", shift=shift)
    assert response.status_code == status
    assert words in response.json()["error"]["message"] or status == 422


def test_a_running_shift_is_reported_so_far(client: TestClient) -> None:
    report = _report(client, "json", shift="2025-11-21/late").json()
    # The data ends in the early shift; the late shift (14:00-22:00) is long past on the wall
    # clock, so it is complete: no data for the machines after their last state is not a
    # "running" note but time in their last state.
    assert report["notes"] == []
    assert report["total"]["pot_s"] == 2 * 8 * 3600
