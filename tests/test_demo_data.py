"""The demo CSV files: headers, sizes, references, personal-number formats, special cases."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from crm_store.demo import DEMO_KINDS, write_demo_files

TODAY = date(2026, 11, 28)
HEADERS = {
    "branches": ["branch_id", "name", "parent_id"],
    "staff": [
        "staff_id",
        "name",
        "role",
        "branch_id",
        "team_id",
        "wecom_userid",
        "telegram_user_id",
        "active",
    ],
    "customers": [
        "customer_id",
        "name",
        "owner_staff_id",
        "branch_id",
        "segment",
        "birthday",
        "birthday_calendar",
        "phone",
        "id_number",
        "risk_level",
        "aum",
        "tags",
    ],
    "holdings": [
        "holding_id",
        "customer_id",
        "product_type",
        "product_name",
        "amount",
        "currency",
        "start_date",
        "maturity_date",
    ],
    "interactions": [
        "interaction_id",
        "customer_id",
        "staff_id",
        "occurred_at",
        "channel",
        "content",
        "next_followup_on",
    ],
}
PRODUCT_TYPES = {"time_deposit", "large_cd", "wealth_management", "fund", "insurance", "loan"}
Rows = dict[str, list[dict[str, str]]]


def _id_check(body17: str) -> str:
    """GB 11643-1999 check character, computed independently of the generator."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    total = sum(int(d) * w for d, w in zip(body17, weights, strict=True))
    return "10X98765432"[total % 11]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    paths = write_demo_files(folder, today=TODAY)
    assert list(paths) == list(DEMO_KINDS)
    assert all(path.parent == folder and path.name == f"{k}.csv" for k, path in paths.items())
    return folder


@pytest.fixture(scope="module")
def rows(demo_dir: Path) -> Rows:
    out: Rows = {}
    for kind in DEMO_KINDS:
        with (demo_dir / f"{kind}.csv").open(encoding="utf-8", newline="") as f:
            out[kind] = list(csv.DictReader(f))
    return out


def _by_id(table: list[dict[str, str]], key: str) -> dict[str, dict[str, str]]:
    return {row[key]: row for row in table}


def test_import_order_and_headers(demo_dir: Path) -> None:
    assert DEMO_KINDS == ("branches", "staff", "customers", "holdings", "interactions")
    for kind, header in HEADERS.items():
        with (demo_dir / f"{kind}.csv").open(encoding="utf-8", newline="") as f:
            assert next(csv.reader(f)) == header


def test_counts_in_range(rows: Rows) -> None:
    assert len(rows["branches"]) == 5
    assert 10 <= len(rows["staff"]) <= 14
    customers = rows["customers"]
    assert 280 <= len(customers) <= 320
    assert 1.5 * len(customers) <= len(rows["holdings"]) <= 3 * len(customers)
    assert 1700 <= len(rows["interactions"]) <= 2300
    share = Counter(c["segment"] for c in customers)
    assert 0.10 <= share["vip"] / len(customers) <= 0.20
    assert 0.55 <= share["regular"] / len(customers) <= 0.75
    assert 0.15 <= share["prospect"] / len(customers) <= 0.25
    assert 35 <= sum(c["owner_staff_id"] == "S001" for c in customers) <= 45


def test_ids_are_unique_and_well_formed(rows: Rows) -> None:
    patterns = {
        "branches": ("branch_id", r"B\d{3}"),
        "staff": ("staff_id", r"S\d{3}"),
        "customers": ("customer_id", r"C\d{5}"),
        "holdings": ("holding_id", r"H\d{6}"),
        "interactions": ("interaction_id", r"I\d{7}"),
    }
    for kind, (key, pattern) in patterns.items():
        ids = [row[key] for row in rows[kind]]
        assert len(ids) == len(set(ids)), kind
        assert all(re.fullmatch(pattern, i) for i in ids), kind


