"""The five churn rules, each firing and not firing, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from crm_store.models import FollowUp, RetentionAck
from crm_store.retention import Warning, warnings
from crm_store.store import Store
from tests.retention.helpers import (
    TODAY,
    add_history,
    add_holding,
    add_note,
    add_retention_followup,
    at,
    only_customers,
)
from tests.world import build_world


def reasons(store: Store) -> dict[str, list[str]]:
    """Customer id -> the rules that fired for them."""
    with store.db.read() as s:
        found = warnings(s, store.settings, TODAY)
    return {w.customer_id: [r.rule for r in w.reasons] for w in found}


def warning_of(store: Store, cid: str) -> Warning:
    with store.db.read() as s:
        found = {w.customer_id: w for w in warnings(s, store.settings, TODAY)}
    return found[cid]


def test_rule_1_large_maturity_without_recent_contact(store: Store) -> None:
    build_world(store)
    only_customers(store, {"c1", "c8"})
    add_note(store, "n8", "c8", 40)  # c8's 200k deposit is below the large amount
    add_note(store, "n1", "c1", 45)
    got = reasons(store)
    assert "maturity" in got["c1"] and "maturity" not in got.get("c8", [])
    reason = next(r for r in warning_of(store, "c1").reasons if r.rule == "maturity")
    assert reason.key == "m:h1" and reason.at_risk == Decimal("500000")
    assert warning_of(store, "c1").last_note_on == TODAY - timedelta(days=45)
    add_note(store, "n1b", "c1", 10)  # talked ten days ago: the money is being looked after
    assert "c1" not in reasons(store)


def test_rule_2_aum_drop_against_90_days_ago(store: Store) -> None:
    build_world(store)
    only_customers(store, set())
    add_history(store, "c3", TODAY - timedelta(days=120), "2000000")
    add_history(store, "c3", TODAY - timedelta(days=10), "1200000")  # -40%
    add_history(store, "c4", TODAY - timedelta(days=120), "1500000")
    add_history(store, "c4", TODAY - timedelta(days=10), "1200000")  # -20%
    got = reasons(store)
    assert got.get("c3") == ["aum_drop"] and "c4" not in got
    reason = warning_of(store, "c3").reasons[0]
    assert reason.figure == Decimal("2000000") and reason.at_risk == Decimal("800000")


def test_rule_3_silence_by_segment_cadence(store: Store) -> None:
    build_world(store)
    only_customers(store, {"c1", "c8", "c3", "c5", "c4"})
    add_note(store, "a", "c1", 31)  # vip, 31 days: silent
    add_note(store, "b", "c8", 29)  # vip, 29 days: fine
    add_note(store, "c", "c3", 89)  # regular, 89 days: fine
    add_note(store, "d", "c4", 91)  # regular, 91 days: silent
    got = reasons(store)
    assert "silence" in got["c1"] and "silence" in got["c4"]
    assert "c8" not in got and "c3" not in got
    assert "c5" not in got  # a prospect never contacted is not silent
    add_note(store, "e", "c5", 15)  # a prospect 15 days after the first contact is
    assert reasons(store)["c5"] == ["silence"]


def test_rule_4_complaint_not_followed_up(store: Store) -> None:
    build_world(store)
    only_customers(store, {"c3", "c4", "c8"})
    add_note(store, "x3", "c3", 5, "客户说要把钱转走", complaint=True)
    add_note(store, "x4", "c4", 5, "客户抱怨收益太低", complaint=True)
    add_note(store, "y4", "c4", 2, "已回电解释")  # contact since: answered
    add_note(store, "x8", "c8", 40, "投诉手机银行", complaint=True)  # too long ago
    add_note(store, "y8", "c8", 20, "问候")
    got = reasons(store)
    assert got == {"c3": ["complaint"]}
    reason = warning_of(store, "c3").reasons[0]
    assert reason.key == "c:x3" and reason.matched == "转走"
    with store.db.write() as s:  # a follow-up done after the note also answers it
        s.add(
            FollowUp(
                customer_id="c3", staff_id="rm2", due_on=TODAY, status="done", summary="回访",
                created_at=reason_time(), closed_at=reason_time() + timedelta(days=1),
            )
        )  # fmt: skip
    assert "c3" not in reasons(store)


def reason_time() -> datetime:
    """Four days ago, 09:00 business time."""
    return at(TODAY - timedelta(days=4), 9, 0)


def test_rule_5_matured_and_not_renewed(store: Store) -> None:
    build_world(store)
    only_customers(store, set())
    add_holding(store, "m4", "c4", "time_deposit", "300000", TODAY - timedelta(days=5))
    add_holding(store, "m3", "c3", "time_deposit", "300000", TODAY - timedelta(days=5))
    add_holding(store, "r3", "c3", "wealth_management", "300000", TODAY + timedelta(days=180),
                start=TODAY - timedelta(days=3))  # fmt: skip
    add_holding(store, "m8", "c8", "time_deposit", "300000", TODAY - timedelta(days=20))
    got = reasons(store)
    assert got == {"c4": ["matured"]}


def test_one_warning_per_customer_reasons_ranked_by_amount(store: Store) -> None:
    build_world(store)
    only_customers(store, {"c1"})
    add_note(store, "n1", "c1", 45)
    warning = warning_of(store, "c1")
    assert [r.rule for r in warning.reasons] == ["silence", "maturity"]  # 1.2M AUM, then 500k
    assert warning.at_risk == Decimal("1200000")


def test_retention_followup_quiets_then_new_reason_speaks(store: Store) -> None:
    build_world(store)
    only_customers(store, {"c1"})
    add_note(store, "n1", "c1", 45)
    fid = add_retention_followup(store, "c1", "open")
    assert "c1" not in reasons(store)  # open: quiet
    with store.db.write() as s:
        s.add(RetentionAck(followup_id=fid, reason_key="m:h1", customer_id="c1"))
        s.add(RetentionAck(followup_id=fid, reason_key="silence", customer_id="c1"))
        f = s.get(FollowUp, fid)
        assert f is not None
        f.status, f.closed_at = "done", reason_time()
    assert "c1" not in reasons(store)  # done 4 days ago: snoozed
    add_holding(store, "h9", "c1", "large_cd", "900000", TODAY + timedelta(days=7))
    assert reasons(store)["c1"] == ["maturity"]  # a new reason speaks up
    assert warning_of(store, "c1").reasons[0].key == "m:h9"


def test_snooze_ends(store: Store) -> None:
    build_world(store)
    only_customers(store, {"c1"})
    add_note(store, "n1", "c1", 45)
    fid = add_retention_followup(store, "c1", "done", closed_days_ago=20)
    with store.db.write() as s:
        s.add(RetentionAck(followup_id=fid, reason_key="m:h1", customer_id="c1"))
    assert "maturity" in reasons(store)["c1"]
