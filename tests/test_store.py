"""The store itself: schema, encryption at rest, append-only audit, note bookkeeping."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from crm_store import schema
from crm_store.audit import write_audit
from crm_store.crypto import FieldCipher, decode_key, new_key_text
from crm_store.errors import DataKeyError
from crm_store.models import Base, Customer, FollowUp
from crm_store.notes import record_note, undo_note
from crm_store.store import Store
from tests.world import build_world

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def test_migrations_match_the_models(store: Store) -> None:
    schema.upgrade(store.db.engine)  # a second run is a no-op
    assert schema.is_current(store.db.engine)
    with store.db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_personal_numbers_are_encrypted_and_masked(store: Store) -> None:
    build_world(store)
    with store.db.read() as s:
        c1 = s.get(Customer, "c1")
        assert c1 is not None and c1.phone_enc is not None
        assert b"13812345678" not in c1.phone_enc
        assert store.cipher.decrypt(c1.phone_enc) == "13812345678"
        assert (c1.phone_masked, c1.phone_last4) == ("138****5678", "5678")
        assert c1.id_number_masked == "**************123X"


def _raw_bytes(store: Store) -> bytes:
    """SQLite: the database file and its WAL as they lie on disk. PostgreSQL: every customer
    row as text, with binary columns decoded byte for byte."""
    if store.db.is_sqlite:
        store.db.dispose()
        db_file = Path(store.settings.db_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    query = (
        "SELECT string_agg(c::text || encode(coalesce(phone_enc, ''), 'escape') || "
        "encode(coalesce(id_number_enc, ''), 'escape'), '') FROM customer c"
    )
    with store.db.read() as s:
        return str(s.scalar(text(query))).encode()


def test_stored_data_holds_no_plaintext_number(store: Store) -> None:
    build_world(store)
    raw = _raw_bytes(store)
    assert "张伟".encode() in raw  # the check does see the stored rows
    for secret in ("13812345678", "13900001111", "31010119800101123X"):
        assert secret.encode() not in raw


def test_wrong_key_is_a_clear_error(store: Store) -> None:
    build_world(store)
    other = FieldCipher(decode_key(new_key_text()))
    with store.db.read() as s:
        blob = s.get(Customer, "c1").phone_enc  # type: ignore[union-attr]
    with pytest.raises(DataKeyError, match="does not match"):
        other.decrypt(blob or b"")


def test_audit_log_is_append_only(store: Store) -> None:
    with store.db.write() as s:
        write_audit(
            s,
            at=NOW,
            actor_staff_id=None,
            channel="console",
            sender_id="x",
            chat_type="private",
            intent="help",
            customer_ids=[],
            decision="allowed",
            text_masked="帮助",
        )
    for statement in ("UPDATE audit_log SET decision = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.db.write() as s:
            s.execute(text(statement))


def test_note_is_recorded_once_per_message_and_undo_removes_its_task(store: Store) -> None:
    build_world(store)
    args = dict(
        staff_id="rm1",
        customer_id="c1",
        content="客户电话13812345678，想买理财",
        occurred_at=NOW,
        channel="wecom",
        source_message_id="msg-9",
        next_followup_on=date(2026, 12, 1),
    )
    with store.db.write() as s:
        first = record_note(s, **args)  # type: ignore[arg-type]
        again = record_note(s, **args)  # type: ignore[arg-type]
    assert first.created and not again.created
    assert first.interaction_id == again.interaction_id
    with store.db.write() as s:
        assert not undo_note(s, staff_id="rm2", interaction_id=first.interaction_id, now=NOW)
        assert undo_note(s, staff_id="rm1", interaction_id=first.interaction_id, now=NOW)
        assert s.query(FollowUp).count() == 0
