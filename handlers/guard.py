"""The reply guard: the last gate every outgoing text passes, whatever produced it.

It masks personal numbers, redacts the names of customers the actor may not see, strips
links and images whose host is not allow-listed, and fails closed if a reply claims to
disclose a customer outside the actor's scope.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.customers import name_candidates, names_in_scope
from crm_store.masking import mask_text
from crm_store.models import Customer
from crm_store.permissions import Actor, customer_scope
from handlers.contracts import Event, Reply
from retrieval.links import strip_links

REDACTED = "***"


class DisclosureBlocked(Exception):
    """A reply named a customer outside the actor's scope; it must not be sent."""


def redact_hidden_names(
    session: Session,
    actor: Actor | None,
    today: date,
    text: str,
    allowed: frozenset[str] = frozenset(),
) -> str:
    """Replace every customer name the actor cannot see, keeping names they can."""
    seen = names_in_scope(session, actor=actor, today=today, names=name_candidates(text))
    visible = {name for name, in_scope in seen.items() if in_scope}
    hidden = seen.keys() - visible - allowed
    if not hidden:
        return text
    # Shield visible names first, so a hidden "王芳" never cuts into a visible "王芳芳".
    shields = {
        f"\x00{i}\x00": name for i, name in enumerate(sorted(visible, key=len, reverse=True))
    }
    for token, name in shields.items():
        text = text.replace(name, token)
    for name in sorted(hidden, key=len, reverse=True):
        text = text.replace(name, REDACTED)
    for token, name in shields.items():
        text = text.replace(token, name)
    return text


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
) -> Reply:
    """The reply as it may leave: links stripped, numbers masked, hidden names redacted."""
    check_disclosures(session, actor, today, reply)
    text = mask_text(strip_links(reply.text, allowed_link_hosts))
    text = redact_hidden_names(session, actor, today, text, reply.allowed_names)
    events = tuple(Event(e.type, dict(e.data)) for e in reply.events)
    return replace(reply, text=text, events=events)
