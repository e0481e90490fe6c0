"""The reply guard: masks numbers, redacts hidden names, blocks out-of-scope disclosures."""

from __future__ import annotations

import pytest

from crm_store.permissions import load_actor
from crm_store.store import Store
from handlers.contracts import Event, Reply
from handlers.guard import DisclosureBlocked, guard_reply
from tests.world import TODAY, build_world


@pytest.fixture
def world(store: Store) -> Store:
    build_world(store)
    return store


def test_masks_and_redacts_but_keeps_visible_names(world: Store) -> None:
    with world.db.read() as s:
        rm1 = load_actor(s, "rm1")
        reply = Reply("张伟 13812345678 提到 李雷 和 韩梅梅，卡号6222021234567890123")
        guarded = guard_reply(s, rm1, TODAY, reply)
    assert guarded.text == "张伟 138****5678 提到 *** 和 ***，卡号6222***********0123"


def test_shared_name_is_kept_when_one_holder_is_visible(world: Store) -> None:
    with world.db.read() as s:
        rm3 = load_actor(s, "rm3")  # sees 张伟 c2 and 王芳 c4, not 刘洋
        text = guard_reply(s, rm3, TODAY, Reply("张伟、王芳、刘洋")).text
    assert text == "张伟、王芳、***"


def test_events_naming_hidden_customers_block_the_reply(world: Store) -> None:
    with world.db.read() as s:
        rm1 = load_actor(s, "rm1")
        leaked = Reply("ok", (Event("customer_shown", {"customer_id": "c6"}),))
        with pytest.raises(DisclosureBlocked):
            guard_reply(s, rm1, TODAY, leaked)


def test_links_and_images_are_stripped_unless_allow_listed(world: Store) -> None:
    with world.db.read() as s:
        rm1 = load_actor(s, "rm1")
        reply = Reply("张伟 ![x](http://evil.example/p.png) [这里](http://evil.example) ok")
        assert guard_reply(s, rm1, TODAY, reply).text == "张伟  这里 ok"
        kept = Reply("[手册](https://docs.bank.example.com/a)")
        allowed = frozenset({"bank.example.com"})
        assert guard_reply(s, rm1, TODAY, kept, allowed).text == kept.text
