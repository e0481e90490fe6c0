"""`bankbot key rotate`: every row under the data key moves to a new key in one transaction.

What depends on the data key:
- customers' phone and ID ciphertexts: decrypted with the old key, encrypted with the new;
- shared secrets (platform access tokens in the database): re-encrypted likewise; one that
  no longer decrypts is dropped (it is fetched again when needed);
- bind codes not yet used: stored as a keyed hash of a code nobody keeps, so they cannot be
  re-keyed and are cancelled (issue new ones);
- customers' import hashes (keyed digests): cleared, so the next import writes each row once;
- the key check, replaced by the new key's.
Either all of it commits or none: a crash leaves the database under the old key.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from crm_store.crypto import FieldCipher
from crm_store.db import Database
from crm_store.errors import DataKeyError
from crm_store.key_check import record_key_check, verify_key
from crm_store.models import BindCode, Customer, SharedSecret

BATCH = 2_000


@dataclass(frozen=True)
class Rotation:
    """What a rotation changed."""

    customers: int
    secrets: int
    secrets_dropped: int
    codes_cancelled: int


def rotate_key(db: Database, old: FieldCipher, new: FieldCipher, now: datetime) -> Rotation:
    """Re-encrypt everything under `new`, in one write transaction; refuses a wrong `old`."""
    if old.key_check() == new.key_check():
        raise DataKeyError("the new data key is the current one")
    with db.write() as session:
        verify_key(session, old)
        customers = _rotate_customers(session, old, new)
        secrets, dropped = _rotate_secrets(session, old, new)
        unused = BindCode.used_at.is_(None)
        codes = session.scalar(select(func.count()).select_from(BindCode).where(unused)) or 0
        session.execute(delete(BindCode).where(unused))
        record_key_check(session, new, now)
    return Rotation(customers, secrets, dropped, codes)


def _rotate_customers(session: Session, old: FieldCipher, new: FieldCipher) -> int:
    """Customers with a stored number, in id order and batches; a bad ciphertext aborts."""
    done, after = 0, ""
    while True:
        rows = session.execute(
            select(Customer.id, Customer.phone_enc, Customer.id_number_enc)
            .where(Customer.id > after)
            .order_by(Customer.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return done
        changes = [
            {
                "id": r.id,
                "phone_enc": _again(old, new, r.phone_enc),
                "id_number_enc": _again(old, new, r.id_number_enc),
                "import_hash": None,
            }
            for r in rows
        ]
        session.execute(update(Customer), changes)
        done += sum(1 for r in rows if r.phone_enc is not None or r.id_number_enc is not None)
        after = rows[-1].id


def _again(old: FieldCipher, new: FieldCipher, blob: bytes | None) -> bytes | None:
    return None if blob is None else new.encrypt(old.decrypt(blob))


def _rotate_secrets(session: Session, old: FieldCipher, new: FieldCipher) -> tuple[int, int]:
    """Shared secrets are base64 ciphertext; (re-encrypted, dropped)."""
    kept = dropped = 0
    for name, value in session.execute(select(SharedSecret.name, SharedSecret.value)).all():
        try:
            plain = old.decrypt(base64.b64decode(value))
        except (DataKeyError, binascii.Error, ValueError):
            session.execute(delete(SharedSecret).where(SharedSecret.name == name))
            dropped += 1
            continue
        blob = base64.b64encode(new.encrypt(plain)).decode()
        session.execute(update(SharedSecret).where(SharedSecret.name == name).values(value=blob))
        kept += 1
    return kept, dropped
