"""Customer import speed against a bare SQLAlchemy Core bulk insert of the same rows.

    python -m bench.bench_import [--rows 100000] [--url URL] [--rounds 3]

By default both runs go into fresh, migrated SQLite files in a temp folder. With a
PostgreSQL `--url` (an admin URL, e.g. postgresql+psycopg://postgres@127.0.0.1/postgres) two
scratch databases are created next to it and dropped afterwards. Each round starts from fresh
databases; the best times are printed, and the ratio is the median of the rounds' ratios
(import and baseline of one round run back to back, so they share the machine's load).
Prints figures only.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.engine import make_url

from crm_store import schema
from crm_store.crypto import FieldCipher, decode_key, new_key_text
from crm_store.db import Database, make_engine
from crm_store.importer import import_file
from crm_store.models import Branch, Customer, Staff, Team
from crm_store.pinyin import name_pinyin
from crm_store.settings import Settings
from crm_store.store import Store

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌宇浩"
TAGS = ("高净值", "退休", "企业主", "理财偏好", "保险", "")
BRANCHES = 20
STAFF_PER_BRANCH = 25


def write_csv(path: Path, header: list[str], rows: Iterator[list[str]]) -> None:
    """A UTF-8 CSV file."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def make_files(folder: Path, count: int, seed: int = 7) -> tuple[Path, Path, Path]:
    """branches.csv, staff.csv and customers.csv with `count` synthetic customers."""
    rng = random.Random(seed)
    branches, staff, customers = (
        folder / "branches.csv",
        folder / "staff.csv",
        folder / "customers.csv",
    )
    write_csv(
        branches,
        ["branch_id", "name", "parent_id"],
        iter([["HQ", "总行", ""]] + [[f"B{b:03d}", f"第{b}支行", "HQ"] for b in range(BRANCHES)]),
    )
    staff_ids = [
        (f"S{b:03d}{s:02d}", f"B{b:03d}") for b in range(BRANCHES) for s in range(STAFF_PER_BRANCH)
    ]
    write_csv(
        staff,
        ["staff_id", "name", "role", "branch_id", "team_id", "active"],
        iter([[sid, f"员工{sid}", "rm", bid, f"T{bid}", "true"] for sid, bid in staff_ids]),
    )

    def customer_rows() -> Iterator[list[str]]:
        first_day = date(1950, 1, 1)
        for n in range(count):
            owner, branch = staff_ids[n % len(staff_ids)]
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
            lunar = n % 5 == 0
            born = first_day + timedelta(days=rng.randrange(20_000))
            birthday = f"{born.year}-{born.month:02d}-{min(born.day, 30):02d}"
            phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
            id_number = f"{rng.randrange(10**17):017d}{rng.choice('0123456789X')}"
            aum = f"{rng.randrange(10**9) / 100:,.2f}"
            tags = ";".join(t for t in rng.sample(TAGS, 2) if t)
            yield [
                f"C{n:08d}", name, owner, branch, rng.choice(("vip", "regular", "prospect")),
                birthday, "lunar" if lunar else "solar", phone, id_number,
                f"C{rng.randint(1, 5)}", aum, tags,
            ]  # fmt: skip

    write_csv(
        customers,
        [
            "customer_id", "name", "owner_staff_id", "branch_id", "segment", "birthday",
            "birthday_calendar", "phone", "id_number", "risk_level", "aum", "tags",
        ],
        customer_rows(),
    )  # fmt: skip
    return branches, staff, customers


@contextmanager
def fresh_databases(url: str | None, folder: Path) -> Iterator[tuple[str, str]]:
    """Two empty, migrated databases: SQLite files, or scratch PostgreSQL databases."""
    if url is None or url.startswith("sqlite"):
        urls = (f"sqlite:///{folder / 'import.db'}", f"sqlite:///{folder / 'baseline.db'}")
        for one in urls:
            migrate(one)
        yield urls
        return
    admin = make_url(url)
    names = ("bankbot_bench_import", "bankbot_bench_baseline")
    engine = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    pair = tuple(admin.set(database=name).render_as_string(hide_password=False) for name in names)
    for one in pair:
        migrate(one)
    try:
        yield pair[0], pair[1]
    finally:
        with engine.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def migrate(url: str) -> None:
    """Bring a database to the current schema."""
    engine = make_engine(url)
    schema.upgrade(engine)
    engine.dispose()