def test_branch_tree_and_staff_roster(rows: Rows) -> None:
    branches = _by_id(rows["branches"], "branch_id")
    roots = [b for b in branches.values() if not b["parent_id"]]
    assert [(b["branch_id"], b["name"]) for b in roots] == [("B001", "上海分行")]
    children = [b for b in branches.values() if b["parent_id"] == "B001"]
    assert {b["name"] for b in children} == {"陆家嘴支行", "徐汇支行", "静安支行"}
    grandchildren = [
        b for b in branches.values() if b["parent_id"] in {c["branch_id"] for c in children}
    ]
    assert len(grandchildren) == 1
    assert all(b["parent_id"] in branches for b in branches.values() if b["parent_id"])

    staff = rows["staff"]
    roles = Counter(s["role"] for s in staff)
    assert set(roles) <= {"rm", "team_lead", "branch_head", "compliance", "admin"}
    assert roles["branch_head"] == 2 and roles["team_lead"] == 2
    assert roles["compliance"] == 1 and roles["admin"] == 1 and roles["rm"] >= 7
    heads = {s["branch_id"] for s in staff if s["role"] == "branch_head"}
    assert "B001" in heads and len(heads - {"B001"}) == 1
    assert {s["active"] for s in staff} == {"true", "false"}
    s001 = _by_id(staff, "staff_id")["S001"]
    assert (s001["name"], s001["role"], s001["active"]) == ("李娜", "rm", "true")
    rm_teams = {s["team_id"] for s in staff if s["role"] == "rm"}
    assert 2 <= len(rm_teams) <= 3 and all(re.fullmatch(r"T\d{2}", t) for t in rm_teams)
    for s in staff:
        assert s["branch_id"] in _by_id(rows["branches"], "branch_id")
        assert s["telegram_user_id"] == "" or s["telegram_user_id"].isdigit()
        if s["role"] == "rm" and s["active"] == "true":
            assert re.fullmatch(r"[a-z]+", s["wecom_userid"])
    assert sum(s["telegram_user_id"] != "" for s in staff) >= 2


def test_left_rm_still_owns_customers(rows: Rows) -> None:
    gone = [s["staff_id"] for s in rows["staff"] if s["active"] == "false"]
    assert len(gone) == 1
    owned = [c for c in rows["customers"] if c["owner_staff_id"] == gone[0]]
    assert 2 <= len(owned) <= 10


def test_every_reference_resolves(rows: Rows) -> None:
    branches = _by_id(rows["branches"], "branch_id")
    staff = _by_id(rows["staff"], "staff_id")
    customers = _by_id(rows["customers"], "customer_id")
    for c in customers.values():
        assert c["owner_staff_id"] in staff
        assert c["branch_id"] in branches
        assert c["branch_id"] == staff[c["owner_staff_id"]]["branch_id"]
    for h in rows["holdings"]:
        assert h["customer_id"] in customers
    for i in rows["interactions"]:
        assert i["customer_id"] in customers
        assert i["staff_id"] in staff


def test_customer_fields(rows: Rows) -> None:
    for c in rows["customers"]:
        assert c["segment"] in {"vip", "regular", "prospect"}
        assert c["birthday_calendar"] in {"solar", "lunar"}
        assert c["risk_level"] in {"", "C1", "C2", "C3", "C4", "C5"}
        assert c["segment"] == "prospect" or c["risk_level"]
        assert 2 <= len(c["name"]) <= 3
        aum = float(c["aum"])
        low, high = {"vip": (6e6, 1e9), "regular": (5e4, 3e6), "prospect": (0, 5e4)}[c["segment"]]
        assert low <= aum <= high, c
        assert all(tag.strip() for tag in c["tags"].split(";") if c["tags"])
        if c["birthday"]:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", c["birthday"])
            if c["birthday_calendar"] == "solar":
                date.fromisoformat(c["birthday"])
    assert len({c["phone"] for c in rows["customers"]}) == len(rows["customers"])


def test_phones_are_mainland_mobiles(rows: Rows) -> None:
    for c in rows["customers"]:
        assert re.fullmatch(r"1[3-9]\d{9}", c["phone"]), c["phone"]


