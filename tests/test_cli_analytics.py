"""`crossdock analytics import-traffic` and `crossdock analytics alerts` on a real migrated database."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from core import migrate
from core.analytics.models import ChannelTraffic
from core.channels.models import Channel
from core.db import make_engine, make_session_factory
from tests.test_cli import cli_db, invoke

__all__ = ["cli_db"]  # a fixture, used by name


def prepared(url: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        session.add(Channel(code="web", name="Web", kind="webshop"))
        session.commit()
    engine.dispose()


def traffic_rows(url: str) -> int:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        count = session.scalar(select(func.count()).select_from(ChannelTraffic))
    engine.dispose()
    return count or 0


def test_import_traffic_refuses_a_file_with_a_bad_row_and_writes_nothing(cli_db: str, tmp_path: Path) -> None:
    prepared(cli_db)
    bad = tmp_path / "traffic.csv"
    bad.write_text("date,channel,visits,spend\n2026-11-01,web,10,5.00\n2026-11-02,shop,10,5.00\n")
    result = invoke(cli_db, "analytics", "import-traffic", str(bad))
    assert result.exit_code == 1
    assert "line 3: no channel with the code 'shop'" in result.output
    assert "nothing was imported" in result.output
    assert traffic_rows(cli_db) == 0
    good = tmp_path / "good.csv"
    good.write_text("date,channel,visits,spend\n2026-11-01,web,10,5.00\n2026-11-02,web,12,0\n")
    result = invoke(cli_db, "analytics", "import-traffic", str(good))
    assert result.exit_code == 0 and "2 new, 0 replaced" in result.output
    assert traffic_rows(cli_db) == 2
    assert json.loads(invoke(cli_db, "analytics", "alerts", "--json").output) == []


def test_refresh_sums_the_closed_days_with_progress_and_again_since_a_day(cli_db: str) -> None:
    from datetime import timedelta

    from core.analytics.models import OrderDay, RollupState
    from core.db import utcnow
    from tests.factories import make_order

    prepared(cli_db)
    engine = make_engine(cli_db)
    placed = utcnow() - timedelta(days=3)
    with make_session_factory(engine)() as session:
        channel_id = session.scalar(select(Channel.id))
        make_order(session, channel_id=channel_id, placed_at=placed)
        session.commit()
    result = invoke(cli_db, "analytics", "refresh")
    assert result.exit_code == 0, result.output
    assert "3/3 days summed" in result.output
    assert f"summed 3 day(s); the summaries reach {utcnow().date().isoformat()}" in result.output
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.sum(OrderDay.orders))) == 1
        assert session.scalar(select(RollupState.through_day)) is not None
    assert "summed 0 day(s)" in invoke(cli_db, "analytics", "refresh").output
    since = (utcnow() - timedelta(days=2)).date().isoformat()
    assert "summed 2 day(s)" in invoke(cli_db, "analytics", "refresh", "--since", since).output
    bad = invoke(cli_db, "analytics", "refresh", "--since", "yesterday")
    assert bad.exit_code == 2 and "--since" in bad.output
    engine.dispose()
