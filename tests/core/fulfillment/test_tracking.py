"""Carrier tracking: every fixture payload parsed field by field (and, when ../shared/data is present,
the public samples), the status vocabularies, and recording events against shipments (idempotent, never
backwards, unknown numbers listed, orders rolled up to delivered)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import DomainError, PayloadError
from core.fulfillment.carriers import normalize_carrier, tracking_url
from core.fulfillment.csv_import import InvalidImport
from core.fulfillment.models import Shipment, TrackingEvent
from core.fulfillment.queries import order_shipments, unknown_tracking_report
from core.fulfillment.services import mark_shipped
from core.fulfillment.status import TRACKING_STATUSES, can_advance
from core.fulfillment.tracking import record_tracking_events
from core.fulfillment.tracking_aggregators import parse_aftership, parse_easypost, parse_shippo
from core.fulfillment.tracking_base import TrackingUpdate
from core.fulfillment.tracking_carrier_apis import parse_ups
from core.fulfillment.tracking_formats import (
    PARSERS,
    detect_source,
    parse_tracking_csv,
    parse_tracking_payload,
)
from core.orders.models import Order
from tests.factories import NOW, make_channel, make_order, make_sku
from tests.fixtures import TRACKING, tracking_file, tracking_json
from tests.fulfillment_factories import (
    PACKER,
    committed_database,
    make_confirmed_order,
    run_at_once,
    timeline,
)
from tests.inventory_factories import link, make_location, make_stock


@pytest.fixture(scope="module")
def committed_factory(tmp_path_factory):
    with committed_database(tmp_path_factory) as factory:
        yield factory


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fields(update: TrackingUpdate) -> tuple:
    return (
        update.tracking_number,
        update.carrier,
        update.status,
        update.occurred_at,
        update.carrier_status,
        update.description,
        update.location,
        update.source,
    )


SHIPPO_NUMBER = "9400111206213859472650"  # tests/fixtures/tracking/shippo/track.json


def sample(shared_data: Path, name: str) -> dict:
    return json.loads((shared_data / "tracking" / name).read_text())


# --- our fixtures, field by field --------------------------------------------------------------------------


def test_parse_aftership_pending_tracking_without_checkpoints():
    [update] = parse_tracking_payload(tracking_file("aftership", "get_tracking_pending.json").read_text())
    assert fields(update) == (
        "LX208814663CN",
        "china-post",
        "info_received",
        utc(2025, 9, 10, 8, 30, 15),  # registered, so every poll gives the same update
        "Pending/Pending_001",
        "Pending",
        "",
        "aftership",
    )


def test_parse_aftership_tracking_checkpoints():
    updates = parse_tracking_payload(tracking_json("aftership", "get_tracking.json"))
    assert [fields(u) for u in updates] == [
        (
            "JD014600006281453712",
            "DHL",
            "in_transit",
            utc(2025, 8, 4, 16, 20),
            "InTransit/InTransit_002",
            "Shipment picked up",
            "Leipzig - Germany",
            "aftership",
        ),
        (
            "JD014600006281453712",
            "DHL",
            "in_transit",
            utc(2025, 8, 5, 3, 12),
            "InTransit/InTransit_007",
            "Departed Facility in LEIPZIG - GERMANY",
            "Leipzig Hub - Germany",
            "aftership",
        ),
        (
            "JD014600006281453712",
            "DHL",
            "out_for_delivery",
            utc(2025, 8, 7, 6, 5),
            "OutForDelivery/OutForDelivery_001",
            "With delivery courier",
            "Galway, Ireland",  # no location text: city and country
            "aftership",
        ),
        (
            "JD014600006281453712",
            "DHL",
            "delivered",
            utc(2025, 8, 7, 13, 55),
            "Delivered/Delivered_001",
            "Delivered - Signed for by: BYRNE",
            "GALWAY - IRELAND",
            "aftership",
        ),
    ]


def test_parse_easypost_tracker():
    updates = parse_tracking_payload(tracking_json("easypost", "tracker.json"))
    assert {(u.tracking_number, u.carrier, u.source) for u in updates} == {
        ("1Z8V92A70367203024", "UPS", "easypost")
    }
    assert [(u.occurred_at, u.status, u.carrier_status, u.description, u.location) for u in updates] == [
        (
            utc(2025, 5, 12, 14, 3),
            "info_received",
            "pre_transit/label_created",
            "Shipper created a label, UPS has not received the package yet.",
            "US",
        ),
        (
            utc(2025, 5, 12, 22, 41),
            "in_transit",
            "in_transit/status_update",
            "Pickup Scan",
            "AUSTIN, TX, 78744, US",
        ),
        (
            utc(2025, 5, 13, 6, 15),
            "in_transit",
            "in_transit/departed_facility",
            "Departed from Facility",
            "DALLAS, TX, 75261, US",
        ),
        (
            utc(2025, 5, 14, 13, 2),
            "out_for_delivery",
            "out_for_delivery/out_for_delivery",
            "Out For Delivery Today",
            "DENVER, CO, 80216, US",
        ),
        (
            utc(2025, 5, 14, 19, 26),
            "delivered",
            "delivered/arrived_at_destination",
            "Delivered",
            "DENVER, CO, 80205, US",
        ),
    ]


def test_parse_shippo_track_history():
    updates = parse_tracking_payload(tracking_json("shippo", "track.json"))
    assert {(u.tracking_number, u.carrier, u.source) for u in updates} == {(SHIPPO_NUMBER, "USPS", "shippo")}
    assert [(u.occurred_at, u.status, u.carrier_status) for u in updates] == [
        (utc(2025, 3, 17, 13, 5), "info_received", "PRE_TRANSIT/information_received"),
        (utc(2025, 3, 17, 21, 40), "in_transit", "TRANSIT/package_accepted"),
        (utc(2025, 3, 18, 4, 12), "in_transit", "TRANSIT/package_arrived"),
        (utc(2025, 3, 19, 9, 30), "in_transit", "TRANSIT"),
        (utc(2025, 3, 20, 11, 2), "in_transit", "TRANSIT"),
        (utc(2025, 3, 20, 12, 10), "out_for_delivery", "TRANSIT"),  # refined by "is out for delivery"
        (utc(2025, 3, 20, 18, 47), "delivered", "DELIVERED/delivered"),  # also the current status: once
    ]
    first, quiet, out, last = updates[0], updates[3], updates[-2], updates[-1]
    assert (first.description, first.location) == (
        "Shipping Label Created, USPS Awaiting Item",
        "Portland, ME, 04101, US",
    )
    assert (quiet.description, quiet.location) == ("In Transit to Next Facility", "")
    assert out.description.startswith("Your item is out for delivery on March 20, 2025")
    assert (last.location, last.raw["object_id"]) == (
        "Minneapolis, MN, 55401, US",
        "d41f0a7c3b9e4c2a8f6d1e5b7a3c9f20",
    )


def test_parse_ups_track_response():
    updates = parse_tracking_payload(tracking_json("ups", "track_response.json"))
    assert [fields(u) for u in updates] == [
        (
            "1Z4W7E590392684175",
            "UPS",
            "delivered",
            utc(2025, 9, 16, 19, 22),
            "D/FS",
            "DELIVERED",
            "Madison, WI, 53703, US",
            "ups",
        ),
        (
            "1Z4W7E590392684175",
            "UPS",
            "out_for_delivery",
            utc(2025, 9, 16, 13, 15),
            "I/OT",
            "Out For Delivery Today",
            "Madison, WI, 53704, US",
            "ups",
        ),
        (
            "1Z4W7E590392684175",
            "UPS",
            "in_transit",
            utc(2025, 9, 16, 4, 10),  # no GMT time: the local time at its offset
            "I/DP",
            "Departed from Facility",
            "Chicago, IL, 60638, US",
            "ups",
        ),
        (
            "1Z4W7E590392684175",
            "UPS",
            "in_transit",
            utc(2025, 9, 14, 21, 45),
            "P/PU",
            "Pickup Scan",
            "Columbus, OH, 43215, US",
            "ups",
        ),
        (
            "1Z4W7E590392684175",
            "UPS",
            "info_received",
            utc(2025, 9, 14, 14, 12, 7),
            "M/MP",
            "Shipper created a label, UPS has not received the package yet.",
            "US",
            "ups",
        ),
    ]


def test_parse_fedex_track_response_held_for_pickup():
    updates = parse_tracking_payload(tracking_json("fedex", "track_response.json"))
    assert [(u.status, u.occurred_at, u.carrier_status) for u in updates] == [
        ("available_for_pickup", utc(2025, 7, 22, 16, 41), "HP/HP"),
        ("in_transit", utc(2025, 7, 22, 1, 5), "AR/IT"),
        ("in_transit", utc(2025, 7, 20, 13, 12), "PU/PU"),
        ("info_received", utc(2025, 7, 19, 21, 30), "OC/IN"),
    ]
    assert (updates[0].tracking_number, updates[0].carrier, updates[0].location, updates[0].description) == (
        "771234561098",
        "FedEx",
        "BOULDER, CO, 80302, US",
        "Ready for recipient pickup: Package available for pickup at FedEx Office",
    )


def test_parse_dhl_shipment_events():
    updates = parse_tracking_payload(tracking_json("dhl", "shipments.json"))
    assert {(u.tracking_number, u.carrier) for u in updates} == {("JJD000390007882614", "DHL")}
    assert [(u.status, u.occurred_at, u.location) for u in updates] == [
        ("delivered", utc(2025, 10, 9, 9, 48), "Köln, 50667, DE"),
        (
            "out_for_delivery",
            utc(2025, 10, 9, 5, 55),
            "Köln, 50667, DE",
        ),  # "loaded onto the delivery vehicle"
        ("in_transit", utc(2025, 10, 8, 19, 14), "Hamburg, DE"),
        ("info_received", utc(2025, 10, 8, 7, 2), ""),
    ]


def test_parse_usps_tracking_returned_to_sender():
    updates = parse_tracking_payload(tracking_json("usps", "tracking.json"))
    assert {(u.tracking_number, u.carrier, u.source) for u in updates} == {
        ("9405511206213865290417", "USPS", "usps")
    }
    assert [(u.status, u.occurred_at, u.carrier_status, u.location) for u in updates] == [
        ("returned_to_sender", utc(2025, 11, 3, 14, 12), "09", "PORTLAND, ME, 04101"),
        ("exception", utc(2025, 10, 30, 15, 40), "04", "BANGOR, ME, 04401"),
        ("out_for_delivery", utc(2025, 10, 30, 11, 58), "OF", "BANGOR, ME, 04401"),
        ("in_transit", utc(2025, 10, 28, 20, 21), "03", "PORTLAND, ME, 04101"),
        ("info_received", utc(2025, 10, 28, 13, 3), "MA", "PORTLAND, ME, 04101"),
    ]


def test_every_fixture_file_is_detected_and_parsed():
    files = sorted(TRACKING.rglob("*.json"))
    assert {path.parent.name for path in files} == set(PARSERS)
    for path in files:
        payload = json.loads(path.read_text())
        assert detect_source(payload) == path.parent.name, path
        updates = parse_tracking_payload(payload)
        assert updates, path
        assert {u.status for u in updates} <= TRACKING_STATUSES
        assert all(u.occurred_at.tzinfo is not None and u.tracking_number for u in updates)


# --- other shapes of the same services -----------------------------------------------------------------


def test_parse_aftership_webhook_checkpoints_with_subtags():
    tracking = tracking_json("aftership", "get_tracking_pending.json")["data"]["tracking"]
    tracking = tracking | {
        "tag": "Exception",
        "checkpoints": [
            {
                "slug": "4px",
                "tag": "InTransit",
                "subtag": "InTransit_002",
                "checkpoint_time": "2020-02-27T10:00:00+08:00",
                "message": "Departed facility",
                "city": "Shenzhen",
                "country_name": "China",
            },
            {
                "slug": "4px",
                "tag": "AttemptFail",
                "subtag": "AttemptFail_001",
                "checkpoint_time": "2020-03-02T09:00:00",
                "message": "Addressee not available",
                "location": "Leeds, GB",
            },
            {
                "slug": "4px",
                "tag": "Exception",
                "subtag": "Exception_011",
                "checkpoint_time": "2020-03-20T09:00:00Z",
                "message": "Returned to sender",
            },
        ],
    }
    updates = parse_tracking_payload({"event": "tracking_update", "msg": tracking, "ts": 1583000000})
    assert {u.tracking_number for u in updates} == {"LX208814663CN"}
    assert [(u.status, u.occurred_at, u.location, u.carrier_status) for u in updates] == [
        ("in_transit", utc(2020, 2, 27, 2, 0), "Shenzhen, China", "InTransit/InTransit_002"),
        ("failed_attempt", utc(2020, 3, 2, 9, 0), "Leeds, GB", "AttemptFail/AttemptFail_001"),
        ("returned_to_sender", utc(2020, 3, 20, 9, 0), "", "Exception/Exception_011"),
    ]


def test_parse_aftership_error_response_is_a_payload_error():
    with pytest.raises(PayloadError, match="AfterShip error 4004: Tracking does not exist"):
        parse_tracking_payload({"meta": {"code": 4004, "message": "Tracking does not exist."}, "data": {}})


def test_parse_easypost_webhook_event_and_list():
    tracker = tracking_json("easypost", "tracker.json")
    underway = copy.deepcopy(tracker)
    underway["tracking_details"] = underway["tracking_details"][:3]
    underway["status"] = "in_transit"
    event = {"object": "Event", "description": "tracker.updated", "result": tracker}
    assert [u.status for u in parse_tracking_payload(event)] == [
        "info_received",
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert parse_tracking_payload(event)[-1].location == "DENVER, CO, 80205, US"
    assert len(parse_easypost({"trackers": [underway, tracker], "has_more": False})) == 8


def test_parse_shippo_webhook_with_substatus():
    track = tracking_json("shippo", "track.json")
    track["tracking_history"][-1] = track["tracking_history"][-1] | {
        "status": "FAILURE",
        "status_details": "No access to delivery location.",
        "substatus": {"code": "delivery_attempted", "text": "Delivery attempted", "action_required": False},
    }
    track["tracking_status"] = track["tracking_history"][-1]
    updates = parse_tracking_payload({"event": "track_updated", "test": True, "data": track})
    assert len(updates) == 7
    assert (updates[-1].status, updates[-1].carrier_status) == (
        "failed_attempt",
        "FAILURE/delivery_attempted",
    )


def test_parse_ups_exception_activity_refined_by_its_words():
    payload = tracking_json("ups", "track_response.json")
    package = payload["trackResponse"]["shipment"][0]["package"][0]
    package["activity"] = [
        {
            "status": {
                "type": "X",
                "code": "48",
                "description": "THE RECEIVER WAS NOT AVAILABLE FOR DELIVERY.",
            },
            "date": "20220127",
            "time": "101500",
            "gmtDate": "20220127",
            "gmtTime": "15:15:00",
            "gmtOffset": "-05:00",
        },
        {
            "status": {"type": "I", "code": "OT", "description": "Out For Delivery Today"},
            "date": "20220127",
            "time": "080000",
            "gmtOffset": "-05:00",
        },
        {
            "status": {"type": "RS", "code": "RS", "description": "Returned to shipper"},
            "date": "20220203",
            "time": "",
        },
    ]
    assert [(u.status, u.occurred_at) for u in parse_ups(payload)] == [
        ("failed_attempt", utc(2022, 1, 27, 15, 15)),
        ("out_for_delivery", utc(2022, 1, 27, 13, 0)),  # local time with its offset
        ("returned_to_sender", utc(2022, 2, 3)),
    ]


def test_parse_fedex_track_api_scan_events():
    payload = {
        "transactionId": "624deea6-b709-470c-8c39-4b5511281492",
        "output": {
            "completeTrackResults": [
                {
                    "trackingNumber": "794843185271",
                    "trackResults": [
                        {
                            "trackingNumberInfo": {"trackingNumber": "794843185271", "carrierCode": "FDXE"},
                            "latestStatusDetail": {
                                "code": "DL",
                                "derivedCode": "DL",
                                "description": "Delivered",
                            },
                            "scanEvents": [
                                {
                                    "date": "2024-04-26T09:26:00-07:00",
                                    "eventType": "DL",
                                    "eventDescription": "Delivered",
                                    "exceptionDescription": "Left at front door.",
                                    "scanLocation": {
                                        "streetLines": [""],
                                        "city": "CLOVIS",
                                        "stateOrProvinceCode": "CA",
                                        "postalCode": "93612",
                                        "countryCode": "US",
                                    },
                                    "derivedStatusCode": "DL",
                                    "derivedStatus": "Delivered",
                                },
                                {
                                    "date": "2024-04-26T08:52:00-07:00",
                                    "eventType": "OD",
                                    "eventDescription": "On FedEx vehicle for delivery",
                                    "exceptionDescription": "",
                                    "scanLocation": {"city": "CLOVIS", "stateOrProvinceCode": "CA"},
                                    "derivedStatusCode": "IT",
                                    "derivedStatus": "In transit",
                                },
                                {
                                    "date": "2024-04-25T17:00:00-07:00",
                                    "eventType": "DE",
                                    "eventDescription": "Delivery exception",
                                    "exceptionDescription": "Customer not available or business closed",
                                    "scanLocation": {"city": "CLOVIS"},
                                    "derivedStatusCode": "DE",
                                },
                                {
                                    "date": "2024-04-24T10:00:00-04:00",
                                    "eventType": "AR",
                                    "eventDescription": "At local FedEx facility",
                                    "derivedStatusCode": "IT",
                                },
                                {
                                    "date": "2024-04-23T14:29:00-04:00",
                                    "eventType": "OC",
                                    "eventDescription": "Shipment information sent to FedEx",
                                    "derivedStatusCode": "IN",
                                },
                            ],
                        }
                    ],
                }
            ]
        },
    }
    assert detect_source(payload) == "fedex"
    updates = parse_tracking_payload(payload)
    assert [(u.status, u.occurred_at, u.carrier_status) for u in updates] == [
        ("delivered", utc(2024, 4, 26, 16, 26), "DL/DL"),
        ("out_for_delivery", utc(2024, 4, 26, 15, 52), "OD/IT"),
        ("failed_attempt", utc(2024, 4, 26, 0, 0), "DE/DE"),
        ("in_transit", utc(2024, 4, 24, 14, 0), "AR/IT"),
        ("info_received", utc(2024, 4, 23, 18, 29), "OC/IN"),
    ]
    assert (updates[0].tracking_number, updates[0].carrier, updates[0].location, updates[0].description) == (
        "794843185271",
        "FedEx",
        "CLOVIS, CA, 93612, US",
        "Delivered: Left at front door.",
    )


def test_parse_dhl_unified_events():
    payload = {
        "shipments": [
            {
                "id": "00340434292135100186",
                "service": "ecommerce",
                "status": {
                    "timestamp": "2023-05-04T10:00:00Z",
                    "statusCode": "delivered",
                    "status": "DELIVERED",
                },
                "events": [
                    {
                        "timestamp": "2023-05-04T10:00:00Z",
                        "statusCode": "delivered",
                        "status": "DELIVERED",
                        "location": {
                            "address": {
                                "countryCode": "US",
                                "postalCode": "41048",
                                "addressLocality": "Hebron, KY, US",
                            }
                        },
                    },
                    {
                        "timestamp": "2023-05-04T06:10:00",
                        "statusCode": "transit",
                        "description": "The shipment has been loaded onto the delivery vehicle",
                    },
                    {
                        "timestamp": "2023-05-02T19:25:28",
                        "statusCode": "transit",
                        "status": "PACKAGE RECEIVED AT DHL ECOMMERCE DISTRIBUTION CENTER",
                    },
                    {"timestamp": "2023-05-01T10:02:48", "statusCode": "unknown", "status": "LABEL CREATED"},
                    {
                        "timestamp": "2023-05-03T09:00:00",
                        "statusCode": "failure",
                        "status": "Returned to shipper",
                    },
                ],
            }
        ]
    }
    updates = parse_tracking_payload(payload)
    assert [(u.status, u.description) for u in updates] == [
        ("delivered", "DELIVERED"),
        ("out_for_delivery", "The shipment has been loaded onto the delivery vehicle"),
        ("in_transit", "PACKAGE RECEIVED AT DHL ECOMMERCE DISTRIBUTION CENTER"),
        ("info_received", "LABEL CREATED"),
        ("returned_to_sender", "Returned to shipper"),
    ]
    assert (updates[0].tracking_number, updates[0].carrier, updates[0].location) == (
        "00340434292135100186",
        "DHL",
        "Hebron, KY, US, 41048, US",
    )


def test_parse_usps_tracking_v3_events():
    payload = {
        "trackingNumber": "9400111899223033005282",
        "statusCategory": "Delivered",
        "trackingEvents": [
            {
                "eventType": "Delivered, In/At Mailbox",
                "eventCode": "01",
                "eventCity": "NEW YORK",
                "eventState": "NY",
                "eventZIP": "10001",
                "eventTimestamp": "2026-03-09T14:30:00Z",
            },
            {
                "eventType": "Out for Delivery",
                "eventCode": "OF",
                "eventCity": "NEW YORK",
                "eventState": "NY",
                "eventZIP": "10001",
                "eventTimestamp": "2026-03-09T06:15:00Z",
            },
            {
                "eventType": "Notice Left (No Authorized Recipient Available)",
                "eventCode": "02",
                "eventTimestamp": "2026-03-08T16:00:00Z",
            },
            {
                "eventType": "Arrived at USPS Regional Facility",
                "eventCode": "10",
                "eventTimestamp": "2026-03-07T03:00:00Z",
            },
            {
                "eventType": "Shipping Label Created, USPS Awaiting Item",
                "eventCode": "GX?",
                "eventTimestamp": "2026-03-06T12:00:00Z",
            },
        ],
    }
    updates = parse_tracking_payload(payload)
    assert [(u.status, u.carrier_status) for u in updates] == [
        ("delivered", "01"),
        ("out_for_delivery", "OF"),
        ("failed_attempt", "02"),
        ("in_transit", "10"),
        ("info_received", "GX?"),
    ]
    assert (updates[0].carrier, updates[0].location) == ("USPS", "NEW YORK, NY, 10001")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"error": {"code": "NOT_FOUND"}}, "not a tracking payload"),
    ],
)
def test_parse_tracking_payload_rejects_what_it_cannot_read(payload, message):
    with pytest.raises(PayloadError, match=message):
        parse_tracking_payload(payload)


def test_parse_tracking_payload_with_a_named_source_that_does_not_exist():
    with pytest.raises(PayloadError, match="unknown tracking source 'ontrac'"):
        parse_tracking_payload({"output": {}}, source="ontrac")


# --- vocabularies --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "subtag", "expected"),
    [
        ("InfoReceived", "InfoReceived_001", "info_received"),
        ("InTransit", "InTransit_007", "in_transit"),
        ("OutForDelivery", "OutForDelivery_001", "out_for_delivery"),
        ("AttemptFail", "AttemptFail_002", "failed_attempt"),
        ("Delivered", "Delivered_002", "delivered"),
        ("AvailableForPickup", "AvailableForPickup_001", "available_for_pickup"),
        ("Exception", "Exception_004", "exception"),
        ("Exception", "Exception_010", "returned_to_sender"),
        ("Expired", "Expired_001", "exception"),
    ],
)
def test_aftership_tags_map_to_our_statuses(tag, subtag, expected):
    checkpoint = {"tag": tag, "subtag": subtag, "checkpoint_time": "2026-11-20T10:00:00Z", "message": ""}
    [update] = parse_aftership(
        {"data": {"tracking": {"tracking_number": "AS123456", "checkpoints": [checkpoint]}}}
    )
    assert update.status == expected


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        ("unknown", "unknown", "info_received"),
        ("pre_transit", "label_created", "info_received"),
        ("in_transit", "arrived_at_facility", "in_transit"),
        ("in_transit", "arrived_at_pickup_location", "available_for_pickup"),
        ("out_for_delivery", "out_for_delivery", "out_for_delivery"),
        ("available_for_pickup", "arrived_at_pickup_location", "available_for_pickup"),
        ("delivered", "arrived_at_destination", "delivered"),
        ("return_to_sender", "return", "returned_to_sender"),
        ("failure", "delivery_exception", "exception"),
        ("cancelled", "cancelled", "exception"),
        ("error", "unknown", "exception"),
    ],
)
def test_easypost_statuses_map_to_ours(status, detail, expected):
    detail_row = {
        "status": status,
        "status_detail": detail,
        "datetime": "2026-11-20T10:00:00Z",
        "message": "",
    }
    [update] = parse_easypost(
        {"object": "Tracker", "tracking_code": "EZ123456", "tracking_details": [detail_row]}
    )
    assert update.status == expected


@pytest.mark.parametrize(
    ("status", "substatus", "words", "expected"),
    [
        ("UNKNOWN", None, "", "info_received"),
        ("PRE_TRANSIT", None, "", "info_received"),
        ("TRANSIT", None, "Arrived at USPS facility", "in_transit"),
        ("TRANSIT", None, "Out for Delivery, Expected Delivery by 9:00pm", "out_for_delivery"),
        ("TRANSIT", None, "Available for Pickup", "available_for_pickup"),
        ("TRANSIT", "package_departed", "Out for Delivery", "in_transit"),
        ("TRANSIT", "out_for_delivery", "", "out_for_delivery"),
        ("FAILURE", "notice_left", "", "failed_attempt"),
        ("FAILURE", None, "Notice Left (No Authorized Recipient Available)", "failed_attempt"),
        ("FAILURE", "package_lost", "", "exception"),
        ("DELIVERED", None, "", "delivered"),
        ("RETURNED", None, "", "returned_to_sender"),
        ("TRANSIT", "return_to_sender", "", "returned_to_sender"),
    ],
)
def test_shippo_statuses_map_to_ours(status, substatus, words, expected):
    item = {"status": status, "status_details": words, "status_date": "2026-11-20T10:00:00Z"}
    if substatus:
        item["substatus"] = {"code": substatus, "text": substatus}
    [update] = parse_shippo(
        {"carrier": "usps", "tracking_number": "9400100000000000000000", "tracking_history": [item]}
    )
    assert update.status == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("M", "info_received"),
        ("MV", "exception"),
        ("P", "in_transit"),
        ("I", "in_transit"),
        ("O", "out_for_delivery"),
        ("D", "delivered"),
        ("X", "exception"),
        ("RS", "returned_to_sender"),
        ("W", "in_transit"),
        ("NA", "in_transit"),
    ],
)
def test_ups_activity_types_map_to_ours(kind, expected):
    activity = {"status": {"type": kind, "description": ""}, "date": "20261120", "time": "100000"}
    payload = {
        "trackResponse": {"shipment": [{"package": [{"trackingNumber": "1Z0001", "activity": [activity]}]}]}
    }
    [update] = parse_ups(payload)
    assert update.status == expected


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        ("pending", "in_transit", True),
        ("packed", "in_transit", True),
        ("in_transit", "info_received", False),  # a late label scan
        ("out_for_delivery", "in_transit", False),
        ("in_transit", "out_for_delivery", True),
        ("out_for_delivery", "failed_attempt", True),
        ("failed_attempt", "out_for_delivery", True),
        ("out_for_delivery", "exception", True),
        ("exception", "in_transit", True),  # back on its way
        ("exception", "info_received", False),
        ("in_transit", "delivered", True),
        ("delivered", "exception", False),
        ("delivered", "returned_to_sender", False),
        ("returned_to_sender", "delivered", False),
        ("in_transit", "in_transit", False),
    ],
)
def test_can_advance_moves_forward_only(current, new, allowed):
    assert can_advance(current, new) is allowed


@pytest.mark.parametrize(
    ("text", "name", "url"),
    [
        ("ups", "UPS", "https://www.ups.com/track?tracknum=1Z1"),
        (
            "dhl_express",
            "DHL",
            "https://www.dhl.com/us-en/home/tracking/tracking-express.html?submit=1&tracking-id=1Z1",
        ),
        ("Royal-Mail", "Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/1Z1"),
        (
            "canada_post",
            "Canada Post",
            "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=1Z1",
        ),
        ("  Acme   Couriers ", "Acme Couriers", None),
    ],
)
def test_carriers_are_normalised_with_tracking_links(text, name, url):
    assert normalize_carrier(text) == name
    assert tracking_url(name, "1Z1") == url


# --- our CSV -------------------------------------------------------------------------------------------


def test_parse_tracking_csv_reads_our_columns():
    text = (
        "tracking_number,carrier,status,occurred_at,location,description\n"
        '1z999aa10123456784,ups,Out for delivery,2026-11-23T08:10:00-05:00,"Springfield, IL",On vehicle\n'
        "\n"
        "9400111899223197428490,,delivered,2026-11-23T15:00:00Z,,Front porch\n"
    )
    updates = parse_tracking_csv(text)
    assert [fields(u) for u in updates] == [
        (
            "1Z999AA10123456784",
            "UPS",
            "out_for_delivery",
            utc(2026, 11, 23, 13, 10),
            "Out for delivery",
            "On vehicle",
            "Springfield, IL",
            "csv",
        ),
        (
            "9400111899223197428490",
            None,
            "delivered",
            utc(2026, 11, 23, 15),
            "delivered",
            "Front porch",
            "",
            "csv",
        ),
    ]


def test_parse_tracking_csv_lists_every_malformed_row():
    text = (
        "Tracking_Number,Status,Occurred_At\n"
        "1Z999AA10123456784,lost in space,2026-11-23T08:10:00Z\n"
        ",delivered,2026-11-23\n"
        "1Z999AA10123456784,delivered,tomorrow\n"
        "1Z999AA10123456784,delivered,2026-11-23T09:00:00Z\n"
    )
    with pytest.raises(InvalidImport) as caught:
        parse_tracking_csv(text)
    assert [str(e) for e in caught.value.errors] == [
        "line 2: unknown status 'lost in space' (use one of info_received, in_transit, out_for_delivery, "
        "available_for_pickup, failed_attempt, exception, delivered, returned_to_sender)",
        "line 3: tracking_number is empty",
        "line 4: occurred_at 'tomorrow' is not an ISO 8601 time",
    ]
    with pytest.raises(InvalidImport, match="missing column"):
        parse_tracking_csv("number,status\n1Z1,delivered\n")


# --- recording events against shipments ----------------------------------------------------------------


@pytest.fixture
def shop(db):
    channel = make_channel(db)
    east = make_location(db, name="Warehouse East", code="WH-EAST-T")
    west = make_location(db, name="Warehouse West", code="WH-WEST-T")
    link(db, channel, east, west)
    return channel, east, west


@pytest.fixture
def parcel(db, shop):
    """A confirmed order shipped with USPS under the Shippo fixture's tracking number."""
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 3)
    order = make_confirmed_order(db, channel, [(lamp.id, 1)])
    [shipment] = mark_shipped(
        db, order.id, carrier="USPS", tracking_number=SHIPPO_NUMBER, actor=PACKER, now=NOW
    )
    return order, shipment


