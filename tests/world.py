"""A small, fully known bank for tests: branches, teams, staff of every role, customers.

Branch tree: B1 上海分行 -> B2 陆家嘴支行 -> B3 社区支行; B9 is a separate root (北京分行).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from crm_store.crypto import FieldCipher
from crm_store.models import Branch, Customer, CustomerTeam, Holding, Staff, Team
from crm_store.personal import id_number_columns, phone_columns
from crm_store.pinyin import name_pinyin
from crm_store.store import Store

TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

BRANCHES = [
    ("B1", "上海分行", None),
    ("B2", "陆家嘴支行", "B1"),
    ("B3", "社区支行", "B2"),
    ("B9", "北京分行", None),
]
TEAMS = [("T1", "B2"), ("T2", "B2"), ("T9", "B9")]
STAFF = [  # id, name, role, branch, team, active
    ("rm1", "李娜", "rm", "B2", "T1", True),
    ("rm2", "周杰", "rm", "B2", "T1", True),
    ("rm3", "陈静", "rm", "B3", "T2", True),
    ("rm9", "赵强", "rm", "B9", "T9", True),
    ("lead1", "孙丽", "team_lead", "B2", "T1", True),
    ("head2", "吴刚", "branch_head", "B2", None, True),
    ("head1", "郑华", "branch_head", "B1", None, True),
    ("head9", "冯军", "branch_head", "B9", None, True),
    ("comp", "何敏", "compliance", "B1", None, True),
    ("admin", "马超", "admin", "B1", None, True),
    ("gone", "钱进", "rm", "B2", "T1", False),
]
CUSTOMERS = [  # id, name, owner, branch, segment, phone, birthday (m, d, calendar)
    ("c1", "张伟", "rm1", "B2", "vip", "13812345678", (12, 1, "solar")),
    ("c2", "张伟", "rm3", "B3", "regular", "13900001111", (2, 29, "solar")),
    ("c3", "王芳", "rm2", "B2", "regular", "13700002222", None),
    ("c4", "王芳", "rm1", "B2", "regular", "13600003333", (8, 15, "lunar")),
    ("c5", "王芳", "rm1", "B2", "prospect", "13500004444", None),
    ("c6", "李雷", "rm9", "B9", "vip", "13400005555", None),
    ("c7", "韩梅梅", "gone", "B2", "regular", "13300006666", None),
    ("c8", "刘洋", "rm2", "B2", "vip", "15800007777", None),
]
GRANTS = [("rm2", "c1", date(2026, 11, 27)), ("rm3", "c4", None), ("rm1", "c8", date(2026, 12, 31))]


def build_world(store: Store) -> None:
    """Insert the whole world in one transaction."""
    with store.db.write() as s:
        for bid, name, parent in BRANCHES:
            s.add(Branch(id=bid, name=name, parent_id=parent))
            s.flush()
        for tid, branch in TEAMS:
            s.add(Team(id=tid, name=tid, branch_id=branch))
        s.flush()
        for sid, name, role, branch, team, active in STAFF:
            s.add(
                Staff(id=sid, name=name, role=role, branch_id=branch, team_id=team, active=active)
            )
        s.flush()
        for row in CUSTOMERS:
            s.add(customer(store.cipher, *row))
        s.flush()
        for sid, cid, ends in GRANTS:
            s.add(CustomerTeam(staff_id=sid, customer_id=cid, ends_on=ends))
        s.flush()
        s.add(holding("h1", "c1", "large_cd", "大额存单2025年第12期", "500000", date(2026, 12, 3)))
        s.add(holding("h2", "c1", "fund", "易方达蓝筹精选混合", "80000", None))
        s.add(
            holding("h3", "c8", "time_deposit", "稳盈3个月定期存款", "200000", date(2026, 12, 20))
        )


def customer(
    cipher: FieldCipher,
    cid: str,
    name: str,
    owner: str,
    branch: str,
    segment: str,
    phone: str,
    birthday: tuple[int, int, str] | None,
) -> Customer:
    """One customer row with encrypted personal numbers."""
    month, day, calendar = birthday if birthday else (None, None, "solar")
    return Customer(
        id=cid,
        name=name,
        name_pinyin=name_pinyin(name),
        owner_staff_id=owner,
        branch_id=branch,
        segment=segment,
        birth_month=month,
        birth_day=day,
        birthday_calendar=calendar,
        risk_level="C3",
        aum=Decimal("1200000.00"),
        tags="关注基金;退休",
        updated_at=NOW,
        **phone_columns(cipher, phone),
        **id_number_columns(cipher, "31010119800101123X"),
    )


def holding(
    hid: str, cid: str, kind: str, name: str, amount: str, maturity: date | None
) -> Holding:
    """One holding row."""
    return Holding(
        id=hid,
        customer_id=cid,
        product_type=kind,
        product_name=name,
        amount=Decimal(amount),
        currency="CNY",
        start_date=date(2025, 12, 3),
        maturity_date=maturity,
    )
