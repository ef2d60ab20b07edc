"""Fees, tips, gift wrap, service charges, duties and removed units: each channel's own fields become
canonical charges (or a line's removed_quantity) so that expected_total(order) == order.total."""

from __future__ import annotations

import json

import pytest

from core.channels import amazon, ebay, shopify, square, webshop, woocommerce
from core.channels.base import make_charges, removed_units_charge
from core.channels.canonical import (
    CanonicalCharge,
    CanonicalLine,
    CanonicalOrder,
    charges_total,
    expected_total,
    totals_difference,
)
from core.errors import PayloadError
from tests.fixtures import channel_json


def _adds_up(order: CanonicalOrder) -> None:
    assert totals_difference(order) == 0, (order.total, expected_total(order), order.charges)


def test_expected_total_adds_charges_and_leaves_out_included_tax():
    order = woocommerce.adapt(channel_json("woocommerce", "order.json"))
    assert expected_total(order) == order.subtotal + order.shipping_total + order.tax_total
    with_charge = order.__class__(**{**vars(order), "charges": (CanonicalCharge("tip", "Tip", 200),)})
    assert expected_total(with_charge) == expected_total(order) + 200 == charges_total(with_charge) + 5296
    included = order.__class__(**{**vars(order), "taxes_included": True})
    assert expected_total(included) == expected_total(order) - order.tax_total


def test_expected_total_reads_a_stored_order_row_the_same_way():
    class Row:  # an order row: charges as the JSON column holds them
        subtotal, discount_total, shipping_total, tax_total, total = 1000, 100, 500, 80, 1680
        charges = [{"kind": "gift_wrap", "title": "Gift wrap", "amount": 200, "tax": 0}]
        taxes_included = False

    assert expected_total(Row()) == 1680 and totals_difference(Row()) == 0


def test_totals_difference_is_unknown_while_lines_are_not_fetched():
    [first, _second] = amazon.extract([json.dumps(channel_json("amazon", "getOrders.json"))])
    assert first.order is not None and first.order.lines_complete is False
    assert totals_difference(first.order) is None


def test_make_charges_drops_empty_ones():
    assert make_charges(("tip", "Tip", 0), ("fee", "Fee", 150, 12)) == (
        CanonicalCharge("fee", "Fee", 150, 12),
    )


def test_removed_units_charge_only_when_the_total_leaves_them_out_exactly():
    line = CanonicalLine("1", "MUG", "Mug", 2, 1450, total=2900, removed_quantity=1)
    assert removed_units_charge([line], -1450) == (
        CanonicalCharge("removed", "1 unit(s) removed after ordering", -1450),
    )
    assert removed_units_charge([line], 0) == ()  # the channel kept its original totals


# --- Shopify ------------------------------------------------------------------------------------------------


def test_shopify_tip_additional_fees_and_duties_are_charges():
    native = channel_json("shopify", "order.json")["order"]
    native["total_tip_received"] = "5.00"
    native["original_total_additional_fees_set"] = {"shop_money": {"amount": "2.00", "currency_code": "USD"}}
    native["original_total_duties_set"] = {"shop_money": {"amount": "3.10", "currency_code": "USD"}}
    native["total_price"] = "165.75"  # 155.65 + 5.00 + 2.00 + 3.10
    order = shopify.adapt(native)
    assert order.charges == (
        CanonicalCharge("tip", "Tip", 500),
        CanonicalCharge("fee", "Additional fees", 200),
        CanonicalCharge("duty", "Duties", 310),
    )
    _adds_up(order)


def test_shopify_units_edited_away_are_removed_and_a_total_without_them_adds_up():
    native = channel_json("shopify", "order.json")["order"]
    mugs = native["line_items"][1]
    assert (mugs["quantity"], mugs["price"]) == (2, "14.50")
    mugs["current_quantity"] = 1
    native["total_price"] = "141.15"  # 155.65 - 14.50
    order = shopify.adapt(native)
    assert [line.removed_quantity for line in order.lines] == [0, 1, 0]
    assert order.charges == (CanonicalCharge("removed", "1 unit(s) removed after ordering", -1450),)
    _adds_up(order)


