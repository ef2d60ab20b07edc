"""The OpenAPI 3.1 document served at /api/openapi.json, built from the schemas the code validates with."""

from __future__ import annotations

import copy
from typing import Any

from core.channels.signatures import webhook_kinds
from core.channels.webshop import WEBSHOP_ORDER_SCHEMA


def _as_components(schema: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """A JSON Schema with local $defs as OpenAPI components: `name` plus `<name><Def>` for each $def."""
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", {})
    schema.pop("$schema", None)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node["$ref"] = f"#/components/schemas/{name}{ref.removeprefix('#/$defs/').title()}"
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    components = {name: rewrite(schema)}
    components.update({f"{name}{key.title()}": rewrite(value) for key, value in defs.items()})
    return components


ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}

_SIGNATURES = ", ".join(f"{kind}: `{scheme.signature_header}`" for kind, scheme in webhook_kinds().items())


def build_openapi() -> dict[str, Any]:
    """The whole document."""
    schemas = _as_components(WEBSHOP_ORDER_SCHEMA, "WebshopOrder")
    schemas["Error"] = ERROR
    schemas["IngestResult"] = {
        "type": "object",
        "properties": {
            "external_id": {"type": ["string", "null"]},
            "status": {"enum": ["created", "updated", "duplicate", "stale", "needs_attention", "rejected"]},
            "order_id": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
        },
    }
    error_response = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Crossdock API",
            "version": "1",
            "description": 'Channel webhooks and the web shop order format. Errors: {"error": "..."}.',
        },
        "paths": {
            "/api/channels/{channel}/webhooks/orders": {
                "post": {
                    "summary": "Receive an order created or updated on a channel",
                    "description": (
                        "The body is the channel's own order JSON (the web shop sends a WebshopOrder), "
                        "signed with the channel's webhook secret: base64 HMAC-SHA256 of the raw body "
                        f"(Square: of the notification URL + body) in the channel's header ({_SIGNATURES}). "
                        "The raw body is stored before processing; a repeated delivery id is `duplicate`."
                    ),
                    "parameters": [
                        {"name": "channel", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/WebshopOrder"}}
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Stored and processed",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "status": {"type": "string"},
                                            "payload_id": {"type": "integer"},
                                            "results": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/IngestResult"},
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        "400": {
                            "description": (
                                "Body is not valid JSON (bad syntax or encoding, nested deeper than 64 "
                                "levels, a number too long), or no order in it could be taken (a value of "
                                "the wrong type or out of range): `error` says which; a stored body stays, "
                                "rejected"
                            ),
                            **error_response,
                        },
                        "401": {"description": "Missing or bad signature", **error_response},
                        "404": {"description": "Unknown channel, or one that is polled", **error_response},
                        "413": {"description": "Body too large", **error_response},
                    },
                }
            },
            "/api/channels/{channel}/webhooks/privacy": {
                "post": {
                    "summary": "Shopify's mandatory privacy (compliance) webhooks",
                    "description": (
                        "X-Shopify-Topic `customers/data_request` (records an export request for staff), "
                        "`customers/redact` (erases the matching customers: Shopify customer id, email or "
                        "`orders_to_redact`) or `shop/redact` (recorded; the worker erases the channel's "
                        "customer data). Signed like the channel's order webhooks (X-Shopify-Hmac-Sha256); "
                        "the raw body is stored before it is acted on; a repeated X-Shopify-Webhook-Id is "
                        "`duplicate`. The orders address accepts these topics too."
                    ),
                    "parameters": [
                        {"name": "channel", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "shop_id": {"type": "integer"},
                                        "shop_domain": {"type": "string"},
                                        "customer": {
                                            "type": "object",
                                            "properties": {
                                                "id": {"type": "integer"},
                                                "email": {"type": "string"},
                                                "phone": {"type": "string"},
                                            },
                                        },
                                        "orders_requested": {"type": "array", "items": {"type": "integer"}},
                                        "orders_to_redact": {"type": "array", "items": {"type": "integer"}},
                                        "data_request": {
                                            "type": "object",
                                            "properties": {"id": {"type": "integer"}},
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "Stored and acted on, or a duplicate delivery"},
                        "400": {"description": "Unknown topic, or a body not of its shape", **error_response},
                        "401": {"description": "Missing or bad signature", **error_response},
                        "404": {"description": "Unknown channel, or not a Shopify one", **error_response},
                        "413": {"description": "Body too large", **error_response},
                    },
                }
            },
            "/api/support/inbound-email": {
                "post": {
                    "summary": "Receive an email for the helpdesk",
                    "description": (
                        "One received email as a raw RFC 5322 message: the request body "
                        "(`Content-Type: message/rfc822`), or the `email` field of a multipart or form post "
                        '(SendGrid Inbound Parse with "POST the raw, full MIME message"). Authenticated by '
                        "the shared secret INBOUND_EMAIL_SECRET in the `X-Crossdock-Inbound-Secret` header "
                        "or as the HTTP Basic password. Threaded by our reply-to address "
                        "(`reply+<token>@<MAIL_FROM's domain>`), then In-Reply-To/References from the "
                        "conversation's customer, else a new ticket for the sender (matched to a customer by "
                        "email). Attachments up to 5 MB each, 10 per message, images, PDF and plain text, "
                        "are kept in the database; a repeated Message-ID is `duplicate`; auto-replies are "
                        "`ignored`."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["email"],
                                    "properties": {"email": {"type": "string", "format": "binary"}},
                                }
                            },
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Stored, or recognised as a duplicate or an automatic reply",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "status": {
                                                "enum": ["threaded", "created", "duplicate", "ignored"]
                                            },
                                            "conversation_id": {"type": ["integer", "null"]},
                                            "message_id": {"type": ["integer", "null"]},
                                            "reason": {"type": ["string", "null"]},
                                        },
                                    }
                                }
                            },
                        },
                        "400": {"description": "No message, or one without a sender", **error_response},
                        "401": {"description": "Missing or wrong shared secret", **error_response},
                        "413": {"description": "Body too large", **error_response},
                        "503": {"description": "INBOUND_EMAIL_SECRET is not set", **error_response},
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Database reachable, migrations current, worker heartbeat age",
                    "responses": {"200": {"description": "Ready"}, "503": {"description": "Not ready"}},
                }
            },
        },
        "components": {"schemas": schemas},
    }
