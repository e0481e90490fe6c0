"""`bankbot serve --telegram-polling`: getUpdates from the fake server feeds the same inbox."""

from __future__ import annotations

import asyncio

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.telegram_bot import TelegramAdapter
from crm_store.store import Store
from tests.telegram.conftest import USER, inbox_rows, wait_processed
from tests.telegram.fake_telegram import FakeTelegram, payload
from tests.world import NOW


def adapter_and_inbox(store: Store) -> tuple[TelegramAdapter, Inbox]:
    """A polling adapter wired to a real inbox and dispatcher."""
    adapter = TelegramAdapter.from_settings(store, polling=True)
    inbox = Inbox(store, Dispatcher(store, clock=lambda: NOW), {adapter.name: adapter.channel})
    assert adapter.routes(inbox) == []  # polling and the webhook exclude each other
    return adapter, inbox


def test_poll_once_fetches_updates_and_feeds_the_inbox(
    world: Store, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.queue_update(payload("private-text"))  # "张伟最近怎么样" from user 1001
    adapter, inbox = adapter_and_inbox(world)

    async def run() -> tuple[int, int]:
        await adapter.application.initialize()
        try:
            first = await adapter.poll_once(inbox)
            second = await adapter.poll_once(inbox)  # the offset confirms the first batch
            await asyncio.gather(*inbox._tasks)
        finally:
            await adapter.stop()
        return first, second

    assert asyncio.run(run()) == (1, 0)
    assert inbox_rows(world) == 1
    offsets = [c.params.get("offset") for c in fake_telegram.calls("getUpdates")]
    assert offsets[1] == str(915031001 + 1)
    [reply] = fake_telegram.calls("sendMessage")
    assert int(reply.params["chat_id"]) == USER
    assert reply.params["text"].startswith("张伟｜VIP")


def test_polling_loop_runs_from_start_to_stop(world: Store, fake_telegram: FakeTelegram) -> None:
    adapter, _ = adapter_and_inbox(world)  # start() polls into the inbox routes() was given

    async def run() -> None:
        await adapter.start()
        try:
            fake_telegram.queue_update(payload("private-text"))
            for _ in range(3000):  # up to 30 s on a loaded machine
                if fake_telegram.calls("sendMessage"):
                    break
                await asyncio.sleep(0.01)
            assert adapter.ready()
        finally:
            await adapter.stop()

    asyncio.run(run())
    wait_processed(world, 1)
    assert fake_telegram.calls("deleteWebhook"), "a webhook would make getUpdates fail"
    assert inbox_rows(world) == 1
    assert len(fake_telegram.calls("sendMessage")) == 1
