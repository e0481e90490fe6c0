"""Updates nobody answers are still audited; a chat that is not the sender's gets nothing."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select

from crm_store.models import AuditLog
from handlers.texts import t
from tests.telegram.conftest import USER, Served, inbox_rows, wait_processed
from tests.telegram.fake_telegram import payload

GROUP = -1001234567890


def audit_rows(served: Served) -> list[tuple[str, str, str, str]]:
    """(intent, decision, chat_type, text) of every audit row, oldest first."""
    with served.store.db.read() as s:
        rows = s.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        return [(r.intent, r.decision, r.chat_type, r.text_masked) for r in rows]


def chatter(text: str, update_id: int, chat_type: str = "supergroup") -> dict[str, Any]:
    update = payload("group-command")
    update["update_id"] = update_id
    update["message"]["message_id"] = update_id % 1000
    update["message"]["text"] = text
    update["message"]["chat"]["type"] = chat_type
    del update["message"]["entities"]
    return update


def test_group_chatter_gets_one_offer_then_is_audited_only(served: Served) -> None:
    assert served.post(chatter("张伟最近怎么样", 915032001)).status_code == 200
    [offer] = served.fake.wait_for("sendMessage")
    assert int(offer.params["chat_id"]) == GROUP
    assert offer.params["text"] == t("group_chat", "zh")
    wait_processed(served.store, 1)
    assert served.post(chatter("他电话13812345678", 915032002)).status_code == 200
    rows = audit_rows(served)
    assert [r[1] for r in rows] == ["refused", "ignored"] and rows[1][0] == "group_chatter"
    assert rows[1][2] == "supergroup" and "13812345678" not in rows[1][3]
    assert inbox_rows(served.store) == 1 and len(served.fake.calls("sendMessage")) == 1


def test_a_plain_group_also_gets_the_offer(served: Served) -> None:
    served.post(chatter("查一下张伟", 915032010, chat_type="group"))
    [offer] = served.fake.wait_for("sendMessage")
    assert offer.params["text"] == t("group_chat", "zh")


def test_edited_messages_are_audited_never_run(served: Served) -> None:
    edited = payload("edited-message")
    edited["edited_message"]["text"] = "记录：张伟 网银密码是123456"
    assert served.post(edited).status_code == 200
    [(intent, decision, chat_type, text)] = audit_rows(served)
    assert (intent, decision, chat_type) == ("edited", "ignored", "private")
    assert "123456" not in text
    assert inbox_rows(served.store) == 0 and served.fake.calls("sendMessage") == []


def test_channel_posts_are_audited(served: Served) -> None:
    post = {
        "update_id": 915032020,
        "channel_post": {
            "message_id": 5,
            "sender_chat": {"id": -1009876543210, "title": "公告", "type": "channel"},
            "chat": {"id": -1009876543210, "title": "公告", "type": "channel"},
            "date": 1764554400,
            "text": "查一下张伟",
        },
    }
    assert served.post(post).status_code == 200
    assert [r[:3] for r in audit_rows(served)] == [("channel_post", "ignored", "channel")]
    assert inbox_rows(served.store) == 0 and served.fake.calls("sendMessage") == []


def test_a_private_update_from_someone_elses_chat_is_refused(served: Served) -> None:
    forged = payload("private-text")
    forged["message"]["chat"]["id"] = 2002  # Telegram never sends this: chat != sender
    assert served.post(forged).status_code == 200
    [(intent, decision, chat_type, _)] = audit_rows(served)
    assert (intent, decision, chat_type) == ("chat_mismatch", "refused", "private")
    assert inbox_rows(served.store) == 0 and served.fake.calls("sendMessage") == []


def test_a_button_press_from_someone_elses_chat_is_refused(served: Served) -> None:
    forged = copy.deepcopy(payload("callback-query"))
    forged["callback_query"]["message"]["chat"]["id"] = 2002
    assert forged["callback_query"]["from"]["id"] == USER
    assert served.post(forged).status_code == 200
    assert [r[:2] for r in audit_rows(served)] == [("chat_mismatch", "refused")]
    assert inbox_rows(served.store) == 0 and served.fake.calls("sendMessage") == []