def open_store(url: str, home: Path, key: str) -> Store:
    """A store on `url` with the given data key."""
    values: dict[str, Any] = {"BANKBOT_HOME": home, "DATABASE_URL": url, "BANKBOT_DATA_KEY": key}
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    return Store(settings, Database(make_engine(url)), FieldCipher(decode_key(key)))


def read_rows(source: Engine, model: Any) -> list[dict[str, Any]]:
    """All rows of `model`, as the import stored them (ciphertext included)."""
    with source.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(model.__table__))]


def copy_rows(source: Engine, target: Engine, model: Any) -> None:
    """Copy a table the customers refer to (untimed)."""
    rows = read_rows(source, model)
    with target.begin() as conn:
        conn.execute(insert(model.__table__), rows)


@dataclass
class Round:
    """Seconds measured in one round, each on fresh databases."""

    rows: int
    written: int
    import_s: float
    reimport_s: float
    rewritten: int
    baseline_s: float


def one_round(url: str | None, folder: Path, files: tuple[Path, Path, Path], key: str) -> Round:
    """Import the customers, import them again, and bulk-insert the same rows elsewhere."""
    branches, staff, customers = files
    with fresh_databases(url, folder) as (import_url, baseline_url):
        store = open_store(import_url, folder, key)
        import_file(store, "branches", branches)
        import_file(store, "staff", staff)
        name_pinyin.cache_clear()  # every round pays for pinyin as a first import would
        started = time.perf_counter()
        report = import_file(store, "customers", customers)
        import_s = time.perf_counter() - started
        started = time.perf_counter()
        again = import_file(store, "customers", customers)
        reimport_s = time.perf_counter() - started

        baseline = make_engine(baseline_url)
        for model in (Branch, Team, Staff):
            copy_rows(store.db.engine, baseline, model)
        rows = read_rows(store.db.engine, Customer)  # the same values, pre-computed
        started = time.perf_counter()
        with baseline.begin() as conn:
            conn.execute(insert(Customer), rows)  # Core executemany on a Connection
        baseline_s = time.perf_counter() - started
        baseline.dispose()
        store.close()
    return Round(
        report.rows, report.inserted_or_updated, import_s, reimport_s, again.inserted_or_updated,
        baseline_s,
    )  # fmt: skip


def main() -> None:
    """Generate, import, bulk-insert, and print rows/s and the ratio (best of the rounds)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--url", default=None, help="admin URL of a PostgreSQL server (default: SQLite)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args()
    key = new_key_text()
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        files = make_files(Path(tmp), args.rows)
        for number in range(args.rounds):
            folder = Path(tmp) / f"round{number}"
            folder.mkdir()
            rounds.append(one_round(args.url, folder, files, key))

    engine = "sqlite" if args.url is None or args.url.startswith("sqlite") else "postgresql"
    rows = rounds[0].rows
    best_import = min(r.import_s for r in rounds)
    best_baseline = min(r.baseline_s for r in rounds)
    best_reimport = min(r.reimport_s for r in rounds)
    print(f"engine:            {engine}, best of {len(rounds)} round(s)")
    print(f"rows:              {rows:,} customers ({rounds[0].written:,} written)")
    print(f"import_file:       {best_import:6.2f} s  {rows / best_import:10,.0f} rows/s")
    print(f"bare Core insert:  {best_baseline:6.2f} s  {rows / best_baseline:10,.0f} rows/s")
    ratios = sorted(r.baseline_s / r.import_s for r in rounds)
    print(
        f"ratio:             {statistics.median(ratios):.2f} (import rows/s / baseline rows/s, "
        f"median of the rounds; {best_baseline / best_import:.2f} from the best times)"
    )
    rewritten = max(r.rewritten for r in rounds)
    print(
        f"re-import:         {best_reimport:6.2f} s  {rows / best_reimport:10,.0f} rows/s "
        f"({rewritten:,} rows changed)"
    )
    for number, r in enumerate(rounds, start=1):
        print(
            f"  round {number}: import {r.import_s:.2f} s, baseline {r.baseline_s:.2f} s, "
            f"ratio {r.baseline_s / r.import_s:.2f}, re-import {r.reimport_s:.2f} s"
        )


if __name__ == "__main__":
    main()