def test_id_numbers_have_valid_check_digits_and_birth_dates(rows: Rows) -> None:
    given = [c for c in rows["customers"] if c["id_number"]]
    assert len(given) >= 250
    assert len({c["id_number"] for c in given}) == len(given)
    for c in given:
        number = c["id_number"]
        assert re.fullmatch(r"\d{17}[\dX]", number), number
        assert number[17] == _id_check(number[:17]), number
        born = datetime.strptime(number[6:14], "%Y%m%d").date()
        assert date(1930, 1, 1) <= born <= TODAY - timedelta(days=18 * 365)
        if c["birthday_calendar"] == "solar":
            assert born == date.fromisoformat(c["birthday"]), c
        else:
            lunar_year = int(c["birthday"][:4])
            assert lunar_year <= born.year <= lunar_year + 1
    assert all(c["id_number"] for c in rows["customers"] if c["segment"] != "prospect")


def test_holdings(rows: Rows) -> None:
    names: Counter[str] = Counter()
    for h in rows["holdings"]:
        assert h["product_type"] in PRODUCT_TYPES
        assert h["currency"] in {"CNY", "USD"}
        assert float(h["amount"]) > 0
        start = date.fromisoformat(h["start_date"])
        assert start < TODAY
        fixed_term = h["product_type"] in {"time_deposit", "large_cd", "loan"}
        if fixed_term or (
            h["product_type"] == "wealth_management" and h["product_name"] != "天天利理财"
        ):
            assert date.fromisoformat(h["maturity_date"]) > TODAY, h
        if h["maturity_date"]:
            assert date.fromisoformat(h["maturity_date"]) > start
        names[h["product_type"]] += 1
    assert set(names) == PRODUCT_TYPES
    product_names = {h["product_name"] for h in rows["holdings"]}
    assert {"稳盈3个月定期存款", "个人住房贷款", "天天利理财"} <= product_names
    assert any(n.startswith("大额存单") and "年第" in n for n in product_names)


def test_interactions(rows: Rows) -> None:
    customers = _by_id(rows["customers"], "customer_id")
    secrets = {c["phone"] for c in customers.values()} | {
        c["id_number"] for c in customers.values() if c["id_number"]
    }
    year_ago = TODAY - timedelta(days=366)
    followups = []
    for i in rows["interactions"]:
        occurred = datetime.fromisoformat(i["occurred_at"])
        assert i["occurred_at"].endswith("+08:00")
        assert year_ago <= occurred.date() < TODAY
        assert i["channel"] in {"phone", "visit", "wechat"}
        assert i["content"] and not re.search(r"\d{7,}", i["content"])
        assert not any(s in i["content"] for s in secrets)
        if i["next_followup_on"]:
            due = date.fromisoformat(i["next_followup_on"])
            assert due > occurred.date()
            followups.append(due)
    assert 0.07 <= len(followups) / len(rows["interactions"]) <= 0.13
    assert all(TODAY - timedelta(days=14) <= d <= TODAY + timedelta(days=14) for d in followups)
    assert any(d < TODAY for d in followups) and any(d >= TODAY for d in followups)
    occurred_sorted = [i["occurred_at"] for i in rows["interactions"]]
    assert occurred_sorted == sorted(occurred_sorted)


def test_note_topics_are_identifiable(rows: Rows) -> None:
    notes = [i["content"] for i in rows["interactions"]]

    def count(*words: str) -> int:
        return sum(all(w in n for w in words) for n in notes)

    assert count("大额存单", "续存") >= 30
    assert count("基金定投") >= 30
    assert count("手机银行", "抱怨") + count("手机银行", "投诉") >= 20
    assert count("养老") >= 30 and count("子女教育金") >= 15 and count("提前还") >= 15
    assert count("保险配置") >= 15 and count("生日") >= 50 and count("美元") >= 15
    assert sum(any(b in n for b in ("招商银行", "工商银行", "宁波银行")) for n in notes) >= 20
    assert sum(n.startswith(("电话回访", "致电")) for n in notes) >= 100


