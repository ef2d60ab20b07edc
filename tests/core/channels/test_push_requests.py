"""The adapters' push requests: what each channel is sent for a stock level or a shipment confirmation."""

from __future__ import annotations

import pytest

from core.channels import amazon_api, ebay, registry, shopify, square, woocommerce
from core.channels.outbound_base import OutboundError

SHIPPED_AT = "2026-11-20T09:30:00.250000+00:00"


def test_shopify_stock_push_sets_the_available_quantity_at_the_location() -> None:
    request = shopify.stock_push_request(
        {"channel_sku": "TEE-M", "quantity": 7, "location_id": "655441491", "inventory_item_id": "808950810"}
    )

    assert request == (
        "POST",
        "/admin/api/2024-10/inventory_levels/set.json",
        {"location_id": 655441491, "inventory_item_id": 808950810, "available": 7},
    )


def test_amazon_stock_push_merges_the_seller_fulfilled_quantity() -> None:
    request = amazon_api.stock_push_request(
        {
            "channel_sku": "TEE M/blue",
            "quantity": 4,
            "seller_id": "A1SELLER",
            "marketplace_id": "ATVPDKIKX0DER",
        }
    )

    assert request == (
        "PATCH",
        "/listings/2021-08-01/items/A1SELLER/TEE%20M%2Fblue?marketplaceIds=ATVPDKIKX0DER",
        {
            "productType": "PRODUCT",
            "patches": [
                {
                    "op": "merge",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}],
                }
            ],
        },
    )


def test_ebay_stock_push_updates_the_ship_to_home_quantity() -> None:
    assert ebay.stock_push_request({"channel_sku": "TEE-M", "quantity": 12}) == (
        "POST",
        "/sell/inventory/v1/bulk_update_price_quantity",
        {"requests": [{"sku": "TEE-M", "shipToLocationAvailability": {"quantity": 12}}]},
    )


@pytest.mark.parametrize(
    ("listing_id", "path"),
    [("794", "/wp-json/wc/v3/products/794"), ("22/733", "/wp-json/wc/v3/products/22/variations/733")],
)
def test_woocommerce_stock_push_sets_a_managed_stock_quantity(listing_id: str, path: str) -> None:
    assert woocommerce.stock_push_request({"channel_listing_id": listing_id, "quantity": 3}) == (
        "PUT",
        path,
        {"stock_quantity": 3, "manage_stock": True},
    )


def test_square_stock_push_records_a_physical_count() -> None:
    request = square.stock_push_request(
        {
            "channel_listing_id": "W62UWFY35CWMYGVWK6TWJDNI",
            "location_id": "C6W5YS5QM06F5",
            "quantity": 9,
            "idempotency_key": "k-1",
            "occurred_at": "2026-11-20T12:00:00Z",
        }
    )

    assert request == (
        "POST",
        "/v2/inventory/changes/batch-create",
        {
            "idempotency_key": "k-1",
            "changes": [
                {
                    "type": "PHYSICAL_COUNT",
                    "physical_count": {
                        "catalog_object_id": "W62UWFY35CWMYGVWK6TWJDNI",
                        "location_id": "C6W5YS5QM06F5",
                        "state": "IN_STOCK",
                        "quantity": "9",
                        "occurred_at": "2026-11-20T12:00:00Z",
                    },
                }
            ],
            "ignore_unchanged_counts": True,
        },
    )


@pytest.mark.parametrize(
    "adapter",
    [shopify, amazon_api, ebay, woocommerce, square],
    ids=lambda module: module.__name__.rsplit(".", 1)[-1],
)
def test_stock_push_never_sends_a_negative_quantity(adapter) -> None:
    payload = {
        "channel_sku": "S",
        "channel_listing_id": "1",
        "quantity": -7,
        "location_id": "1",
        "inventory_item_id": "1",
        "seller_id": "A",
        "marketplace_id": "M",
        "idempotency_key": "k",
        "occurred_at": "2026-11-20T12:00:00Z",
    }

    _method, _path, body = adapter.stock_push_request(payload)

    assert "-7" not in repr(body)


def test_stock_push_without_an_id_the_channel_needs_says_which() -> None:
    with pytest.raises(OutboundError, match="'location_id'"):
        shopify.stock_push_request({"quantity": 1, "inventory_item_id": "5"})


def shipment_payload(**overrides) -> dict:
    payload = {
        "order_external_id": "902-1845936-5435065",
        "shipment_id": 41,
        "carrier": "ups",
        "tracking_number": "1Z999AA10123456784",
        "tracking_url": None,
        "shipped_at": SHIPPED_AT,
        "marketplace_id": "ATVPDKIKX0DER",
        "lines": [{"line_item_id": "05015851154158", "quantity": 1, "channel_sku": "NABetaASINB00551Q3CS"}],
    }
    return payload | overrides


