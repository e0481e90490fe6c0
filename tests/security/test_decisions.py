"""Audit decisions and bounds: compliance cannot act on items, snoozes stay in range, undo
after a revoked grant answers cleanly, audit rows carry the real time of the write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm_store import staff_admin
from crm_store.models import AuditLog, FollowUp
from crm_store.store import Store
from tests.assistant import Assistant
from tests.world import NOW, TODAY, build_world


@pytest.fixture
def bot(store: Store) -> Assistant:
    build_world(store)
    return Assistant(store, NOW)


def _last_audit(store: Store) -> AuditLog:
    with store.db.read() as s:
        row = s.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).one()
    return row


def _open_followup(store: Store, staff: str = "rm1", customer: str = "c1") -> None:
    with store.db.write() as s:
        s.add(
            FollowUp(
                customer_id=customer,
                staff_id=staff,
                due_on=TODAY,
                summary="回访",
                created_at=NOW,
            )
        )


@pytest.mark.parametrize("command", ["完成 1", "推迟 1 3天"])
def test_compliance_item_actions_are_refused_read_only(
    store: Store, bot: Assistant, command: str
) -> None:
    _open_followup(store)
    listed = bot.say("comp", "今天要做什么")
    assert "refused" not in listed.types()
    said = bot.say("comp", command)
    assert said.event("refused") == {"reason": "read_only"}
    assert _last_audit(store).decision == "refused"
    with store.db.read() as s:
        assert s.scalars(select(FollowUp.status)).one() == "open"


@pytest.mark.parametrize(
    "when", ["100000天", "-3天", "－3天", "−3 天", "400天", "0天", "2300-01-01"]
)
def test_snoozes_out_of_range_are_refused(store: Store, bot: Assistant, when: str) -> None:
    _open_followup(store)
    bot.say("rm1", "今天要做什么")
    said = bot.say("rm1", f"推迟 1 {when}")
    assert "followup_snoozed" not in said.types(), said.text
    assert "365" in said.text or "没看懂" in said.text
    with store.db.read() as s:
        assert s.scalars(select(FollowUp.due_on)).one() == TODAY


def test_a_snooze_in_range_still_works(store: Store, bot: Assistant) -> None:
    _open_followup(store)
    bot.say("rm1", "今天要做什么")
    said = bot.say("rm1", "推迟 1 365天")
    assert said.event("followup_snoozed")["until"] == (TODAY + timedelta(days=365)).isoformat()


def test_undo_after_the_grant_was_revoked_is_a_clean_reply(store: Store, bot: Assistant) -> None:
    noted = bot.say("rm1", "/note 刘洋 客户想了解理财")  # c8: rm1's by grant until 12-31
    assert noted.event("note_recorded")["customer_id"] == "c8"
    with store.db.write() as s:
        assert staff_admin.revoke(s, staff_id="rm1", customer_id="c8")
    said = bot.say("rm1", "撤销")
    assert "Traceback" not in said.text and "/" not in said.text
    assert said.types() != ["refused"] or said.event("refused")["reason"] != "error"
    assert "刘洋" not in said.text
    assert _last_audit(store).decision != "error"


def test_audit_rows_carry_the_wall_clock_and_the_as_of_time(store: Store, bot: Assistant) -> None:
    before = datetime.now(UTC)
    bot.say("rm1", "查一下张伟")  # the assistant's clock is NOW, 2026-11-28 09:00 UTC
    row = _last_audit(store)
    assert row.at >= before - timedelta(seconds=1)
    assert row.as_of == NOW