def test_shopify_refund_cancelling_units_marks_them_removed_and_keeps_original_totals():
    native = channel_json("shopify", "order.json")["order"]
    for line in native["line_items"]:
        del line["current_quantity"]  # an API version before current_quantity: the refund tells
    native["refunds"] = [
        {
            "id": 1,
            "refund_line_items": [
                {"line_item_id": native["line_items"][1]["id"], "quantity": 2, "restock_type": "cancel"}
            ],
            "transactions": [],
        }
    ]
    order = shopify.adapt(native)
    assert [line.removed_quantity for line in order.lines] == [0, 2, 0]
    assert order.charges == () and order.total == 15565
    _adds_up(order)


def test_shopify_taxes_included_are_not_added_again():
    native = channel_json("shopify", "order.json")["order"]
    native["taxes_included"] = True
    native["total_price"] = "147.95"  # 140.00 + 7.95 shipping, tax inside the prices
    order = shopify.adapt(native)
    assert order.taxes_included and order.tax_total == 770
    _adds_up(order)


# --- WooCommerce --------------------------------------------------------------------------------------------


def test_woocommerce_fee_lines_are_charges_gift_wrap_by_name():
    native = channel_json("woocommerce", "order.json")
    native["fee_lines"] = [
        {"id": 9, "name": "Gift wrap", "total": "3.00", "total_tax": "0.25"},
        {"id": 10, "name": "Card surcharge", "total": "1.50", "total_tax": "0.00"},
    ]
    native["total_tax"] = "3.76"
    native["total"] = "57.71"  # 52.96 + 3.00 + 0.25 + 1.50
    order = woocommerce.adapt(native)
    assert order.charges == (
        CanonicalCharge("gift_wrap", "Gift wrap", 300, 25),
        CanonicalCharge("fee", "Card surcharge", 150),
    )
    _adds_up(order)


def test_woocommerce_subtotal_is_the_line_subtotals_as_given_not_rounded_unit_prices():
    native = channel_json("woocommerce", "order.json")
    line = native["line_items"][0]
    line.update(quantity=3, subtotal="10.00", total="10.00", total_tax="0.00")
    order = woocommerce.adapt(native)
    assert order.lines[0].unit_price * 3 == 999  # 3.33 a unit, rounded
    others = woocommerce.adapt(channel_json("woocommerce", "order.json"))
    assert order.subtotal == others.subtotal - others.lines[0].unit_price * others.lines[0].quantity + 1000


# --- Square -------------------------------------------------------------------------------------------------


def test_square_service_charges_of_an_order_not_shipped_and_tips_are_charges():
    native = channel_json("square", "order.json")["order"]
    native["service_charges"] = [
        {
            "uid": "sc1",
            "name": "Table service",
            "type": "CUSTOM",
            "applied_money": {"amount": 300, "currency": "USD"},
        },
        {
            "uid": "sc2",
            "name": "Gratuity",
            "type": "AUTO_GRATUITY",
            "applied_money": {"amount": 100, "currency": "USD"},
        },
    ]
    native["total_service_charge_money"] = {"amount": 400, "currency": "USD"}
    native["total_tip_money"] = {"amount": 200, "currency": "USD"}
    native["total_money"] = {"amount": 3301, "currency": "USD"}
    native["net_amount_due_money"] = {"amount": 3301, "currency": "USD"}
    order = square.adapt(native)
    assert order.shipping_total == 0
    assert order.charges == (
        CanonicalCharge("service_charge", "Table service", 300),
        CanonicalCharge("tip", "Gratuity", 100),
        CanonicalCharge("tip", "Tip", 200),
    )
    _adds_up(order)


# --- Amazon -------------------------------------------------------------------------------------------------


def _amazon_joined(orders: dict, items: dict) -> CanonicalOrder:
    [order] = [e.order for e in amazon.extract([json.dumps(orders), json.dumps(items)]) if e.order][:1]
    return order


def test_amazon_v0_gift_wrap_and_cod_fee_are_charges():
    orders, items = channel_json("amazon", "getOrders.json"), channel_json("amazon", "getOrderItems.json")
    item = items["payload"]["OrderItems"][0]
    item["GiftWrapPrice"] = {"CurrencyCode": "USD", "Amount": "3.00"}
    item["GiftWrapTax"] = {"CurrencyCode": "USD", "Amount": "0.25"}
    item["CODFee"] = {"CurrencyCode": "USD", "Amount": "1.00"}
    orders["payload"]["Orders"][0]["OrderTotal"]["Amount"] = "54.67"  # 50.42 + 3.25 + 1.00
    order = _amazon_joined(orders, items)
    assert order.charges == (
        CanonicalCharge("gift_wrap", "Gift wrap", 300, 25),
        CanonicalCharge("fee", "Cash on delivery fee", 100),
    )
    _adds_up(order)