def event(
    number: str, status: str, at: datetime, *, carrier: str | None = "USPS", where: str = ""
) -> TrackingUpdate:
    return TrackingUpdate(
        number, carrier, status, at, carrier_status=status, description=status, location=where, source="csv"
    )


def test_record_tracking_events_shippo_track_delivers_shipment_and_order(db, parcel):
    order, shipment = parcel
    updates = parse_tracking_payload(tracking_json("shippo", "track.json"))
    result = record_tracking_events(db, updates, now=NOW)
    assert (result.recorded, result.duplicates, result.unknown) == (7, 0, ())
    assert result.changes == (
        (shipment.id, "in_transit", "out_for_delivery"),
        (shipment.id, "out_for_delivery", "delivered"),
    )
    assert (shipment.status, shipment.delivered_at) == ("delivered", utc(2025, 3, 20, 18, 47))
    assert order.status == "delivered"
    stored = db.scalars(
        select(TrackingEvent)
        .where(TrackingEvent.shipment_id == shipment.id)
        .order_by(TrackingEvent.occurred_at)
    ).all()
    assert [(e.status, e.carrier_status, e.location) for e in stored][-2:] == [
        ("out_for_delivery", "TRANSIT", "Minneapolis, MN, 55401, US"),
        ("delivered", "DELIVERED/delivered", "Minneapolis, MN, 55401, US"),
    ]
    assert stored[-1].raw["object_id"] == "d41f0a7c3b9e4c2a8f6d1e5b7a3c9f20"
    visible = [(e.kind, e.to_status) for e in timeline(db, order) if e.visible_to_customer]
    assert visible[-3:] == [
        ("tracking", "out_for_delivery"),
        ("delivered", "delivered"),
        ("status_changed", "delivered"),
    ]


