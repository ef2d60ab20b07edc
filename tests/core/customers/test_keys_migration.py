"""Migration 0011 drops the blocking keys of the old kind; the resolution's indexing builds them again with
today's keys."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from core import migrate
from core.customers.matching import blocking_keys
from core.customers.models import Identity, IdentityMatchKey
from core.customers.resolution import IDENTITY_COLUMNS, identity_record, index_identity_keys
from core.db import make_engine, make_session_factory
from tests.conftest import drop_database, fresh_database_url
from tests.factories import make_channel, make_customer


def test_old_keys_are_dropped_and_built_again_with_todays_keys(tmp_path: Path) -> None:
    url, needs_drop = fresh_database_url(tmp_path, "keys")
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, "0010_search_index")
        factory = make_session_factory(engine)
        with factory() as session:
            channel = make_channel(session)
            customer = make_customer(session, name="Ada Lovelace")
            identity = Identity(
                customer_id=customer.id,
                channel_id=channel.id,
                name="Ada Lovelace",
                email="ada@example.org",
                address={"line1": "12 Crescent Road", "postcode": "SW1A 1AA", "city": "London"},
            )
            session.add(identity)
            session.flush()
            session.add(IdentityMatchKey(identity_id=identity.id, key="old-kind:ada"))
            session.commit()
            identity_id = identity.id

        migrate.upgrade(engine)
        with factory() as session:
            assert session.scalars(select(IdentityMatchKey.key)).all() == []
            assert index_identity_keys(session) == 1
            session.commit()
            stored = set(
                session.scalars(
                    select(IdentityMatchKey.key).where(IdentityMatchKey.identity_id == identity_id)
                )
            )
            [row] = session.execute(select(*IDENTITY_COLUMNS).where(Identity.id == identity_id)).all()
            assert stored == set(blocking_keys(identity_record(row))) and "old-kind:ada" not in stored
    finally:
        engine.dispose()
        drop_database(url, needs_drop)