def test_amazon_v0_vat_marketplace_prices_include_the_tax():
    orders, items = channel_json("amazon", "getOrders.json"), channel_json("amazon", "getOrderItems.json")
    plain = _amazon_joined(orders, items)
    orders["payload"]["Orders"][0]["OrderTotal"]["Amount"] = f"{(plain.total - plain.tax_total) / 100:.2f}"
    order = _amazon_joined(orders, items)
    assert order.taxes_included and not plain.taxes_included
    _adds_up(order)


def test_amazon_v2026_breakdowns_without_a_place_of_their_own_are_charges():
    native = channel_json("amazon", "v2026-01-01_getOrder.json")
    proceeds = native["order"]["orderItems"][0]["proceeds"]
    proceeds["breakdowns"].append(
        {"type": "GIFT_WRAP", "subtotal": {"amount": "2.50", "currencyCode": "EUR"}}
    )
    proceeds["proceedsTotal"]["amount"] = "45.39"
    native["order"]["proceeds"]["grandTotal"]["amount"] = "45.39"
    [extracted] = amazon.extract([json.dumps(native)])
    order = extracted.order
    assert order.charges == (CanonicalCharge("gift_wrap", "Gift wrap", 250),)
    _adds_up(order)


# --- eBay ---------------------------------------------------------------------------------------------------


def test_ebay_fee_and_adjustment_are_charges():
    native = channel_json("ebay", "getOrders.json")["orders"][0]
    native["pricingSummary"]["fee"] = {"value": "1.0", "currency": "USD"}
    native["pricingSummary"]["adjustment"] = {"value": "-2.0", "currency": "USD"}
    native["pricingSummary"]["total"] = {"value": "51.5", "currency": "USD"}
    order = ebay.adapt(native)
    assert order.charges == (CanonicalCharge("fee", "Fee", 100), CanonicalCharge("other", "Adjustment", -200))
    _adds_up(order)


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "square", "ebay"])
def test_fixture_orders_without_extras_have_no_charges(kind):
    names = {
        "shopify": "order.json",
        "woocommerce": "order.json",
        "square": "order.json",
        "ebay": "getOrders.json",
    }
    module = {"shopify": shopify, "woocommerce": woocommerce, "square": square, "ebay": ebay}[kind]
    text = json.dumps(channel_json(kind, names[kind]))
    for item in module.extract([text]):
        assert item.order is not None and item.order.charges == ()


def test_square_shipped_order_keeps_delivery_fees_as_shipping_and_gratuity_as_a_tip():
    native = channel_json("square", "order.json")["order"]
    native["fulfillments"] = [
        {
            "type": "SHIPMENT",
            "state": "PROPOSED",
            "shipment_details": {
                "recipient": {
                    "display_name": "Ada Lovelace",
                    "address": {"address_line_1": "1 Old Road", "locality": "London", "country": "GB"},
                }
            },
        }
    ]
    native["service_charges"] = [
        {"name": "Delivery", "type": "CUSTOM", "applied_money": {"amount": 500, "currency": "USD"}},
        {"name": "Gratuity", "type": "AUTO_GRATUITY", "applied_money": {"amount": 100, "currency": "USD"}},
    ]
    native["total_service_charge_money"] = {"amount": 600, "currency": "USD"}
    native["total_money"] = {"amount": 3301, "currency": "USD"}
    order = square.adapt(native)
    assert order.shipping_total == 500
    assert order.charges == (CanonicalCharge("tip", "Gratuity", 100),)
    _adds_up(order)


def test_webshop_totals_charges_are_read_and_checked():
    native = channel_json("webshop", "order.json")["order"]
    native["totals"]["charges"] = [
        {"kind": "gift_wrap", "title": "Gift box", "amount": "4.50"},
        {"kind": "tip", "amount": "2.00"},
    ]
    native["totals"]["total"] = "153.96"  # 147.46 + 4.50 + 2.00
    order = webshop.adapt(native)
    assert order.charges == (
        CanonicalCharge("gift_wrap", "Gift box", 450),
        CanonicalCharge("tip", "Tip", 200),
    )
    _adds_up(order)
    native["totals"]["charges"] = [{"kind": "bribe", "amount": "1.00"}]
    with pytest.raises(PayloadError, match=r"^totals.charges\[0\].kind: one of "):
        webshop.adapt(native)