def test_record_tracking_events_ignores_duplicates(db, parcel):
    order, shipment = parcel
    payload = tracking_json("shippo", "track.json")
    record_tracking_events(db, parse_tracking_payload(payload), now=NOW)
    entries = len(timeline(db, order))
    again = record_tracking_events(db, parse_tracking_payload(payload), now=NOW + timedelta(hours=1))
    assert (again.recorded, again.duplicates, again.changes) == (0, 7, ())
    doubled = parse_tracking_payload(payload) * 2  # the same batch twice in one webhook
    assert record_tracking_events(db, doubled, now=NOW).recorded == 0
    assert (
        db.scalar(
            select(func.count()).select_from(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)
        )
        == 7
    )
    assert len(timeline(db, order)) == entries


def test_record_tracking_events_never_moves_a_shipment_backwards(db, parcel):
    order, shipment = parcel
    number = shipment.tracking_number
    t = NOW + timedelta(days=1)
    record_tracking_events(db, [event(number, "out_for_delivery", t)], now=t)
    record_tracking_events(
        db, [event(number, "info_received", t + timedelta(hours=1))], now=t
    )  # newer, lower
    assert shipment.status == "out_for_delivery"
    record_tracking_events(db, [event(number, "delivered", t + timedelta(hours=5))], now=t)
    late = record_tracking_events(
        db, [event(number, "in_transit", t - timedelta(hours=5), where="Hub")], now=t
    )
    assert (late.recorded, late.changes) == (1, ())  # kept as history, status untouched
    exception = record_tracking_events(db, [event(number, "exception", t + timedelta(days=1))], now=t)
    assert exception.changes == ()
    assert (shipment.status, shipment.delivered_at, order.status) == (
        "delivered",
        t + timedelta(hours=5),
        "delivered",
    )


