"""seed-demo's retention history: each rule fires for some of S001's customers, not others."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from crm_store.demo import DEMO_KINDS, write_demo_files
from crm_store.demo_retention import seed_retention_demo
from crm_store.importer import import_file
from crm_store.models import Customer, Interaction
from crm_store.note_signals import save_signals
from crm_store.retention import warnings
from crm_store.store import Store
from retrieval.complaints import ComplaintDetector
from tests.world import TODAY


def test_demo_history_makes_each_rule_fire_for_some(store: Store, tmp_path: Path) -> None:
    files = write_demo_files(tmp_path / "demo", today=TODAY)
    now = datetime.combine(TODAY, datetime.min.time(), UTC)
    for kind in DEMO_KINDS:
        import_file(store, kind, files[kind], now=now)
    targets = seed_retention_demo(store, TODAY)
    with store.db.write() as s:  # what indexing does after seed-demo: classify the new notes
        notes = s.execute(
            select(Interaction.id, Interaction.content).where(Interaction.id.like("RD-%"))
        ).all()
        signals = ComplaintDetector().classify([text for _, text in notes])
        rows = [
            (nid, sig.complaint, sig.score, sig.matched)
            for (nid, _), sig in zip(notes, signals, strict=True)
        ]
        save_signals(s, rows, now)
    with store.db.read() as s:
        found = {
            w.customer_id: {r.rule for r in w.reasons} for w in warnings(s, store.settings, TODAY)
        }
        regular = (Customer.owner_staff_id == "S001", Customer.segment == "regular")
        mine = list(s.scalars(select(Customer.id).where(*regular).order_by(Customer.id)))
    falling_a, falling_b, unhappy, gone, silent = targets
    assert "aum_drop" in found[falling_a] and "aum_drop" in found[falling_b]
    assert "aum_drop" not in found.get(mine[2], set())  # fell 10%
    assert "complaint" in found[unhappy]
    assert "complaint" not in found.get(mine[4], set())  # called back since
    assert "matured" in found[gone] and "matured" not in found.get(mine[6], set())  # renewed
    rules = set().union(*found.values())
    assert {"aum_drop", "complaint", "matured", "silence"} <= rules
    assert found[silent] >= {"maturity", "silence"}  # 100万 CD in 10 days, a silent VIP
    assert len(found) < len(mine) * 4  # most customers are fine
