"""Who is speaking: the staff record bound to a channel + platform user id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import ChannelIdentity
from crm_store.permissions import Actor, load_actor

# The console runs on the bank's own machine with database access, so its sender id is the
# staff id itself (`--as S001`); every platform channel goes through a bound identity.
TRUSTED_LOCAL_CHANNELS = frozenset({"console"})


def resolve_actor(session: Session, *, channel: str, sender_id: str) -> Actor | None:
    """The actor behind a sender, or None if the sender is bound to nobody."""
    if channel in TRUSTED_LOCAL_CHANNELS:
        return load_actor(session, sender_id)
    staff_id = session.scalar(
        select(ChannelIdentity.staff_id).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == sender_id
        )
    )
    return load_actor(session, staff_id) if staff_id else None