def test_record_tracking_events_recovers_from_an_exception(db, parcel):
    order, shipment = parcel
    number, t = shipment.tracking_number, NOW + timedelta(days=1)
    record_tracking_events(db, [event(number, "exception", t, where="Memphis, TN")], now=t)
    assert (shipment.status, order.status) == ("exception", "shipped")
    record_tracking_events(db, [event(number, "in_transit", t + timedelta(days=1))], now=t)
    assert shipment.status == "in_transit"
    [problem] = [e for e in timeline(db, order) if e.kind == "tracking" and e.to_status == "exception"]
    assert problem.visible_to_customer and problem.data["carrier_description"] == "exception"


def test_record_tracking_events_lists_unknown_and_invalid_numbers(db, parcel):
    _order, shipment = parcel
    t = NOW + timedelta(days=1)
    result = record_tracking_events(
        db,
        [
            event("1ZNOSUCHPARCEL01", "in_transit", t, carrier="UPS"),
            event("1ZNOSUCHPARCEL01", "delivered", t + timedelta(hours=2), carrier="UPS"),
            event("n/a", "delivered", t, carrier=None),
            event(shipment.tracking_number, "out_for_delivery", t),
        ],
        now=t,
    )
    assert [(u.tracking_number, u.carrier, u.reason, u.events, u.last_status) for u in result.unknown] == [
        ("1ZNOSUCHPARCEL01", "UPS", "unknown", 2, "delivered"),
        ("N/A", None, "invalid", 1, "delivered"),
    ]
    assert result.recorded == 1 and shipment.status == "out_for_delivery"
    record_tracking_events(
        db, [event("1ZNOSUCHPARCEL01", "delivered", t, carrier="ups")], now=t + timedelta(hours=3)
    )
    report = unknown_tracking_report(db)
    assert [
        (r.tracking_number, r.carrier, r.reason, r.times_seen, r.first_seen, r.last_seen) for r in report
    ] == [
        ("1ZNOSUCHPARCEL01", "UPS", "unknown", 2, t, t + timedelta(hours=3)),
        ("N/A", None, "invalid", 1, t, t),
    ]