def test_same_name_customers(rows: Rows) -> None:
    customers = rows["customers"]
    staff = _by_id(rows["staff"], "staff_id")
    zhang = [c for c in customers if c["name"] == "张伟"]
    assert len(zhang) == 2
    owners = {c["owner_staff_id"] for c in zhang}
    assert "S001" in owners and len(owners) == 2
    assert len({staff[o]["team_id"] for o in owners}) == 2
    wang = [c for c in customers if c["name"] == "王芳"]
    assert len(wang) == 2 and {c["owner_staff_id"] for c in wang} == {"S001"}
    assert wang[0]["phone"][-4:] != wang[1]["phone"][-4:]
    names = Counter(c["name"] for c in customers)
    assert {n for n, k in names.items() if k > 1} == {"张伟", "王芳"}


def test_leap_day_and_lunar_birthdays(rows: Rows) -> None:
    mine = [c for c in rows["customers"] if c["owner_staff_id"] == "S001"]
    assert any(c["birthday"].endswith("-02-29") and c["birthday_calendar"] == "solar" for c in mine)
    lunar = [c for c in rows["customers"] if c["birthday_calendar"] == "lunar"]
    assert len(lunar) >= 10
    assert sum(c["owner_staff_id"] == "S001" for c in lunar) >= 2
    assert any(c["birthday"].endswith("-08-15") for c in lunar)
    for c in lunar:
        _, month, day = (int(p) for p in c["birthday"].split("-"))
        assert 1 <= month <= 12 and 1 <= day <= 30


def test_s001_birthdays_in_the_next_week(rows: Rows) -> None:
    coming = {(TODAY + timedelta(days=k)).strftime("%m-%d") for k in range(8)}
    mine = [
        c
        for c in rows["customers"]
        if c["owner_staff_id"] == "S001" and c["birthday_calendar"] == "solar" and c["birthday"]
    ]
    assert sum(c["birthday"][5:] in coming for c in mine) >= 3


def test_s001_maturities(rows: Rows) -> None:
    mine = {c["customer_id"] for c in rows["customers"] if c["owner_staff_id"] == "S001"}
    due = [
        (date.fromisoformat(h["maturity_date"]) - TODAY).days
        for h in rows["holdings"]
        if h["customer_id"] in mine
        and h["maturity_date"]
        and h["product_type"] in {"time_deposit", "large_cd", "wealth_management"}
    ]
    assert any(d <= 1 for d in due)
    assert sum(d <= 7 for d in due) >= 3
    assert sum(d <= 30 for d in due) >= 8
    assert sum(30 < d <= 60 for d in due) >= 2


def test_phone_tail_5678(rows: Rows) -> None:
    tails = [c for c in rows["customers"] if c["phone"].endswith("5678")]
    assert len(tails) == 1 and tails[0]["owner_staff_id"] == "S001"


def test_deterministic(demo_dir: Path, tmp_path: Path) -> None:
    again = write_demo_files(tmp_path / "again", today=TODAY)
    for kind, path in again.items():
        assert path.read_bytes() == (demo_dir / f"{kind}.csv").read_bytes(), kind
    other = write_demo_files(tmp_path / "other", today=TODAY, seed=8)
    assert other["customers"].read_bytes() != (demo_dir / "customers.csv").read_bytes()


@pytest.mark.parametrize("today", [date(2028, 2, 25), date(2027, 1, 29), date(2026, 12, 30)])
def test_other_days_keep_the_special_cases(tmp_path: Path, today: date) -> None:
    """Leap years, month ends and year ends must not break the relative dates."""
    paths = write_demo_files(tmp_path, today=today)
    with paths["customers"].open(encoding="utf-8", newline="") as f:
        customers = list(csv.DictReader(f))
    coming = {(today + timedelta(days=k)).strftime("%m-%d") for k in range(8)}
    mine = [c for c in customers if c["owner_staff_id"] == "S001"]
    assert sum(c["birthday"][5:] in coming for c in mine if c["birthday_calendar"] == "solar") >= 3
    for c in customers:
        if c["id_number"]:
            assert c["id_number"][17] == _id_check(c["id_number"][:17])


def test_left_rm_has_no_recent_notes(rows: Rows) -> None:
    gone = {s["staff_id"] for s in rows["staff"] if s["active"] == "false"}
    theirs = [i for i in rows["interactions"] if i["staff_id"] in gone]
    assert theirs
    last = max(datetime.fromisoformat(i["occurred_at"]).date() for i in theirs)
    assert last < TODAY - timedelta(days=30)
