"""One-time codes that bind a chat account (WeCom UserID, Telegram user id) to a staff record.

Only a keyed hash of the code is stored (HMAC under a key derived from the data key), so a
copy of the table cannot be searched for the 32^8 possible codes; a code is valid for 24 hours
and works once. Rotating the data key cancels the codes not yet used.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.crypto import FieldCipher
from crm_store.errors import StoreError, UnknownStaff
from crm_store.models import BindCode, ChannelIdentity, Staff

CODE_VALID_FOR = timedelta(hours=24)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on a phone
CODE_LENGTH = 8


def issue_code(session: Session, *, staff_id: str, now: datetime, cipher: FieldCipher) -> str:
    """A fresh code for an active staff member, valid for 24 hours."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise UnknownStaff(f"unknown staff id {staff_id!r}")
    if not staff.active:
        raise StoreError(f"{staff_id} has left; reactivate before inviting")
    code = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        BindCode(
            code_hash=cipher.code_hash(code),
            staff_id=staff_id,
            expires_at=now + CODE_VALID_FOR,
            created_at=now,
        )
    )
    session.flush()
    return code


def redeem_code(
    session: Session,
    *,
    code: str,
    channel: str,
    external_id: str,
    now: datetime,
    cipher: FieldCipher,
) -> str | None:
    """Bind `external_id` on `channel` to the code's staff member; None if the code is bad."""
    used = session.execute(
        update(BindCode)
        .where(
            BindCode.code_hash == cipher.code_hash(code),
            BindCode.used_at.is_(None),
            BindCode.expires_at > now,
        )
        .values(used_at=now)
        .returning(BindCode.staff_id)
    ).first()
    if used is None:
        return None
    staff_id: str = used[0]
    identity = session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )
    if identity is None:
        session.add(
            ChannelIdentity(
                channel=channel, external_id=external_id, staff_id=staff_id, bound_at=now
            )
        )
    else:
        identity.staff_id, identity.bound_at = staff_id, now
    session.flush()
    return staff_id