def test_unknown_number_leaves_the_report_once_a_shipment_has_it(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 1)
    order = make_confirmed_order(db, channel, [(lamp.id, 1)])
    early = event("1ZEARLYSCAN00001", "info_received", NOW, carrier="UPS")
    record_tracking_events(db, [early], now=NOW)
    assert [r.tracking_number for r in unknown_tracking_report(db)] == ["1ZEARLYSCAN00001"]
    [shipment] = mark_shipped(
        db, order.id, carrier="UPS", tracking_number="1ZEARLYSCAN00001", actor=PACKER, now=NOW
    )
    result = record_tracking_events(db, [early], now=NOW + timedelta(minutes=5))
    assert (result.recorded, result.unknown, shipment.status) == (1, (), "in_transit")
    assert unknown_tracking_report(db) == []


def test_record_tracking_events_needs_a_fitting_carrier(db, parcel):
    _order, shipment = parcel
    t = NOW + timedelta(days=1)
    wrong = record_tracking_events(
        db, [event(shipment.tracking_number, "delivered", t, carrier="FedEx")], now=t
    )
    assert [u.reason for u in wrong.unknown] == ["unknown"] and shipment.status == "in_transit"
    unnamed = record_tracking_events(
        db, [event(shipment.tracking_number, "out_for_delivery", t, carrier=None)], now=t
    )
    alias = record_tracking_events(
        db,
        [event(shipment.tracking_number, "delivered", t + timedelta(hours=1), carrier="us postal service")],
        now=t,
    )
    assert (unnamed.recorded, alias.recorded, shipment.status) == (1, 1, "delivered")