def test_amazon_shipment_confirmation_confirms_one_package() -> None:
    assert amazon_api.shipment_request(shipment_payload()) == (
        "POST",
        "/orders/v0/orders/902-1845936-5435065/shipmentConfirmation",
        {
            "marketplaceId": "ATVPDKIKX0DER",
            "packageDetail": {
                "packageReferenceId": "41",
                "carrierCode": "UPS",
                "trackingNumber": "1Z999AA10123456784",
                "shipDate": "2026-11-20T09:30:00Z",
                "orderItems": [{"orderItemId": "05015851154158", "quantity": 1}],
            },
        },
    )


def test_amazon_shipment_confirmation_names_an_unlisted_carrier() -> None:
    _method, _path, body = amazon_api.shipment_request(shipment_payload(carrier="Amazon Logistics"))

    assert (body["packageDetail"]["carrierCode"], body["packageDetail"]["carrierName"]) == (
        "Other",
        "Amazon Logistics",
    )


def test_ebay_shipment_confirmation_creates_a_shipping_fulfillment() -> None:
    payload = shipment_payload(
        order_external_id="27-05243-46121", carrier="USPS", lines=[{"line_item_id": "10052", "quantity": 2}]
    )

    assert ebay.shipment_request(payload) == (
        "POST",
        "/sell/fulfillment/v1/order/27-05243-46121/shipping_fulfillment",
        {
            "lineItems": [{"lineItemId": "10052", "quantity": 2}],
            "shippedDate": "2026-11-20T09:30:00.250Z",
            "shippingCarrierCode": "USPS",
            "trackingNumber": "1Z999AA10123456784",
        },
    )


def test_shipment_confirmation_without_tracking_number_is_optional_on_ebay_but_not_on_amazon() -> None:
    _method, _path, body = ebay.shipment_request(shipment_payload(tracking_number=None))

    assert "trackingNumber" not in body and "shippingCarrierCode" not in body
    with pytest.raises(OutboundError, match="'tracking_number'") as caught:
        amazon_api.shipment_request(shipment_payload(tracking_number=None))
    assert caught.value.permanent


def test_shopify_shipment_confirmation_fulfills_the_shipped_lines_of_open_fulfillment_orders() -> None:
    payload = shipment_payload(
        order_external_id="450789469",
        carrier="FedEx",
        tracking_url="https://track.example/1Z",
        lines=[{"line_item_id": "466157049", "quantity": 1}, {"line_item_id": "518995019", "quantity": 2}],
        fulfillment_orders=[
            {"id": 1046000777, "status": "closed", "line_items": [{"id": 1, "line_item_id": 466157049}]},
            {
                "id": 1046000778,
                "status": "open",
                "line_items": [
                    {"id": 1025578633, "line_item_id": 466157049, "fulfillable_quantity": 1},
                    {"id": 1025578634, "line_item_id": 518995019, "fulfillable_quantity": 3},
                    {"id": 1025578635, "line_item_id": 703073504, "fulfillable_quantity": 1},
                ],
            },
        ],
    )

    assert shopify.shipment_request(payload) == (
        "POST",
        "/admin/api/2024-10/fulfillments.json",
        {
            "fulfillment": {
                "line_items_by_fulfillment_order": [
                    {
                        "fulfillment_order_id": 1046000778,
                        "fulfillment_order_line_items": [
                            {"id": 1025578633, "quantity": 1},
                            {"id": 1025578634, "quantity": 2},
                        ],
                    }
                ],
                "tracking_info": {
                    "number": "1Z999AA10123456784",
                    "company": "FedEx",
                    "url": "https://track.example/1Z",
                },
                "notify_customer": False,
            }
        },
    )


def test_shopify_shipment_confirmation_with_nothing_left_to_fulfill_fails_for_good() -> None:
    with pytest.raises(OutboundError) as caught:
        shopify.shipment_request(shipment_payload(fulfillment_orders=[]))

    assert caught.value.permanent


def test_push_hooks_cover_the_channels_that_take_pushes() -> None:
    assert registry.kinds_with("send_shipment") == ["amazon", "ebay", "shopify", "walmart"]
    assert registry.kinds_with("send_stock") == [
        "amazon",
        "ebay",
        "shopify",
        "square",
        "walmart",
        "woocommerce",
    ]


def test_amazon_hooks_are_its_api_calls_bound_on_the_adapter_module() -> None:
    assert [registry.hook("amazon", name) for name in ("poll_pages", "auth_headers", "send_stock")] == [
        amazon_api.poll_pages,
        amazon_api.auth_headers,
        amazon_api.send_stock,
    ]
    assert registry.hook("amazon", "send_shipment") is amazon_api.send_shipment
