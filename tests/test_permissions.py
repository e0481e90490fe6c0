"""The permission model as a table of role x customer, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm_store.models import CustomerTeam, Staff
from crm_store.permissions import can_see, can_write, load_actor, visible_customer_ids
from crm_store.store import Store
from tests.world import TODAY, build_world

ALL = {"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"}
EXPECTED = {
    "rm1": {"c1", "c4", "c5", "c8"},  # own + a grant still in force
    "rm2": {"c3", "c8"},  # its grant on c1 ended yesterday
    "rm3": {"c2", "c4"},  # own + an open-ended grant
    "rm9": {"c6"},
    "lead1": {"c1", "c3", "c4", "c5", "c7", "c8"},  # every customer of team T1's members
    "head2": ALL - {"c6"},  # B2 and its sub-branch B3
    "head1": ALL - {"c6"},  # B1 -> B2 -> B3
    "head9": {"c6"},
    "comp": ALL,  # read-only, everything
    "admin": set(),  # manages data, sees no customer through chat
    "gone": set(),  # left the bank
}


@pytest.fixture
def world(store: Store) -> Store:
    build_world(store)
    return store


@pytest.mark.parametrize("staff_id", sorted(EXPECTED))
def test_visible_customers_by_role(world: Store, staff_id: str) -> None:
    with world.db.read() as s:
        actor = load_actor(s, staff_id)
        assert visible_customer_ids(s, actor, TODAY) == EXPECTED[staff_id]
        for cid in ALL:
            assert can_see(s, actor, cid, TODAY) is (cid in EXPECTED[staff_id])


def test_unknown_staff_sees_nothing(world: Store) -> None:
    with world.db.read() as s:
        assert load_actor(s, "nobody") is None
        assert visible_customer_ids(s, None, TODAY) == set()


def test_compliance_reads_but_never_writes(world: Store) -> None:
    with world.db.read() as s:
        comp, rm1 = load_actor(s, "comp"), load_actor(s, "rm1")
        assert can_see(s, comp, "c1", TODAY) and not can_write(s, comp, "c1", TODAY)
        assert can_write(s, rm1, "c1", TODAY) and not can_write(s, rm1, "c2", TODAY)


def test_grant_holds_through_its_last_day_only(world: Store) -> None:
    last_day = date(2026, 12, 31)
    with world.db.read() as s:
        rm1 = load_actor(s, "rm1")
        assert can_see(s, rm1, "c8", last_day)
        assert not can_see(s, rm1, "c8", last_day + timedelta(days=1))


def test_revocation_takes_effect_on_the_next_request(world: Store) -> None:
    with world.db.write() as s:
        s.get(Staff, "rm1").active = False  # type: ignore[union-attr]
        s.query(CustomerTeam).filter_by(staff_id="rm3").delete()
    with world.db.read() as s:
        assert visible_customer_ids(s, load_actor(s, "rm1"), TODAY) == set()
        assert visible_customer_ids(s, load_actor(s, "rm3"), TODAY) == {"c2"}


def test_team_move_changes_team_lead_scope(world: Store) -> None:
    with world.db.write() as s:
        s.get(Staff, "rm2").team_id = "T2"  # type: ignore[union-attr]
    with world.db.read() as s:
        assert visible_customer_ids(s, load_actor(s, "lead1"), TODAY) == {"c1", "c4", "c5", "c7"}