def test_record_tracking_events_rejects_a_status_not_ours(db):
    with pytest.raises(DomainError, match="unknown tracking status 'lost'"):
        record_tracking_events(db, [event("1Z999AA10123456784", "lost", NOW)], now=NOW)


def test_delivered_rolls_the_order_up_only_when_every_parcel_is_delivered(db, shop):
    channel, east, west = shop
    lamp, rug = make_sku(db), make_sku(db)
    make_stock(db, east, lamp.id, 1)
    make_stock(db, west, rug.id, 1)
    order = make_confirmed_order(db, channel, [(lamp.id, 1), (rug.id, 1)])
    [first] = mark_shipped(
        db,
        order.id,
        location_id=east.id,
        carrier="UPS",
        tracking_number="1ZROLLUP00000001",
        actor=PACKER,
        now=NOW,
    )
    [second] = mark_shipped(
        db,
        order.id,
        location_id=west.id,
        carrier="UPS",
        tracking_number="1ZROLLUP00000002",
        actor=PACKER,
        now=NOW,
    )
    t = NOW + timedelta(days=2)
    record_tracking_events(db, [event("1ZROLLUP00000001", "delivered", t, carrier="UPS")], now=t)
    assert (first.status, second.status, order.status) == ("delivered", "in_transit", "shipped")
    record_tracking_events(
        db, [event("1ZROLLUP00000002", "delivered", t + timedelta(hours=4), carrier="UPS")], now=t
    )
    assert order.status == "delivered"
    changes = [
        (e.from_status, e.to_status, e.message) for e in timeline(db, order) if e.kind == "status_changed"
    ]
    assert changes[-1] == ("shipped", "delivered", "every parcel delivered")
    assert [e.kind for e in timeline(db, order) if e.kind == "delivered"] == ["delivered", "delivered"]


