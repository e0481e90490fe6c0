"""A customer named by customer number, as the core system prints it ("查一下C20001"): looked
up, asked about and noted like a customer named by name, and only by whoever may see them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm_store.store import Store
from handlers.texts import t
from tests.assistant import Assistant
from tests.world import build_world, customer

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def bot(store: Store) -> Assistant:
    build_world(store)
    with store.db.write() as session:  # rm1's, in the core system's numbering
        session.add(
            customer(store.cipher, "C20001", "于伟", "rm1", "B2", "regular", "15300002252", None)
        )
    return Assistant(store, NOW)


@pytest.mark.parametrize("text", ["查一下C20001", "C20001", "c20001的情况", "客户号C20001"])
def test_a_customer_number_shows_that_customer(bot: Assistant, text: str) -> None:
    said = bot.say("rm1", text)
    assert said.event("customer_shown")["customer_id"] == "C20001"
    assert "于伟" in said.text and "153****2252" in said.text


def test_a_number_the_asker_may_not_see_is_not_found_like_a_name(bot: Assistant) -> None:
    hidden = bot.say("rm9", "查一下C20001")
    missing = bot.say("rm9", "查一下C99999")
    assert hidden.types() == missing.types() == ["not_found"]
    assert "于伟" not in hidden.text and hidden.text == missing.text


def test_a_field_and_a_note_by_customer_number(bot: Assistant) -> None:
    phone = bot.say("rm1", "C20001的电话")
    assert "153****2252" in phone.text and "15300002252" not in phone.text
    noted = bot.say("rm1", "刚和C20001通了电话，他想了解国债，下周二回访")
    assert noted.event("note_recorded")["customer_id"] == "C20001"
    assert "于伟" in noted.text
    refused = bot.say("rm9", "刚和C20001通了电话，他想了解国债")
    assert "note_recorded" not in refused.types() and "于伟" not in refused.text
    nobody = bot.say("rm9", "刚和C99999通了电话，他想了解国债")
    assert refused.text == nobody.text == t("not_found", "zh")  # not "whose note is this?"


def test_amounts_and_phone_tails_are_not_customer_numbers(bot: Assistant) -> None:
    assert bot.say("rm1", "尾号5678的客户").event("customer_shown")["customer_id"] == "c1"
    assert "customer_shown" not in bot.say("rm1", "资产超过50000的客户").types()
