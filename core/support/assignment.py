"""Round-robin auto-assignment: which available agent takes a new ticket (pure rules, no database)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

DEFAULT_TICKET_CAP = 25
CAP_VARIABLE = "CROSSDOCK_AGENT_TICKET_CAP"
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Candidate:
    """An available agent: how many unsolved tickets they hold, their cap, when they last got one."""

    user_id: int
    open_tickets: int
    last_assigned_at: datetime | None = None
    cap: int = DEFAULT_TICKET_CAP


def pick_assignee(candidates: Iterable[Candidate]) -> int | None:
    """The agent under their cap with the fewest unsolved tickets; ties go to whoever was given a ticket
    least recently (never first), then the lowest id. None when nobody is under their cap."""
    eligible = [c for c in candidates if c.open_tickets < c.cap]
    if not eligible:
        return None
    best = min(eligible, key=lambda c: (c.open_tickets, c.last_assigned_at or _NEVER, c.user_id))
    return best.user_id


def ticket_cap_from_env(environ: Mapping[str, str] = os.environ) -> int:
    """The per-agent cap of unsolved assigned tickets: CROSSDOCK_AGENT_TICKET_CAP, else 25 (a bad or
    negative value falls back to the default)."""
    try:
        cap = int(environ.get(CAP_VARIABLE, DEFAULT_TICKET_CAP))
    except ValueError:
        return DEFAULT_TICKET_CAP
    return cap if cap >= 0 else DEFAULT_TICKET_CAP
