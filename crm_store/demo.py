"""A realistic, deterministic zh_CN demo data set, written as the CSV files the importer reads.

Same `seed` and `today` give byte-identical files; all dates are relative to `today`.
Word lists, the organisation and the staff roster live in `crm_store.demo_words`.

Organisation: 上海分行 B001 > 陆家嘴支行 B002, 徐汇支行 B003, 静安支行 B004 > 静安寺社区支行 B005.
Staff (teams T01 陆家嘴, T02 徐汇, T03 静安):
  S001 李娜 rm T01 (the demo user, 40 customers) · S002 陈静 rm T01 · S003 王磊 rm T02 ·
  S004 刘洋 rm T02 · S005 赵敏 rm T03 (B004) · S006 孙浩 rm T03 (B005) ·
  S007 周强 rm T01, has left (active false, still owns 6 customers, WeCom id still bound) ·
  S008 吴婷 team_lead T01 · S009 郑凯 team_lead T02 · S010 黄建国 branch_head B001 (sees all) ·
  S011 林慧 branch_head B004 (sees B004 + B005) · S012 何雪 compliance · S013 马骏 admin.

Special customers (fixed ids, whatever the seed):
  C00001 张伟 (S001) and C00002 张伟 (S003, team T02): same name, different owners and teams.
  C00003 王芳 (S001, phone tail 3366) and C00004 王芳 (S001, tail 7012): S001 must clarify.
  C00005 陈晓梅 (S001): solar birthday 1988-02-29.
  C00006 刘桂英 (S001): lunar birthday 1962-08-15 (八月十五, 中秋).
  C00007 赵建军 (S001): phone 139****5678, the only phone ending in 5678.
  C00008 孙丽华, C00009 周志强, C00010 吴秀兰 (S001): solar birthdays today, today+2, today+5.
  C00011 郑国庆 (S001): lunar birthday falling 3-6 days after today.
  12 more lunar birthdays among the random customers (2 of them S001's): 14 in all.
  All other customer names are unique (and differ from staff names).
S001's first 12 non-prospect customers each hold a time deposit / large CD / closed-end wealth
product maturing `today` + 1, 1, 4, 6, 7, 13, 20, 27, 30, 36, 45 or 55 days.
About 10% of interactions carry a `next_followup_on` between today-10 and today+14 (the past
ones are overdue); their note ends with the agreed date ("约12月3日再联系。").
S007's customers were covered by team lead S008 in the 80 days since S007 left.
Interaction `channel` is how the RM reached the customer: phone, visit or wechat.
天天利理财 is open-ended (no maturity); funds and insurance have no maturity either.
Notes never contain a phone or ID number.
"""

from __future__ import annotations

import csv
import math
import random
from calendar import isleap, monthrange
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from lunardate import LunarDate

from crm_store import demo_words as W

DEMO_KINDS = ("branches", "staff", "customers", "holdings", "interactions")  # import order
_HEADER_TEXT = {
    "branches": "branch_id, name, parent_id",
    "staff": "staff_id, name, role, branch_id, team_id, wecom_userid, telegram_user_id, active",
    "customers": "customer_id, name, owner_staff_id, branch_id, segment, birthday, "
    "birthday_calendar, phone, id_number, risk_level, aum, tags",
    "holdings": "holding_id, customer_id, product_type, product_name, amount, currency, "
    "start_date, maturity_date",
    "interactions": "interaction_id, customer_id, staff_id, occurred_at, channel, content, "
    "next_followup_on",
}
DEMO_HEADERS = {kind: tuple(text.split(", ")) for kind, text in _HEADER_TEXT.items()}
STAFF_BRANCH = {s[0]: s[3] for s in W.STAFF}
TEAM_LEAD = {"S001": "S008", "S002": "S008", "S003": "S009", "S004": "S009"}
LEFT_STAFF, LEFT_DAYS_AGO, COVER_STAFF = "S007", 80, "S008"
MATURITY_DAYS = (1, 1, 4, 6, 7, 13, 20, 27, 30, 36, 45, 55)
MATURITY_TYPES = ("time_deposit", "large_cd", "wealth_management")
GB_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
SURNAME_WEIGHTS = [1 / (rank + 8) for rank in range(len(W.SURNAMES))]
RISKS = ("C1", "C2", "C3", "C4", "C5")
TZ = timezone(timedelta(hours=8))
Lunar = tuple[int, int, int]
Special = tuple[str, str, bool, str, date | None, Lunar | None, str]


