"""The staff console, mounted at /console: tickets, customers, orders, manager and admin pages."""

from agent_console.views import bp

__all__ = ["bp"]
from agent_console import (
    account,  # noqa: F401  (registers the security page, two-factor set-up and its gate on bp)
    admin,  # noqa: F401  (registers the admin routes on bp)
    audit,  # noqa: F401  (registers the audit log page on bp)
    customers,  # noqa: F401  (registers the customer identity pages on bp)
    operations,  # noqa: F401  (registers the operations routes on bp)
    order_actions,  # noqa: F401  (registers the order page and its actions on bp)
    presence,  # noqa: F401  (registers the ticket presence heartbeat on bp)
    privacy,  # noqa: F401  (registers the data-rights pages on bp)
    roles,  # noqa: F401  (registers the staff roles admin pages on bp)
    search,  # noqa: F401  (registers the console search on bp)
    setup,  # noqa: F401  (registers the locations set-up pages on bp)
    sla,  # noqa: F401  (registers the SLA settings pages on bp)
    tickets,  # noqa: F401  (registers the ticket and canned-reply routes on bp)
)
