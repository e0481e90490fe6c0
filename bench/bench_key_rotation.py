"""`bankbot key rotate` speed against its floor: the decrypt + encrypt of the same values.

    python -m bench.bench_key_rotation [--rows 100000]

Builds a fresh, migrated SQLite file in a temp folder with `--rows` customers, each with an
encrypted phone and ID number, then times `rotate_key` (one transaction: read, re-encrypt,
write back, key check). The baseline, measured in the same run, is the AES-GCM work alone:
decrypting and encrypting every stored value in memory. Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from crm_store import schema
from crm_store.crypto import FieldCipher, decode_key, new_key_text
from crm_store.db import Database, make_engine
from crm_store.key_rotation import rotate_key
from crm_store.models import Branch, Customer, Staff
from crm_store.personal import id_number_columns, phone_columns

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _fill(db: Database, cipher: FieldCipher, rows: int) -> None:
    with db.write() as s:
        s.execute(insert(Branch), [{"id": "B1", "name": "分行"}])
        s.execute(insert(Staff), [{"id": "S1", "name": "经理", "role": "rm", "active": True}])
        batch = [
            {
                "id": f"C{i:07d}",
                "name": "客户",
                "name_pinyin": "kehu",
                "owner_staff_id": "S1",
                "branch_id": "B1",
                "segment": "regular",
                "birthday_calendar": "solar",
                "birthday_leap_month": False,
                "tags": "",
                "updated_at": NOW,
                **phone_columns(cipher, f"139{i:08d}"),
                **id_number_columns(cipher, f"3101011980{i % 10000:04d}{i % 1000:03d}X"),
            }
            for i in range(rows)
        ]
        s.execute(insert(Customer), batch)


def _floor(db: Database, old: FieldCipher, new: FieldCipher) -> float:
    """Seconds to decrypt and re-encrypt every stored value in memory (no SQL)."""
    with db.read() as s:
        blobs = [
            b
            for row in s.execute(select(Customer.phone_enc, Customer.id_number_enc))
            for b in row
            if b is not None
        ]
    started = time.perf_counter()
    for blob in blobs:
        new.encrypt(old.decrypt(blob))
    return time.perf_counter() - started


def main() -> None:
    """Fill, measure the floor, rotate, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bankbot.db'}")
        schema.upgrade(engine)
        db = Database(engine)
        old = FieldCipher(decode_key(new_key_text()))
        new = FieldCipher(decode_key(new_key_text()))
        _fill(db, old, args.rows)
        floor = _floor(db, old, new)
        started = time.perf_counter()
        done = rotate_key(db, old, new, NOW)
        took = time.perf_counter() - started
        db.dispose()
    load = os.getloadavg()[0]
    print(f"rows: {args.rows:,} customers, {2 * args.rows:,} encrypted values; load {load:.1f}")
    print(f"key rotate: {took:.2f} s ({done.customers / took:,.0f} customers/s), one transaction")
    print(f"floor (AES-GCM decrypt + encrypt in memory): {floor:.2f} s")
    print(f"ratio: {took / floor:.2f}x")


if __name__ == "__main__":
    main()