@dataclass
class _Cust:
    id: str
    name: str
    male: bool
    owner: str
    segment: str
    birth: date | None  # solar date of birth (converted, for a lunar birthday)
    lunar: Lunar | None = None
    phone: str = ""
    id_number: str = ""
    risk: str = ""
    aum: float = 0.0
    tags: list[str] = field(default_factory=list)


def gb11643_check(body17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID number."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, GB_WEIGHTS, strict=True)) % 11]


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def _lunar_to_solar(year: int, month: int, day: int) -> date | None:
    try:
        return LunarDate(year, month, day).to_solar_date()
    except ValueError:
        return None


def _birth_on(day: date, year: int) -> date:
    """A date of birth in `year` (or the leap year before) with the month-day of `day`."""
    return date(year - year % 4 if (day.month, day.day) == (2, 29) else year, day.month, day.day)


def _lunar_soon(today: date) -> Lunar:
    """A lunar birthday (born around 1960) falling 3-6 days after `today`."""
    for offset in range(3, 7):
        d = today + timedelta(days=offset)
        ld = LunarDate.from_solar_date(d.year, d.month, d.day)
        for year in range(1960, 1972) if not ld.is_leap_month else ():
            if _lunar_to_solar(year, ld.month, ld.day):
                return (year, ld.month, ld.day)
    return (1960, 1, 1)  # unreachable in practice


def _specials(today: date) -> list[Special]:
    """(owner, name, male, segment, solar birthday, lunar birthday, phone) of C00001...."""
    soon = [_birth_on(today + timedelta(days=k), y) for k, y in ((0, 1979), (2, 1990), (5, 1968))]
    return [
        ("S001", "张伟", True, "regular", date(1983, 6, 12), None, ""),
        ("S003", "张伟", True, "vip", date(1976, 3, 8), None, ""),
        ("S001", "王芳", False, "vip", date(1972, 10, 3), None, "13816623366"),
        ("S001", "王芳", False, "regular", date(1991, 4, 21), None, "15921707012"),
        ("S001", "陈晓梅", False, "regular", date(1988, 2, 29), None, ""),
        ("S001", "刘桂英", False, "vip", None, (1962, 8, 15), ""),
        ("S001", "赵建军", True, "vip", date(1969, 5, 17), None, "13901235678"),
        ("S001", "孙丽华", False, "regular", soon[0], None, ""),
        ("S001", "周志强", True, "vip", soon[1], None, ""),
        ("S001", "吴秀兰", False, "regular", soon[2], None, ""),
        ("S001", "郑国庆", True, "regular", None, _lunar_soon(today), ""),
    ]


def _name(rng: random.Random, male: bool, used: set[str]) -> str:
    ones, twos = W.GIVEN[male]
    while True:
        given = rng.choice(ones) if rng.random() < 0.3 else rng.choice(twos)
        name = rng.choices(W.SURNAMES, weights=SURNAME_WEIGHTS)[0] + given
        if name not in used:
            used.add(name)
            return name


def _phone(rng: random.Random, used: set[str]) -> str:
    while True:
        phone = rng.choice(W.PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if phone not in used and not phone.endswith("5678"):
            used.add(phone)
            return phone


def _id_number(rng: random.Random, birth: date, male: bool, used: set[str]) -> str:
    while True:
        area = rng.choice(W.SH_AREAS if rng.random() < 0.65 else W.OTHER_AREAS)
        body = f"{area}{birth:%Y%m%d}{rng.randrange(500) * 2 + int(male):03d}"  # odd = male
        if (number := body + gb11643_check(body)) not in used:
            used.add(number)
            return number


def _aum(rng: random.Random, segment: str) -> float:
    if segment == "vip":
        value = rng.uniform(6e6, 12e6) if rng.random() < 0.75 else rng.uniform(12e6, 4.5e7)
    elif segment == "regular":
        value = math.exp(rng.uniform(math.log(5.01e4), math.log(2.99e6)))
    else:
        value = 0.0 if rng.random() < 0.3 else rng.uniform(1e3, 4.99e4)
    return float(round(value, -2))


def _tags(rng: random.Random, c: _Cust, age: int) -> list[str]:
    steady, bold = c.risk in ("", "C1", "C2"), c.risk in ("C3", "C4", "C5")
    odds = (
        0.85 if age >= 58 else 0.0,  # 退休
        0.5 if 45 <= age <= 65 else 0.05,  # 关注养老
        0.3 if 25 <= age <= 55 else 0.03,  # 有房贷
        {"vip": 0.4, "regular": 0.08, "prospect": 0.05}[c.segment],  # 企业主
        0.7 if steady else 0.1,  # 偏好稳健
        0.45 if 30 <= age <= 50 else 0.0,  # 子女教育
        0.55 if bold else 0.05,  # 关注基金
        0.75 if age < 60 else 0.25,  # 手机银行用户
        0.15 if c.segment == "vip" else 0.04,  # 关注外汇
        0.35 if age < 58 else 0.0,  # 代发工资
    )
    return [tag for tag, p in zip(W.TAGS, odds, strict=True) if rng.random() < p]


def _customers(rng: random.Random, today: date) -> list[_Cust]:
    specs = _specials(today)
    owners = [owner for owner, n in W.OWNER_QUOTA.items() for _ in range(n)]
    segments = [s for s, p in W.PROFILES.items() for _ in range(p.share * len(owners) // 100)]
    for spec in specs:
        owners.remove(spec[0])
        segments.remove(spec[3])
    rng.shuffle(owners)
    rng.shuffle(segments)
    used_names = {spec[1] for spec in specs} | {s[1] for s in W.STAFF}
    used_phones = {spec[6] for spec in specs if spec[6]}
    custs: list[_Cust] = []
    owners, segments = [s[0] for s in specs] + owners, [s[3] for s in specs] + segments
    for i, (owner, segment) in enumerate(zip(owners, segments, strict=True)):
        years = W.PROFILES[segment].birth_years
        birth = date(rng.randint(*years), 1, 1) + timedelta(rng.randrange(365))
        c = _Cust(f"C{i + 1:05d}", "", rng.random() < 0.5, owner, segment, birth)
        if segment == "prospect" and rng.random() < 0.35:
            c.birth = None
        if i < len(specs):
            _, c.name, c.male, c.segment, c.birth, c.lunar, c.phone = specs[i]
            c.birth = _lunar_to_solar(*c.lunar) if c.lunar else c.birth
        c.name = c.name or _name(rng, c.male, used_names)
        c.phone = c.phone or _phone(rng, used_phones)
        c.risk = rng.choices(RISKS, W.PROFILES[c.segment].risk_weights)[0]
        c.risk = "" if c.segment == "prospect" and rng.random() < 0.4 else c.risk
        c.aum = _aum(rng, c.segment)
        b = c.birth
        age = today.year - b.year - ((today.month, today.day) < (b.month, b.day)) if b else 40
        c.tags = _tags(rng, c, age)
        custs.append(c)
    plain = [c for c in custs[len(specs) :] if c.birth]
    mine, others = [c for c in plain if c.owner == "S001"], [c for c in plain if c.owner != "S001"]
    for c in rng.sample(mine, 2) + rng.sample(others, 10):
        c.lunar = (c.birth.year if c.birth else 1970, rng.randint(1, 12), rng.randint(1, 29))
        c.birth = _lunar_to_solar(*c.lunar)
    used_ids: set[str] = set()
    for c in custs:
        c.id_number = _id_number(rng, c.birth, c.male, used_ids) if c.birth else ""
    return custs


def _term(rng: random.Random, today: date, months: int, due_in: int | None) -> tuple[date, date]:
    """(start, maturity) of a fixed-term product started in the past, maturing in the future."""
    if due_in is None:
        due_in = rng.randint(1, (_add_months(today, months) - today).days - 1)
    end = today + timedelta(days=due_in)
    return min(_add_months(end, -months), today - timedelta(days=1)), end


def _holdings(
    rng: random.Random, c: _Cust, today: date, forced: tuple[str, int] | None
) -> list[list[str]]:
    kinds = ["time_deposit", "large_cd", "insurance"]
    kinds += ["wealth_management"] * (c.risk not in ("", "C1")) + ["fund"] * (c.risk >= "C3")
    types = [forced[0]] if forced else []
    types += [
        rng.choice(kinds)
        for _ in range(rng.randint(*W.PROFILES[c.segment].holdings) if c.aum else 0)
    ]
    weights = [rng.uniform(0.5, 2.0) for _ in types]
    total = c.aum * rng.uniform(0.7, 0.95)
    rows: list[list[str]] = []
    for i, (kind, weight) in enumerate(zip(types, weights, strict=True)):
        amount, due_in = total * weight / sum(weights), forced[1] if forced and i == 0 else None
        currency, start, end = "CNY", today - timedelta(days=rng.randint(30, 2000)), None
        if kind == "large_cd" and amount < 200_000:  # 20万 is the minimum for a large CD
            kind = "time_deposit"
        if kind == "time_deposit":
            months, name = rng.choice(W.TIME_DEPOSITS)
            if "关注外汇" in c.tags and rng.random() < 0.5:
                months, name, currency, amount = 12, "美元1年定期存款", "USD", amount / 7.1
            start, end = _term(rng, today, months, due_in)
        elif kind == "large_cd":
            start, end = _term(rng, today, rng.choice((12, 24, 36)), due_in)
            name, amount = f"大额存单{start.year}年第{rng.randint(1, 30)}期", amount // 1e4 * 1e4
        elif kind == "wealth_management":
            months, name = rng.choice(W.WEALTH[1:4] if due_in is not None else W.WEALTH)
            if months:
                start, end = _term(rng, today, months, due_in)
        else:
            name = rng.choice(W.FUNDS if kind == "fund" else W.INSURANCE)
        row = [c.id, kind, name, f"{max(amount // 100 * 100, 1000):.2f}", currency]
        rows.append([*row, start.isoformat(), end.isoformat() if end else ""])
    loans = [("个人住房贷款", 3e5, 3e6)] * ("有房贷" in c.tags)
    loans += [("个人经营性贷款", 5e5, 5e6)] * ("企业主" in c.tags and rng.random() < 0.4)
    for name, low, high in loans:
        if name == "个人住房贷款":
            start = today - timedelta(days=rng.randint(365, 3650))
            end = _add_months(start, rng.choice((240, 300, 360)))
        else:
            start, end = _term(rng, today, rng.choice((12, 24, 36)), None)
        owed = f"{rng.uniform(low, high) // 1000 * 1000:.2f}"
        rows.append([c.id, "loan", name, owed, "CNY", start.isoformat(), end.isoformat()])
    return rows


def _note(rng: random.Random, c: _Cust, channel: str, topic: str, due: date | None) -> str:
    amount = max(2, int(max(c.aum, 5e4) * rng.uniform(0.1, 0.5) / 10_000))
    slots: dict[str, object] = {k: rng.choice(v) for k, v in W.SLOT_CHOICES.items()}
    slots |= {k: f"{rng.uniform(*span):.2f}" for k, span in W.SLOT_RATES.items()}
    slots |= {
        "amt": amount,
        "cdamt": max(20, amount),
        "save": round(amount * rng.uniform(0.08, 0.3), 1),
    }
    slots |= {"pct": rng.randint(5, 25), "kid_age": rng.randint(3, 17)}
    slots["who"] = c.name[0] + ("先生" if c.male else "女士") if rng.random() < 0.6 else "客户"
    text = f"{rng.choice(W.OPENINGS[channel])}：{rng.choice(W.TOPICS[topic][1])}".format(**slots)
    return text + (rng.choice(W.FOLLOWUP_TAILS).format(m=due.month, d=due.day) if due else "")


def _interactions(rng: random.Random, custs: list[_Cust], today: date) -> list[list[str]]:
    topics = [t for t in W.TOPICS if W.TOPICS[t][0]]
    weights = [W.TOPICS[t][0] for t in topics]
    recs: list[tuple[datetime, _Cust, str, str, date | None]] = []  # + channel, topic, due

    def at(day: date, first_hour: int, last_hour: int) -> datetime:
        clock = time(rng.randint(first_hour, last_hour), rng.randrange(0, 60, 5))
        return datetime.combine(day, clock, TZ)

    for c in custs:
        linked = [W.TAG_TOPICS[t] for t in c.tags if t in W.TAG_TOPICS]
        for _ in range(rng.randint(*W.PROFILES[c.segment].notes)):
            day = today - timedelta(days=rng.randint(1, 365))
            if day.weekday() >= 5 and rng.random() < 0.8:
                day -= timedelta(days=day.weekday() - 4)  # mostly on working days
            topic = rng.choices(topics, weights)[0]
            if c.segment == "prospect" and rng.random() < 0.5:
                topic = "prospect"
            elif linked and rng.random() < 0.5:
                topic = rng.choice(linked)
            channel = rng.choices(W.CHANNELS, W.CHANNEL_WEIGHTS)[0]
            recs.append((at(day, 9, 17), c, channel, topic, None))
        if c.birth and not c.lunar and rng.random() < 0.5:  # a greeting on the last birthday
            md = (c.birth.month, c.birth.day)
            year = today.year if md < (today.month, today.day) else today.year - 1
            md = (2, 28) if md == (2, 29) and not isleap(year) else md
            channel = rng.choice(("wechat", "phone"))
            recs.append((at(date(year, *md), 9, 10), c, channel, "birthday", None))
    plain = [i for i, rec in enumerate(recs) if rec[3] != "birthday"]
    for i in rng.sample(plain, len(recs) // 10):
        due_on = today + timedelta(days=rng.randint(-10, 14))
        day = due_on - timedelta(days=rng.randint(2, 20))
        day = day if day < today else today - timedelta(days=rng.randint(1, 5))
        occurred, c, channel, topic, _ = recs[i]
        recs[i] = (datetime.combine(day, occurred.timetz()), c, channel, topic, due_on)
    recs.sort(key=lambda r: (r[0], r[1].id))
    left_on = today - timedelta(days=LEFT_DAYS_AGO)
    rows: list[list[str]] = []
    for n, (occurred, c, channel, topic, due) in enumerate(recs, start=1):
        staff = c.owner
        if staff == LEFT_STAFF and occurred.date() > left_on:
            staff = COVER_STAFF
        elif c.owner in TEAM_LEAD and c.segment == "vip" and rng.random() < 0.1:
            staff = TEAM_LEAD[c.owner]  # a joint visit with the team lead
        row = [f"I{n:07d}", c.id, staff, occurred.isoformat(), channel]
        rows.append([*row, _note(rng, c, channel, topic, due), due.isoformat() if due else ""])
    return rows


def _customer_row(c: _Cust) -> list[str]:
    birthday = f"{c.lunar[0]:04d}-{c.lunar[1]:02d}-{c.lunar[2]:02d}" if c.lunar else ""
    birthday = birthday or (c.birth.isoformat() if c.birth else "")
    head = [c.id, c.name, c.owner, STAFF_BRANCH[c.owner], c.segment, birthday]
    head.append("lunar" if c.lunar else "solar")
    return [*head, c.phone, c.id_number, c.risk, f"{c.aum:.2f}", ";".join(c.tags)]


def write_demo_files(folder: Path, *, today: date, seed: int = 7) -> dict[str, Path]:
    """Write branches/staff/customers/holdings/interactions CSVs for the demo.

    Returns kind -> path, in `DEMO_KINDS` (import) order.
    """
    rng = random.Random(seed)
    custs = _customers(rng, today)
    owned = [c.id for c in custs if c.owner == "S001" and c.segment != "prospect"]
    forced = {
        cid: (MATURITY_TYPES[n % 3], days)
        for n, (cid, days) in enumerate(zip(owned, MATURITY_DAYS, strict=False))
    }
    holdings = [row for c in custs for row in _holdings(rng, c, today, forced.get(c.id))]
    rows: dict[str, list[list[str]]] = {
        "branches": [list(b) for b in W.BRANCHES],
        "staff": [list(s) for s in W.STAFF],
        "customers": [_customer_row(c) for c in custs],
        "holdings": [[f"H{i:06d}", *row] for i, row in enumerate(holdings, start=1)],
        "interactions": _interactions(rng, custs, today),
    }
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind in DEMO_KINDS:
        paths[kind] = folder / f"{kind}.csv"
        with paths[kind].open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(DEMO_HEADERS[kind])
            writer.writerows(rows[kind])
    return paths
