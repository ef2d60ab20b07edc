"""Every area's models in one import, so the metadata (and Alembic) see the whole schema."""

from core.analytics.models import (
    ChannelTraffic,
    OrderDay,
    RefundDay,
    ReturnDay,
    RollupState,
    SkuDay,
    SkuReturnDay,
    StaleDay,
    TicketDay,
    TicketFact,
    TicketSkuDay,
)
from core.audit.models import AuditEntry
from core.catalog.models import Listing, Product, Sku
from core.channels.models import Channel, channel_locations
from core.configuration.models import EmailText
from core.customers.models import CrmNote, CrmNoteVersion, Customer, CustomerMerge, Identity
from core.db import Base
from core.fulfillment.models import Shipment, ShipmentLine, ShippingOption, TrackingEvent
from core.inventory.models import Location, LowStockAlert, StockLevel, StockMovement
from core.notifications.models import OutboxMessage
from core.orders.models import Allocation, InboundPayload, Order, OrderEvent, OrderLine
from core.privacy.models import PrivacyRequest
from core.returns.models import Refund, ReturnLine, ReturnReason, ReturnRequest
from core.security.models import (
    AuthSession,
    AuthThrottle,
    RateLimitBucket,
    RecoveryCode,
    SecuritySettings,
    TwoFactorCredential,
    User,
)
from core.security.role_models import StaffRole
from core.support.models import (
    BusinessHours,
    Conversation,
    ConversationTag,
    HelpArticle,
    Macro,
    Message,
    MessageAttachment,
    SatisfactionRating,
    SlaChannelOverride,
    SlaPolicy,
    SupportCalendar,
    SupportHoliday,
    TicketPresence,
)
from core.system.models import WorkerLease

__all__ = [
    "Allocation",
    "AuditEntry",
    "AuthSession",
    "AuthThrottle",
    "Base",
    "BusinessHours",
    "Channel",
    "ChannelTraffic",
    "Conversation",
    "ConversationTag",
    "CrmNote",
    "CrmNoteVersion",
    "Customer",
    "CustomerMerge",
    "EmailText",
    "HelpArticle",
    "Identity",
    "InboundPayload",
    "Listing",
    "Location",
    "LowStockAlert",
    "Macro",
    "Message",
    "MessageAttachment",
    "Order",
    "OrderDay",
    "OrderEvent",
    "OrderLine",
    "OutboxMessage",
    "PrivacyRequest",
    "Product",
    "RateLimitBucket",
    "RecoveryCode",
    "Refund",
    "RefundDay",
    "ReturnDay",
    "ReturnLine",
    "ReturnReason",
    "ReturnRequest",
    "RollupState",
    "SatisfactionRating",
    "SecuritySettings",
    "Shipment",
    "ShipmentLine",
    "ShippingOption",
    "Sku",
    "SkuDay",
    "SkuReturnDay",
    "SlaChannelOverride",
    "SlaPolicy",
    "StaffRole",
    "StaleDay",
    "StockLevel",
    "StockMovement",
    "SupportCalendar",
    "SupportHoliday",
    "TicketDay",
    "TicketFact",
    "TicketPresence",
    "TicketSkuDay",
    "TrackingEvent",
    "TwoFactorCredential",
    "User",
    "WorkerLease",
    "channel_locations",
]
