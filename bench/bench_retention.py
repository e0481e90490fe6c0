"""Churn warnings in the morning plan, and a branch's weekly team report, against bare SQL.

    python -m bench.bench_retention [--customers 1000000] [--holdings 2000000]
                                    [--notes 2000000] [--url URL] [--rounds 3]

Fills a fresh database as `bench.bench_reminders` does (customers, holdings, follow-ups), plus
`--notes` notes spread over the last 200 days (1% flagged as complaints), AUM history for 5% of
the customers (a third of them fell by 40%) and teams of 10 RMs. Then:
1. planning: `plan_retention` (the rules' INSERT ... SELECT into the outbox, rolled back after
   each round) against the indexed SELECT of the same rows (the UNION of the rules' customer
   ids joined to their owners), fetched to the client;
2. the weekly report of one branch head (a sub-branch, a quarter of the customers) built by
   `rm_figures` and worded, against its SQL alone: the nine GROUP BY aggregates and the rules'
   SELECTs over the same scope, fetched.
Prints the medians and the ratios; never part of the test run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.orm import Session

from bench.bench_lookup import TABLES, World, _bulk, _load, analyze, fresh_database, open_store
from bench.bench_reminders import (
    BUSINESS_DATE,
    NOW,
    Org,
    _fill_engine,
    _server_url,
    fill,
)
from crm_store.crypto import new_key_text
from crm_store.permissions import customer_scope, load_actor
from crm_store.retention import at_risk_customers
from crm_store.retention_rules import reason_rows, rule_window
from crm_store.store import Store
from crm_store.team_report import rm_figures
from handlers.team_report import report_text
from scheduler.retention_plan import plan_retention

TEAM_SIZE = 10
COMPLAINT_SHARE = 0.01
AUM_HISTORY_SHARE = 0.05


def _note_rows(rng: random.Random, count: int, org: Org) -> Iterator[dict[str, Any]]:
    start = datetime.combine(BUSINESS_DATE, clock(9), tzinfo=UTC)
    for n in range(count):
        c = rng.randrange(len(org.owner))
        when = start - timedelta(minutes=rng.randrange(200 * 24 * 60))
        yield {
            "id": f"N{n:08d}", "customer_id": f"C{c:07d}", "staff_id": org.rms[org.owner[c]],
            "occurred_at": when, "channel": "phone", "content": "电话回访", "created_at": when,
            "next_followup_on": None, "source_message_id": None, "undone_at": None,
        }  # fmt: skip


def _signal_rows(rng: random.Random, notes: int) -> Iterator[dict[str, Any]]:
    for n in range(notes):
        flagged = rng.random() < COMPLAINT_SHARE
        score = 0.8 if flagged else 0.2
        yield {"interaction_id": f"N{n:08d}", "complaint": flagged, "score": score,
               "matched": "投诉" if flagged else "", "classified_at": NOW}  # fmt: skip


def _aum_rows(rng: random.Random, customers: int) -> Iterator[dict[str, Any]]:
    for c in rng.sample(range(customers), int(customers * AUM_HISTORY_SHARE)):
        before = Decimal(rng.randrange(10**6, 10**8))
        fell = rng.random() < 1 / 3
        yield {
            "customer_id": f"C{c:07d}",
            "as_of": BUSINESS_DATE - timedelta(days=120),
            "aum": before,
        }
        yield {"customer_id": f"C{c:07d}", "as_of": BUSINESS_DATE - timedelta(days=10),
               "aum": before * (Decimal("0.6") if fell else Decimal("0.95"))}  # fmt: skip


def fill_retention(url: str, org: Org, customers: int, notes: int, world: World) -> None:
    """Notes, their signals, AUM history; teams of TEAM_SIZE RMs with a lead each."""
    rng = random.Random(7)
    engine: Engine = _fill_engine(url)
    _bulk(engine, TABLES["interaction"], _note_rows(rng, notes, org), world)
    _bulk(engine, TABLES["note_signal"], _signal_rows(rng, notes), world)
    _bulk(engine, TABLES["customer_aum_history"], _aum_rows(rng, customers), world)
    count = (len(org.rms) + TEAM_SIZE - 1) // TEAM_SIZE
    teams = [
        {"id": f"T{i:04d}", "name": f"团队{i}", "branch_id": org.branch_of[org.rms[i * TEAM_SIZE]]}
        for i in range(count)
    ]
    _bulk(engine, TABLES["team"], iter(teams), world)
    with engine.begin() as conn:
        staff = TABLES["staff"]
        for i, sid in enumerate(org.rms):
            conn.execute(
                update(staff).where(staff.c.id == sid).values(team_id=teams[i // TEAM_SIZE]["id"])
            )
    engine.dispose()


def _median(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm the caches and the statement cache
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


def bench_planning(store: Store, rounds: int) -> None:
    """plan_retention's INSERT ... SELECT against the SELECT of the same rows."""
    window = rule_window(store.settings, BUSINESS_DATE)
    query = at_risk_customers(window)
    rows = 0

    def select_only() -> None:
        nonlocal rows
        with store.db.read() as s:
            rows = len(s.execute(query).all())

    def planning() -> None:
        with store.db.engine.connect() as conn, Session(bind=conn) as s:
            trans = conn.begin()
            plan_retention(s, business_date=BUSINESS_DATE, settings=store.settings, now=NOW)
            trans.rollback()

    base = _median(select_only, rounds)
    full = _median(planning, rounds)
    print(f"warnings:          {rows:,} customers at risk")
    print(f"planning warnings: {full * 1000:.0f} ms (INSERT ... SELECT, rolled back)")
    print(f"baseline SELECT:   {base * 1000:.0f} ms (the same rows fetched)")
    print(f"ratio:             {full / base:.2f}x (target <= 2x)")


