"""A huge Telegram message: refused at the HTTP edge, or cut away at the door; never stored."""

from __future__ import annotations

from sqlalchemy import select

from crm_store.models import AuditLog, InboxMessage
from tests.telegram.conftest import USER, Served, wait_processed
from tests.telegram.fake_telegram import payload


def private_text(text: str, update_id: int) -> dict[str, object]:
    update = payload("private-text")
    update["update_id"] = update_id
    update["message"]["text"] = text
    return update


def stored_lengths(served: Served) -> list[int]:
    with served.store.db.read() as s:
        inbox = s.scalars(select(InboxMessage.text)).all()
        audit = s.scalars(select(AuditLog.text_masked)).all()
    return [len(t) for t in (*inbox, *audit)]


def test_a_5_mb_update_is_refused_before_it_is_read(served: Served) -> None:
    response = served.post(private_text("张" * (5 * 1024 * 1024), 915033001))
    assert response.status_code == 413
    assert stored_lengths(served) == []


def test_a_message_over_the_cap_gets_a_short_reply_and_nothing_is_stored(served: Served) -> None:
    assert served.post(private_text("记录：张伟" + "很" * 20_000, 915033002)).status_code == 200
    wait_processed(served.store, 1)
    [call] = served.fake.wait_for("sendMessage")
    assert int(call.params["chat_id"]) == USER and "4000" in call.params["text"]
    assert max(stored_lengths(served)) <= 1
