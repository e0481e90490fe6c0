"""The reply guard: the last gate every outgoing text passes, whatever produced it.

It masks personal numbers, redacts the names of customers the actor may not see (see
handlers/redact.py for which names and where), strips links and images whose host is not
allow-listed, and fails closed if a reply claims to disclose a customer outside the actor's
scope. What it returns, a `GuardedReply`, is the only thing a channel sends, and only this
module makes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.masking import mask_text
from crm_store.models import Customer
from crm_store.permissions import Actor, customer_scope
from handlers.contracts import Event, Reply
from handlers.redact import REDACTED, redact_hidden_names
from retrieval.links import strip_links

__all__ = [
    "REDACTED",
    "DisclosureBlocked",
    "GuardedReply",
    "fixed_reply",
    "guard_reply",
    "redact_hidden_names",
    "require_guarded",
]

_SEAL = object()  # only this module holds it: nothing else can make a GuardedReply


class DisclosureBlocked(Exception):
    """A reply named a customer outside the actor's scope; it must not be sent."""


@dataclass(frozen=True)
class GuardedReply:
    """A reply that passed the guard: text for the person and events for machines."""

    text: str
    events: tuple[Event, ...] = ()
    seal: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.seal is not _SEAL:
            raise TypeError("a GuardedReply is made only by the reply guard (handlers/guard.py)")

    def customer_ids(self) -> list[str]:
        """Every customer id this reply discloses, in order, without repeats."""
        return Reply(self.text, self.events).customer_ids()


def require_guarded(reply: object) -> GuardedReply:
    """What a channel calls first: anything but a sealed GuardedReply is refused."""
    if not isinstance(reply, GuardedReply) or reply.seal is not _SEAL:
        raise TypeError(f"channels send only guarded replies, not {type(reply).__name__}")
    return reply


def check_disclosures(session: Session, actor: Actor | None, today: date, reply: Reply) -> None:
    """Raise if the reply's events name a customer the actor may not see."""
    claimed = set(reply.customer_ids())
    if not claimed:
        return
    allowed = set(
        session.scalars(
            select(Customer.id).where(Customer.id.in_(claimed), customer_scope(actor, today))
        )
    )
    if claimed - allowed:
        raise DisclosureBlocked(f"{len(claimed - allowed)} customer(s) outside scope")


def guard_reply(
    session: Session,
    actor: Actor | None,
    today: date,
    reply: Reply,
    allowed_link_hosts: frozenset[str] = frozenset(),
    asked: str = "",
) -> GuardedReply:
    """The reply as it may leave: links stripped, numbers masked, hidden names redacted.

    `asked`: the asker's message, whose names come back as typed.
    """
    check_disclosures(session, actor, today, reply)
    text = mask_text(strip_links(reply.text, allowed_link_hosts))
    text = redact_hidden_names(session, actor, today, text, reply.allowed_names, asked)
    events = tuple(Event(e.type, dict(e.data)) for e in reply.events)
    return GuardedReply(text, events, _SEAL)


def fixed_reply(reply: Reply) -> GuardedReply:
    """A reply made only of fixed texts, sent where no database is at hand (the apology for a
    failed request): links stripped and numbers masked all the same; it names nobody."""
    if reply.customer_ids():
        raise DisclosureBlocked("a fixed reply must not disclose customers")
    text = mask_text(strip_links(reply.text, frozenset()))
    return GuardedReply(text, tuple(Event(e.type, dict(e.data)) for e in reply.events), _SEAL)
