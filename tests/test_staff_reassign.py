"""`staff reassign`: customers, open follow-ups and pending reminders move in one audited
transaction, notes keep their authors, and visibility follows at once. On both engines."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from crm_store.errors import StoreError
from crm_store.models import AuditLog, Customer, FollowUp, IndexOutbox, Interaction, Reminder
from crm_store.notes import record_note
from crm_store.permissions import load_actor, visible_customer_ids
from crm_store.reassign import reassign
from crm_store.settings import Settings
from crm_store.store import Store, open_store
from tests.test_cli import env_for
from tests.world import NOW, TODAY, build_world

runner = CliRunner()


def plant(store: Store) -> dict[str, int]:
    """rm1's notes with follow-ups on c1 and c4, a colleague's on c1, pending reminders."""
    build_world(store)
    ids: dict[str, int] = {}
    with store.db.write() as s:
        for key, customer, author in (("mine", "c1", "rm1"), ("done", "c4", "rm1"),
                                      ("colleague", "c1", "rm2")):  # fmt: skip
            saved = record_note(
                s,
                staff_id=author,
                customer_id=customer,
                content=f"{key} 回访",
                occurred_at=NOW - timedelta(days=1),
                channel="console",
                source_message_id=None,
                next_followup_on=TODAY + timedelta(days=3),
            )
            task = s.scalars(
                select(FollowUp).where(FollowUp.interaction_id == saved.interaction_id)
            ).one()
            ids[key] = task.id
            if key == "done":
                task.status = "done"
        for kind, entity, customer in (("birthday", "c1", "c1"), ("maturity", "h1", "c1"),
                                       ("birthday", "c6", "c6")):  # fmt: skip
            recipient = "rm9" if customer == "c6" else "rm1"
            s.add(
                Reminder(kind=kind, entity_id=entity, customer_id=customer, occurs_on=TODAY,
                         lead_days=0, recipient_staff_id=recipient, business_date=TODAY,
                         status="pending", note="", created_at=NOW)
            )  # fmt: skip
    return ids


def owners(store: Store) -> dict[str, str]:
    with store.db.read() as s:
        return dict(s.execute(select(Customer.id, Customer.owner_staff_id)).tuples().all())


def sees(store: Store, staff_id: str) -> set[str]:
    with store.db.read() as s:
        return visible_customer_ids(s, load_actor(s, staff_id), TODAY)


def test_reassign_moves_everything_in_one_transaction(store: Store) -> None:
    tasks = plant(store)
    with store.db.read() as s:
        authors_before = dict(
            s.execute(select(Interaction.id, Interaction.staff_id)).tuples().all()
        )
        queued_before = len(s.scalars(select(IndexOutbox.id)).all())
    assert {"c1", "c4", "c5"} <= sees(store, "rm1") and "c1" not in sees(store, "rm2")
    with store.db.write() as s:
        done = reassign(s, from_staff="rm1", to_staff="rm2", now=NOW, operator="os:tester")
    assert (done.customers, done.followups, done.reminders) == (["c1", "c4", "c5"], 1, 2)
    assert {cid for cid, owner in owners(store).items() if owner == "rm2"} >= {"c1", "c4", "c5"}
    assert not {"c1", "c4", "c5"} & sees(store, "rm1")  # the old owner no longer sees them
    assert {"c1", "c4", "c5"} <= sees(store, "rm2")  # the new one does, at once
    with store.db.read() as s:
        followups = {
            t.id: (t.staff_id, t.status, t.owner_staff_id) for t in s.scalars(select(FollowUp))
        }
        assert followups[tasks["mine"]] == ("rm2", "open", "rm2")
        assert followups[tasks["done"]] == ("rm1", "done", "rm2")  # history stays
        assert followups[tasks["colleague"]] == ("rm2", "open", "rm2")
        reminders = s.execute(
            select(Reminder.entity_id, Reminder.recipient_staff_id, Reminder.status,
                   Reminder.digest_id).order_by(Reminder.id)
        ).tuples().all()  # fmt: skip
        assert reminders == [
            ("c1", "rm1", "cancelled", None),
            ("h1", "rm1", "cancelled", None),
            ("c6", "rm9", "pending", None),
            ("c1", "rm2", "pending", None),
            ("h1", "rm2", "pending", None),
        ]
        authors = dict(s.execute(select(Interaction.id, Interaction.staff_id)).tuples().all())
        assert authors == authors_before  # notes keep their authors
        queued = s.scalars(select(IndexOutbox.note_id).order_by(IndexOutbox.id)).all()
        assert len(queued) == queued_before + 3  # every note of the moved customers
        audit = s.scalars(select(AuditLog).where(AuditLog.intent == "staff_reassign")).one()
        assert (audit.customer_ids, audit.sender_id, audit.channel) == (
            "c1,c4,c5", "os:tester", "cli",
        )  # fmt: skip
        assert audit.detail == "customers=3 followups=1 reminders=2"


def test_reassign_only_the_listed_customers(store: Store) -> None:
    plant(store)
    with store.db.write() as s:
        done = reassign(s, from_staff="rm1", to_staff="rm3", now=NOW, customer_ids=["c5"])
    assert done.customers == ["c5"] and (done.followups, done.reminders) == (0, 0)
    assert (owners(store)["c1"], owners(store)["c5"]) == ("rm1", "rm3")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"to_staff": "rm1"}, "rm1 and rm1 are the same staff member"),
        ({"to_staff": "gone"}, "gone is deactivated"),
        ({"to_staff": "admin"}, "admin is admin; customers go to one of rm, team_lead"),
        ({"to_staff": "nobody"}, "unknown staff id 'nobody'"),
        (
            {"to_staff": "rm2", "customer_ids": ["c1", "c3", "c404"]},
            "2 listed customers are not rm1's: c3: owned by rm2; c404: unknown customer",
        ),
    ],
)
def test_bad_requests_write_nothing(store: Store, args: dict[str, object], message: str) -> None:
    plant(store)
    before = owners(store)
    with pytest.raises(StoreError, match=message), store.db.write() as s:
        reassign(s, from_staff="rm1", now=NOW, **args)  # type: ignore[arg-type]
    assert owners(store) == before


def test_cli_deactivate_warns_then_reassign_hands_over(settings: Settings, tmp_path: Path) -> None:
    store = open_store(settings)
    build_world(store)
    store.close()
    env = env_for(settings)
    left = runner.invoke(app, ["staff", "deactivate", "rm1"], env=env)
    assert left.exit_code == 0, left.output
    assert left.stderr.strip() == (
        "warning: rm1 still owns 3 customers, and nobody gets their reminders; "
        "move them with: bankbot staff reassign rm1 NEW_OWNER"
    )
    listed = tmp_path / "move.csv"
    listed.write_text("customer_id,name\nc1,张伟\n\nc4,王芳\n", encoding="utf-8-sig")
    moved = runner.invoke(
        app, ["staff", "reassign", "rm1", "rm2", "--customers", str(listed)], env=env
    )
    assert moved.exit_code == 0, moved.output
    assert moved.stdout.startswith("moved 2 customers from rm1 to rm2")
    ask = ["ask", "--as", "rm2", "--now", "2026-11-28T10:00:00", "--json", "/c 张伟"]
    shown = json.loads(runner.invoke(app, ask, env=env).stdout)["events"][0]
    assert shown == {"type": "customer_shown", "customer_id": "c1", "field": None}
    again = runner.invoke(app, ["staff", "reassign", "rm1", "gone"], env=env)
    assert again.exit_code == 1 and again.stderr.startswith("error: gone is deactivated")
    rest = runner.invoke(app, ["staff", "reassign", "rm1", "rm3"], env=env)
    assert rest.stdout.startswith("moved 1 customers from rm1 to rm3")
    quiet = runner.invoke(app, ["staff", "deactivate", "rm1"], env=env)
    assert quiet.exit_code == 0 and quiet.stderr == ""