def test_record_tracking_events_follows_a_channel_shipment(db):
    """A parcel the channel reported (number with spaces, lower case), on an order with no stock of ours."""
    order = make_order(db, status="shipped")
    shipment = Shipment(
        order_id=order.id,
        carrier="ups",
        tracking_number="1z 999 aa1 01 2345 6784",
        status="in_transit",
        shipped_at=NOW,
    )
    db.add(shipment)
    db.flush()
    result = record_tracking_events(
        db, [event("1Z999AA10123456784", "delivered", NOW + timedelta(days=3), carrier="UPS")], now=NOW
    )
    assert result.changes == ((shipment.id, "in_transit", "delivered"),)
    assert order.status == "delivered"


def test_order_shipments_lists_tracking_newest_first(db, parcel):
    order, shipment = parcel
    t = NOW + timedelta(days=1)
    record_tracking_events(
        db,
        [
            event(shipment.tracking_number, "in_transit", t, where="Oakland, CA"),
            event(shipment.tracking_number, "out_for_delivery", t + timedelta(hours=8), where="Berkeley, CA"),
        ],
        now=t,
    )
    [view] = order_shipments(db, order.id)
    assert (view.status, view.carrier, view.tracking_number) == (
        "out_for_delivery",
        "USPS",
        SHIPPO_NUMBER,
    )
    assert [(e.status, e.location) for e in view.events] == [
        ("out_for_delivery", "Berkeley, CA"),
        ("in_transit", "Oakland, CA"),
    ]
    assert view.tracking_url == f"https://tools.usps.com/go/TrackConfirmAction?tLabels={SHIPPO_NUMBER}"


