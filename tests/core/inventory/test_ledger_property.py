"""Property: whatever sequence of stock operations runs, every level equals the sum of its ledger rows, no
counter goes negative, and each operation is applied exactly when a simple model says it may be."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError, InsufficientStock
from core.inventory.allocations import receive_stock
from core.inventory.ledger import adjust_stock, ship_reserved
from core.inventory.queries import verify_ledger
from core.inventory.reservations import release_reservation, reserve_stock
from tests.factories import NOW, make_sku
from tests.inventory_factories import level, make_location

LOCATIONS, SKUS = 2, 2
where = st.tuples(st.integers(0, LOCATIONS - 1), st.integers(0, SKUS - 1))
qty = st.integers(1, 5)
operation = st.one_of(
    st.tuples(st.just("receive"), where, qty),
    st.tuples(st.just("reserve"), st.lists(st.tuples(where, qty), min_size=1, max_size=3)),
    st.tuples(st.just("release"), where, qty),
    st.tuples(st.just("ship"), where, qty),
    st.tuples(st.just("adjust"), where, st.integers(-5, 5).filter(bool)),
)


def apply_to_model(model: dict, op: tuple) -> bool:
    """Apply the operation to the model; False when the rules refuse it (and the model is unchanged)."""
    kind = op[0]
    if kind == "reserve":
        wanted: dict = {}
        for key, q in op[1]:
            wanted[key] = wanted.get(key, 0) + q
        if any(model[key][0] - model[key][1] < q for key, q in wanted.items()):
            return False
        for key, q in wanted.items():
            model[key][1] += q
        return True
    key, q = op[1], op[2]
    on_hand, reserved = model[key]
    if kind == "receive":
        model[key][0] += q
    elif kind == "adjust":
        if on_hand + q < reserved:
            return False
        model[key][0] += q
    elif kind == "release":
        if reserved < q:
            return False
        model[key][1] -= q
    elif kind == "ship":
        if reserved < q:
            return False
        model[key] = [on_hand - q, reserved - q]
    return True


def apply_to_database(db, locations, skus, op: tuple) -> bool:
    kind = op[0]
    common = {"actor": "hypothesis", "now": NOW}
    try:
        if kind == "reserve":
            reserve_stock(
                db, [(locations[loc].id, skus[s].id, q) for (loc, s), q in op[1]], order_id=None, **common
            )
            return True
        (loc, s), q = op[1], op[2]
        args = (db, locations[loc].id, skus[s].id, q)
        if kind == "receive":
            receive_stock(*args, **common)
        elif kind == "adjust":
            adjust_stock(*args, kind="adjustment", **common)
        elif kind == "release":
            release_reservation(*args, order_id=None, **common)
        elif kind == "ship":
            ship_reserved(*args, order_id=None, **common)
    except (InsufficientStock, DomainError):
        return False
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_ledger_any_sequence_keeps_levels_equal_to_movements(db, ops):
    savepoint = db.begin_nested()  # each example starts from the same empty stock
    try:
        locations = [make_location(db) for _ in range(LOCATIONS)]
        skus = [make_sku(db) for _ in range(SKUS)]
        model = {(loc, s): [0, 0] for loc in range(LOCATIONS) for s in range(SKUS)}
        for op in ops:
            expected = apply_to_model(model, op)
            assert apply_to_database(db, locations, skus, op) == expected, op
            assert verify_ledger(db) == []
        for (loc, s), (on_hand, reserved) in model.items():
            assert level(db, locations[loc].id, skus[s].id) == (on_hand, reserved)
            assert 0 <= reserved <= on_hand
    finally:
        savepoint.rollback()
