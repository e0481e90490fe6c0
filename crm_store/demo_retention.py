"""Demo history for churn warnings: each rule fires for some of S001's customers, not others.

Added after the demo files are imported (`bankbot seed-demo`), straight into SQL:
- AUM snapshots 120 and 5 days ago: a 40% fall for two customers, a 10% fall for one;
- complaint notes 3 days ago (one answered by a later call, so only the other warns);
- deposits matured 5 days ago, one renewed since and one not;
- a VIP last called 45 days ago, with a large deposit maturing in 10 days.
The notes' complaint signals come from the index (`bankbot seed-demo` reindexes afterwards).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.index_outbox import enqueue
from crm_store.models import Customer, CustomerAumHistory, Holding, Interaction
from crm_store.pinyin import name_pinyin
from crm_store.store import Store

OWNER = "S001"
SILENT_VIP = "C09001"
COMPLAINT = "客户抱怨理财收益太低，说到期后要把钱转到招商银行，情绪不太好。"
ANSWERED = "客户嫌手机银行转账限额太低，投诉了两次。"
CALLED_BACK = "回电说明已帮客户调高转账限额，客户表示满意。"


def _at(today: date, days_ago: int, tz: object) -> datetime:
    return datetime.combine(today - timedelta(days=days_ago), time(10, 0), tzinfo=tz)  # type: ignore[arg-type]


def _mine(session: Session, segment: str) -> list[Customer]:
    query = select(Customer).where(Customer.owner_staff_id == OWNER, Customer.segment == segment)
    return list(session.scalars(query.order_by(Customer.id)))


def _silent_vip(session: Session, like: Customer, today: date, tz: object) -> Customer:
    """A VIP of S001 last called 45 days ago (the demo's other VIPs are all called lately)."""
    name = "欧阳明"
    c = Customer(id=SILENT_VIP, name=name, name_pinyin=name_pinyin(name), owner_staff_id=OWNER,
                 branch_id=like.branch_id, segment="vip", birthday_calendar="solar",
                 birthday_leap_month=False, risk_level="C3", aum=Decimal(3_000_000),
                 tags="企业主", updated_at=_at(today, 45, tz))  # fmt: skip
    session.add(c)
    session.flush()
    _note(
        session,
        "RD-LASTCALL-1",
        c,
        _at(today, 45, tz),
        "拜访客户，聊了企业经营情况和家庭资产配置。",
    )
    return c


def _note(session: Session, nid: str, c: Customer, when: datetime, text: str) -> None:
    session.add(Interaction(id=nid, customer_id=c.id, staff_id=OWNER, occurred_at=when,
                            channel="phone", content=text, created_at=when))  # fmt: skip
    session.flush()
    enqueue(session, nid, "upsert", now=when)


def seed_retention_demo(store: Store, today: date) -> list[str]:
    """Write the history; the ids of the customers meant to be warned."""
    tz = store.settings.tz
    with store.db.write() as s:
        if s.get(Customer, SILENT_VIP) is not None:  # seeded before (seed-demo --force)
            return []
        vips, regulars = _mine(s, "vip"), _mine(s, "regular")
        falling, slipping = regulars[:2], regulars[2]
        for c, ratio in ((falling[0], "1.7"), (falling[1], "1.6"), (slipping, "1.1")):
            aum = Decimal(c.aum or 0) or Decimal(500_000)
            s.merge(
                CustomerAumHistory(
                    customer_id=c.id,
                    as_of=today - timedelta(days=120),
                    aum=(aum * Decimal(ratio)).quantize(Decimal("0.01")),
                )
            )
            s.merge(CustomerAumHistory(customer_id=c.id, as_of=today - timedelta(days=5), aum=aum))
        unhappy, answered = regulars[3], regulars[4]
        _note(s, "RD-COMPLAINT-1", unhappy, _at(today, 3, tz), COMPLAINT)
        _note(s, "RD-COMPLAINT-2", answered, _at(today, 4, tz), ANSWERED)
        _note(s, "RD-CALLBACK-2", answered, _at(today, 2, tz), CALLED_BACK)
        gone, renewed = regulars[5], regulars[6]
        for c, hid in ((gone, "RD-MATURED-1"), (renewed, "RD-MATURED-2")):
            s.add(Holding(id=hid, customer_id=c.id, product_type="time_deposit",
                          product_name="一年期定期存款", amount=Decimal(300_000), currency="CNY",
                          start_date=today - timedelta(days=370),
                          maturity_date=today - timedelta(days=5)))  # fmt: skip
        s.add(Holding(id="RD-RENEWED-2", customer_id=renewed.id, product_type="large_cd",
                      product_name="大额存单2026年第48期", amount=Decimal(300_000), currency="CNY",
                      start_date=today - timedelta(days=2),
                      maturity_date=today + timedelta(days=363)))  # fmt: skip
        silent = _silent_vip(s, vips[0], today, tz)
        s.add(Holding(id="RD-LARGE-1", customer_id=silent.id, product_type="large_cd",
                      product_name="大额存单2025年第3期", amount=Decimal(1_000_000), currency="CNY",
                      start_date=today - timedelta(days=355),
                      maturity_date=today + timedelta(days=10)))  # fmt: skip
        return [falling[0].id, falling[1].id, unhappy.id, gone.id, silent.id]
