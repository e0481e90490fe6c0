"""The data key check: a MAC of a fixed label under the data key, stored at `bankbot init`.

Every command compares it with the key it was given before touching any row, so a valid but
different key is refused instead of silently encrypting new rows under a second key.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crm_store.crypto import FieldCipher
from crm_store.errors import DataKeyError
from crm_store.models import Customer, StoreMeta
from crm_store.upsert import insert_for

KEY_CHECK = "data_key_check"
MISMATCH = "the data key does not match this database (key check failed)"


def stored_key_check(session: Session) -> str | None:
    """The stored key check, or None before the first `bankbot init` that records it."""
    return session.scalar(select(StoreMeta.value).where(StoreMeta.name == KEY_CHECK))


def verify_key(session: Session, cipher: FieldCipher) -> None:
    """Refuse a key that is not the database's; without a stored check, try one stored value."""
    stored = stored_key_check(session)
    if stored is None:
        _decrypt_one(session, cipher)
    elif not hmac.compare_digest(stored, cipher.key_check()):
        raise DataKeyError(MISMATCH)


def record_key_check(session: Session, cipher: FieldCipher, now: datetime) -> None:
    """Store (or replace) the key's check; `init` (after `verify_key`) and `key rotate`."""
    value = cipher.key_check()
    statement = insert_for(session, StoreMeta).values(name=KEY_CHECK, value=value, updated_at=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"value": value, "updated_at": now}
        )
    )


def _decrypt_one(session: Session, cipher: FieldCipher) -> None:
    """A store from before the key check: one stored number must decrypt under the key."""
    row = session.execute(
        select(Customer.phone_enc, Customer.id_number_enc)
        .where(or_(Customer.phone_enc.is_not(None), Customer.id_number_enc.is_not(None)))
        .limit(1)
    ).first()
    if row is None:
        return
    blob = row.phone_enc if row.phone_enc is not None else row.id_number_enc
    try:
        cipher.decrypt(blob)
    except DataKeyError:
        raise DataKeyError(MISMATCH) from None
