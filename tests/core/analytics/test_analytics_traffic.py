"""Channel traffic import: every bad line reported, nothing written when any is bad, a day imported again
replaced."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.analytics import traffic
from core.analytics.models import ChannelTraffic
from tests.factories import NOW, make_channel


def test_parse_traffic_reads_rows_in_minor_units() -> None:
    rows = traffic.parse_traffic("date,channel,visits,spend\n2026-11-01,web,120,45.50\n\n", {"web"})
    assert rows == [traffic.TrafficRow(2, date(2026, 11, 1), "web", 120, 4550, "USD")]


def test_parse_traffic_reports_every_bad_line() -> None:
    text = (
        "date,channel,visits,spend,currency\n"
        "2026-11-01,web,10,1.00,EUR\n"
        "2026-13-01,web,10,1\n"
        "2026-11-02,web,ten,1\n"
        "2026-11-03,web,10,=1+1\n"
        "2026-11-04,nowhere,10,1\n"
        "2026-11-01,web,10,1\n"
        "2026-11-05,web,-3,1\n"
        "2026-11-06,web,3,-1\n"
    )
    with pytest.raises(traffic.TrafficImportError) as caught:
        traffic.parse_traffic(text, {"web"})
    assert caught.value.problems == [
        "line 3: date '2026-13-01' is not YYYY-MM-DD",
        "line 4: visits 'ten' is not a whole number",
        "line 5: spend '=1+1' is not an amount",
        "line 6: no channel with the code 'nowhere'",
        "line 7: web on 2026-11-01 is already on line 2",
        "line 8: visits -3 is out of range",
        "line 9: spend is negative",
    ]


def test_parse_traffic_needs_the_columns() -> None:
    with pytest.raises(traffic.TrafficImportError, match="missing column"):
        traffic.parse_traffic("day,channel,visits\n2026-11-01,web,1\n", {"web"})


def test_import_writes_nothing_when_a_row_is_bad_and_replaces_a_day(db: Session) -> None:
    make_channel(db, code="web")
    with pytest.raises(traffic.TrafficImportError):
        traffic.import_traffic(
            db, "date,channel,visits,spend\n2026-11-01,web,1,1\n2026-11-02,web,x,1\n", now=NOW
        )
    assert db.scalar(select(func.count()).select_from(ChannelTraffic)) == 0
    assert traffic.import_traffic(db, "date,channel,visits,spend\n2026-11-01,web,1,1\n", now=NOW) == (1, 0)
    text = "date,channel,visits,spend\n2026-11-01,web,7,2.50\n2026-11-02,web,3,0\n"
    assert traffic.import_traffic(db, text, now=NOW) == (1, 1)
    stored = db.execute(
        select(ChannelTraffic.day, ChannelTraffic.visits, ChannelTraffic.spend).order_by("day")
    ).all()
    assert stored == [(date(2026, 11, 1), 7, 250), (date(2026, 11, 2), 3, 0)]