def test_the_same_webhook_delivered_at_once_is_stored_once(committed_factory):
    """Eight deliveries of one carrier webhook race: every event stored once, one 'delivered', one roll-up."""
    with committed_factory() as session:
        channel = make_channel(session)
        east = make_location(session)
        link(session, channel, east)
        lamp = make_sku(session)
        make_stock(session, east, lamp.id, 1)
        order = make_confirmed_order(session, channel, [(lamp.id, 1)])
        [shipment] = mark_shipped(
            session, order.id, carrier="USPS", tracking_number=SHIPPO_NUMBER, actor=PACKER, now=NOW
        )
        session.commit()
        order_id, shipment_id = order.id, shipment.id
    body = tracking_file("shippo", "track.json").read_text()

    results = run_at_once(
        committed_factory, lambda s: record_tracking_events(s, parse_tracking_payload(body), now=NOW), 8
    )

    assert sum(r.recorded for r in results) == 7
    assert sum(len(r.changes) for r in results) == 2
    with committed_factory() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(TrackingEvent)
                .where(TrackingEvent.shipment_id == shipment_id)
            )
            == 7
        )
        assert session.get(Shipment, shipment_id).status == "delivered"
        kinds = [(e.kind, e.to_status) for e in timeline(session, session.get(Order, order_id))]
        assert kinds.count(("delivered", "delivered")) == 1
        assert kinds.count(("status_changed", "delivered")) == 1


# --- conformance: the public samples in ../shared/data (skipped when absent) -------------------------------


def test_public_sample_aftership_pending_tracking(shared_data):
    [update] = parse_tracking_payload((shared_data / "tracking/aftership/get_tracking_4px.json").read_text())
    assert fields(update) == (
        "HH19260817",
        "4px",
        "info_received",
        utc(2020, 2, 26, 3, 56, 51),
        "Pending/Pending_001",
        "Pending",
        "",
        "aftership",
    )


def test_public_sample_easypost_tracker(shared_data):
    updates = parse_tracking_payload(sample(shared_data, "easypost/tracker_retrieve.json"))
    assert [fields(u) for u in updates] == [
        (
            "EZ1000000001",
            "USPS",
            "info_received",
            utc(2025, 2, 6, 19, 48, 26),
            "pre_transit/status_update",
            "Pre-Shipment Info Sent to USPS",
            "",
            "easypost",
        ),
        (
            "EZ1000000001",
            "USPS",
            "info_received",
            utc(2025, 2, 7, 8, 25, 26),
            "pre_transit/status_update",
            "Shipping Label Created",
            "HOUSTON, TX, 77063",
            "easypost",
        ),
    ]


def test_public_sample_shippo_usps_history(shared_data):
    updates = parse_tracking_payload(sample(shared_data, "shippo/track_get_status_usps.json"))
    assert {(u.tracking_number, u.carrier, u.source) for u in updates} == {
        ("9205590164917337534322", "USPS", "shippo")
    }
    assert [(u.occurred_at, u.status) for u in updates] == [
        (utc(2016, 12, 7, 0, 0), "info_received"),
        (utc(2016, 12, 7, 2, 0), "info_received"),
        (utc(2016, 12, 7, 19, 4), "in_transit"),
        (utc(2016, 12, 7, 20, 19), "in_transit"),
        (utc(2016, 12, 7, 21, 45), "in_transit"),
        (utc(2016, 12, 7, 22, 5), "in_transit"),
        (utc(2016, 12, 8, 3, 25), "in_transit"),
        (utc(2016, 12, 8, 6, 40), "in_transit"),
        (utc(2016, 12, 8, 10, 19), "in_transit"),
        (utc(2016, 12, 8, 10, 29), "out_for_delivery"),  # TRANSIT, refined by "is out for delivery"
        (utc(2016, 12, 8, 15, 19), "delivered"),  # the current status is the last history entry: once
    ]
    first, out, last = updates[0], updates[-2], updates[-1]
    assert (first.carrier_status, first.location) == ("UNKNOWN", "")
    assert (
        first.description
        == "The USPS has received the electronic shipment information and is awaiting the item."
    )
    assert (out.carrier_status, out.description, out.location) == (
        "TRANSIT",
        "Your shipment is out for delivery.",
        "Berkeley, CA, 94705, US",
    )
    assert (last.carrier_status, last.description) == (
        "DELIVERED",
        "Your shipment has been delivered at the destination mailbox.",
    )


def test_public_sample_ups_track_response(shared_data):
    updates = parse_tracking_payload(sample(shared_data, "carriers/ups_tracking_response.json"))
    assert [fields(u) for u in updates] == [
        (
            "1Z1442YY7229014688",
            "UPS",
            "delivered",
            utc(2022, 1, 26, 16, 30),
            "D/F4",
            "DELIVERED",
            "PARAMUS, NJ, 07652, US",
            "ups",
        ),
        (
            "1Z1442YY7229014688",
            "UPS",
            "info_received",
            utc(2022, 1, 26, 15, 16, 41),
            "M/MP",
            "Shipper created a label, UPS has not received the package yet.",
            "US",
            "ups",
        ),
    ]


def test_public_samples_every_file_is_detected_and_parsed(shared_data):
    files = sorted((shared_data / "tracking").rglob("*.json"))
    assert len(files) >= 4
    for path in files:
        payload = json.loads(path.read_text())
        assert detect_source(payload) == {"carriers": "ups"}.get(path.parent.name, path.parent.name), path
        updates = parse_tracking_payload(payload)
        assert updates, path
        assert {u.status for u in updates} <= TRACKING_STATUSES
        assert all(u.occurred_at.tzinfo is not None and u.tracking_number for u in updates)
