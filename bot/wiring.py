"""Start-up wiring: the channels a deployment has, handed to the rooms that need them."""

from __future__ import annotations

from functools import partial

from bot.channels import CONSOLE, DELIVERY_LOG, ChannelRegistry, ConsoleDeliveryChannel
from bot.digest_text import digest_text
from crm_store.store import Store
from handlers.contracts import Channel
from scheduler.delivery import Formatter

# A staff member's digest goes to the first of these they are bound on.
CHANNEL_PREFERENCE = ("wecom", "telegram", CONSOLE)


def delivery_channels(store: Store) -> dict[str, Channel]:
    """The channels reminders can go out on; the console log until platforms are configured."""
    return {CONSOLE: ConsoleDeliveryChannel(store.settings.home / DELIVERY_LOG)}


def build_router(store: Store, channels: dict[str, Channel] | None = None) -> ChannelRegistry:
    """The registry that routes each staff member to their private channel."""
    return ChannelRegistry(store.db, channels or delivery_channels(store), CHANNEL_PREFERENCE)


def build_formatter(store: Store) -> Formatter:
    """The digest formatter in the deployment's language."""
    return partial(digest_text, lang=store.settings.bankbot_lang)