def bench_team_report(store: Store, rounds: int) -> None:
    """One sub-branch head's weekly report against its aggregates and rules alone."""
    with store.db.read() as s:
        head = load_actor(s, "HB01")
        assert head is not None
        scope = customer_scope(head, BUSINESS_DATE)
        in_scope = s.execute(select(TABLES["customer"].c.id).where(scope)).all()
    print(f"branch:            {len(in_scope):,} customers in HB01's scope")

    def report() -> None:
        with store.db.read() as s:
            rows = rm_figures(s, store.settings, head, BUSINESS_DATE)
            report_text(head, rows, BUSINESS_DATE, "zh")

    def sql_only() -> None:
        with store.db.read() as s:
            _aggregates(s, store, head)
            for query in reason_rows(rule_window(store.settings, BUSINESS_DATE), scope):
                s.execute(query).all()

    base = _median(sql_only, rounds)
    full = _median(report, rounds)
    print(f"weekly report:     {full * 1000:.0f} ms (figures per RM, warnings, text)")
    print(f"its SQL alone:     {base * 1000:.0f} ms (9 aggregates + the 5 rules, fetched)")
    print(f"ratio:             {full / base:.2f}x (target <= 2x)")


def _aggregates(s: Any, store: Store, head: Any) -> None:
    """The report's nine GROUP BY queries, as `rm_figures` builds them."""
    import crm_store.team_report as tr

    w = tr.report_week(BUSINESS_DATE, store.settings)
    scope = customer_scope(head, BUSINESS_DATE)
    before = w.start - timedelta(days=7)
    fu = tr.FollowUp
    tr._notes(s, scope, w.at(w.start), w.at(w.end))
    tr._notes(s, scope, w.at(before), w.at(w.start))
    tr._followups(
        s, scope, fu.status == "done", fu.closed_at >= w.at(w.start), fu.closed_at < w.at(w.end)
    )
    tr._followups(
        s, scope, fu.status == "done", fu.closed_at >= w.at(before), fu.closed_at < w.at(w.start)
    )
    tr._followups(s, scope, fu.status.in_(("open", "snoozed")))
    tr._followups(s, scope, and_(fu.status.in_(("open", "snoozed")), fu.due_on < BUSINESS_DATE))
    tr._vip_silent(s, scope, w)
    tr._maturing(s, scope, w, True)
    tr._maturing(s, scope, w, False)


def main() -> None:
    """Fill, measure, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--holdings", type=int, default=2_000_000)
    parser.add_argument("--notes", type=int, default=2_000_000)
    parser.add_argument("--followups", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default=None, help="PostgreSQL server URL (uses bench_reminders)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    print(f"load before:       {_load()}")
    with fresh_database(_server_url(args.url), args.keep) as url:
        started = time.perf_counter()
        org, world = fill(url, args.customers, args.holdings, args.followups)
        fill_retention(url, org, args.customers, args.notes, world)
        took = time.perf_counter() - started
        print(f"data:              {args.customers:,} customers, {args.holdings:,} holdings, "
              f"{args.notes:,} notes, {len(org.rms):,} RMs; fill {took:.0f} s")  # fmt: skip
        print(f"ANALYZE:           {analyze(url):.1f} s")
        store = open_store(url, new_key_text())
        print(f"load at start:     {_load()}")
        bench_planning(store, args.rounds)
        bench_team_report(store, args.rounds)
        print(f"load at end:       {_load()}")
        store.close()


if __name__ == "__main__":
    main()
